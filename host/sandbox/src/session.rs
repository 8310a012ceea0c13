//! Persistent shell sessions (`--shell persistent`): the protocol every
//! backend speaks with its long-lived `bash`.
//!
//! A session is one `bash` per trajectory that reads its script from the
//! request stream through a descriptor of its own (it opens the stream as a
//! file: [`ARGS`] locally, `/dev/fd/3` in a container); its stdin is
//! `/dev/null` from the [`preamble`] on, so a command that reads stdin gets
//! end-of-file at once and cannot eat the next request.
//! Each request is one line ([`request`]): the command, quoted as `$'...'`,
//! run by `eval` in the session shell itself (so builtins start no process,
//! and `cd`, variables and functions carry over), then two functions the
//! session defined at its start ([`preamble`]) put stdout and stderr back on
//! the session's stream (a command may have redirected them with `exec`) and
//! write the end marker with the exit status and a fresh nonce
//! ([`super::marker`]). stdout and stderr share one stream, so the output
//! keeps the order it was written in, and the marker needs no newline before
//! it.
//!
//! What the protocol leaves to the backends: a timeout kills the whole
//! session (its process group: `eval` runs in the shell itself, so nothing
//! smaller holds the command) and the next command starts a new one; so does
//! a command that ends the shell (`exit`, `exec`, `set -e` and a failure, a
//! `kill` of the shell). Either is said in the observation.
//! Output that background processes write between commands is dropped
//! before the next request; while a command runs, it is part of that
//! command's output, as in a terminal.

use std::time::Duration;

use super::marker::{MARKER, MarkerScan};
use super::output::HeadTail;
use super::{ExecOutput, OutputPolicy};

/// The session's stream is kept on this descriptor, to put stdout and
/// stderr back after every command.
const STREAM_FD: u8 = 19;

/// `bash`'s arguments for a session whose request stream is its stdin: it
/// reads the script by opening the stream as a file, on a descriptor of its
/// own, so that the preamble can put stdin on `/dev/null`. (One `bash`, not a
/// `bash -c` that moves the descriptors and execs another: each start of
/// `bash` costs ~1.3 ms of CPU, once per trajectory.)
pub(crate) const ARGS: [&str; 3] = ["--norc", "--noprofile", "/dev/fd/0"];

/// The first lines a session reads: stdin `/dev/null` and fd 3 closed (bash
/// reads the script through its own descriptor, opened from one of them),
/// the stream's copy on [`STREAM_FD`], no tracing flag to carry into the
/// first command, and the two functions every request ends with.
///
/// They are functions, not text in each request, because bash reads a script
/// from a pipe one byte per `read(2)` (it must not read past the line it
/// runs): each byte of a request costs the shell a system call, and the
/// statements below, inline, were ~170 of them per command.
/// - `__plinth_status` keeps the command's status and turns `set -x` off
///   (to be turned back on inside the next `eval`); it is called with its
///   stderr on `/dev/null`, so neither the call nor its body is traced.
/// - `__plinth_end` puts stdout and stderr back on the stream (a command may
///   have redirected them with `exec`, or shadowed `exec` with a function)
///   and writes the end marker. It is not called inside a redirected group:
///   bash would undo its `exec` redirections when the group ends.
pub(crate) fn preamble() -> String {
    format!(
        "exec 3<&- </dev/null {STREAM_FD}>&1\n__plinth_x=\n\
         __plinth_status() {{ __plinth_s=$? __plinth_x=; [[ $- == *x* ]] && __plinth_x='set -x;'; set +x; }}\n\
         __plinth_end() {{ builtin unset -f exec; exec >&{STREAM_FD} 2>&{STREAM_FD} </dev/null; \
         builtin printf '\\036{MARKER}%s:%d\\n' \"$1\" \"$__plinth_s\"; }}\n"
    )
}

/// A line that makes a new session answer with [`MARKER`], `nonce` and
/// `ready`: a backend that cannot tell whether `bash` is there asks it.
pub(crate) fn ready(nonce: &str) -> String {
    format!("builtin printf '\\036{MARKER}%s:ready\\n' {nonce}\n")
}

/// One command as a request line. `set -x` left on by a command is turned
/// off around plinth's own statements and back on inside the next `eval`, so
/// the trace shows the model's commands only.
pub fn request(command: &str, nonce: &str) -> String {
    let mut line = String::with_capacity(command.len() + 96);
    line.push_str("builtin eval \"$__plinth_x\"");
    quote_into(command, &mut line);
    line.push_str("; { __plinth_status; } 2>/dev/null; __plinth_end ");
    line.push_str(nonce);
    line.push('\n');
    line
}

/// Appends `text` as a bash `$'...'` word. NUL bytes are dropped: no shell
/// string can hold one (and `bash -c` refuses them too).
fn quote_into(text: &str, out: &mut String) {
    out.push_str("$'");
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '\0' => {}
            c if (c as u32) < 0x20 || c == '\x7f' => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('\'');
}

/// Scans a session's stream for the end of one command.
pub(crate) struct Reply {
    scan: MarkerScan,
    pub(crate) captured: HeadTail,
}

impl Reply {
    pub fn new(nonce: &str, policy: &OutputPolicy) -> Self {
        Self {
            scan: MarkerScan::new(nonce),
            captured: HeadTail::new(policy.capture_limit()),
        }
    }

    /// Feeds a chunk of the stream; the command's exit status once its
    /// marker is in.
    pub fn feed(&mut self, bytes: &[u8]) -> Option<i32> {
        self.scan
            .feed(bytes, &mut self.captured)
            .map(|value| value.parse().unwrap_or(-1))
    }

    /// What the model sees. `end` says why the session is gone, if it is.
    pub(crate) fn observation(
        mut self,
        policy: &OutputPolicy,
        exit_code: i32,
        end: Option<SessionEnd>,
    ) -> ExecOutput {
        self.scan.finish(&mut self.captured);
        let (bytes, dropped) = self.captured.finish();
        let (mut output, truncated) = policy.render(&bytes, dropped);
        let timed_out = matches!(end, Some(SessionEnd::TimedOut(_)));
        let exit_code = if timed_out { 124 } else { exit_code };
        if let Some(end) = end {
            output.push_str(&end.note());
        }
        ExecOutput {
            exit_code,
            output,
            truncated,
            timed_out,
        }
    }
}

/// Why a command left no session behind.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum SessionEnd {
    /// The command ran past its timeout: the session was killed.
    TimedOut(Duration),
    /// The shell ended while the command ran (`exit`, `exec`, a signal).
    Exited,
}

impl SessionEnd {
    fn note(self) -> String {
        const RESET: &str = "the next command starts a new shell session (working directory, \
                             variables and functions are reset)";
        match self {
            Self::TimedOut(timeout) => format!(
                "\n[command timed out after {}s and was killed with its shell session; {RESET}]",
                timeout.as_secs_f64()
            ),
            Self::Exited => format!("\n[the shell session ended; {RESET}]"),
        }
    }
}

/// Added to the output of a command that found its session gone (it ended
/// after the previous command, e.g. killed by a background process) and ran
/// in a new one.
pub(crate) const RESTARTED: &str =
    "\n[the previous shell session had ended; this command ran in a new one]";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_survives_every_awkward_character() {
        let mut out = String::new();
        quote_into("a'b\\c\n\t\x01\0é$HOME`x`", &mut out);
        assert_eq!(out, "$'a\\'b\\\\c\\x0a\\x09\\x01é$HOME`x`'");
    }

    #[test]
    fn a_request_is_one_line() {
        let line = request("echo 1\necho 2", "n0nce");
        assert_eq!(line.matches('\n').count(), 1);
        assert!(line.ends_with("; __plinth_end n0nce\n"));
    }
}
