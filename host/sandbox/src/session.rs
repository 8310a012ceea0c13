//! Persistent shell sessions (`--shell persistent`): the protocol every
//! backend speaks with its long-lived `bash`.
//!
//! A session is one `bash -c` per trajectory whose program ([`script`]) is
//! a loop, on its first and only line, that reads requests from the request
//! stream (kept on [`REQUEST_FD`]; stdin is `/dev/null`, so a command that
//! reads stdin gets end-of-file at once and cannot eat the next request) and
//! runs each with `eval` in the shell itself (so builtins start no process,
//! and `cd`, variables and functions carry over). A request ([`request`]) is
//! the nonce, a space and the command, ended by a NUL byte: no shell string
//! holds a NUL, so no command can end its request early, and `read -d ''`
//! takes the command as written, with no quoting to undo.
//!
//! Why `bash -c` and a loop on line 1: bash names itself in its messages
//! after the script it reads (`/dev/fd/0: ...`) and counts lines from the
//! start of that script, so a session that read its requests as a script
//! said `/dev/fd/0: line 17: foo: command not found` where a terminal or
//! `bash -c` says `bash: line 1: foo: command not found`. Under `bash -c ...
//! bash`, `$0` is `bash` and `BASH_SOURCE` is empty, as for a fresh command,
//! and code that `eval` runs from line 1 is numbered from 1: each command's
//! messages, `$LINENO` and `$0` read as they do under `bash -c`. (Assigning
//! `LINENO` cannot do it: bash restores the line number after every simple
//! command.) What still differs: a syntax error is reported by `eval`
//! (`bash: eval: line 1: ...` where `bash -c` says `bash: -c: line 1: ...`),
//! a `set -x` trace is one `+` deeper (`++ cmd`, one `eval` down), and a
//! `break` or `continue` outside any loop of the command ends the command
//! there with status 0 (under `bash -c` it is an error and the command goes
//! on; a `break 2` there leaves the session's loops too, which ends the
//! shell as `exit` does).
//!
//! After the command, the loop keeps its status, turns `set -x` off (to be
//! turned back on inside the next `eval`, so the trace shows the model's
//! commands only), puts stdout, stderr and stdin back (a command may have
//! redirected them with `exec`, or shadowed `exec` with a function) and
//! writes the end marker with the exit status and the request's nonce
//! ([`super::marker`]). stdout and stderr share one stream, so the output
//! keeps the order it was written in, and the marker needs no newline before
//! it. The plumbing is parsed once, with the loop: per request bash parses
//! only the command.
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

/// The request stream is moved to this descriptor, off stdin.
const REQUEST_FD: u8 = 18;
/// The session's stream is kept on this descriptor, to put stdout and
/// stderr back after every command.
const STREAM_FD: u8 = 19;
/// `/dev/null`, kept open to put stdin back (a `dup2`, not an `open`, per
/// command).
const NULL_FD: u8 = 17;

/// The program name the session shell runs under (its `$0`), as a fresh
/// `bash -c` command's is.
pub(crate) const NAME: &str = "bash";

/// The session shell's `bash -c` program, one line (see the module's
/// documentation). It expects the request stream on stdin and the output
/// stream on stdout and stderr.
///
/// The loop writes the end marker in its condition, so that a command that
/// leaves the loop's body early (`continue`) still gets one; the outer loop
/// takes the inner one up again after a `break`, and ends the shell at the
/// end of the request stream. Everything it calls is a builtin or a keyword
/// called as such, so functions a command defines cannot stand in for it
/// (`exec` is the exception that `unset -f` handles: `builtin exec` would
/// not keep its redirections).
pub(crate) fn script() -> String {
    format!(
        "exec {REQUEST_FD}<&0 </dev/null {STREAM_FD}>&1 {NULL_FD}</dev/null; \
         builtin unset BASH_EXECUTION_STRING; __plinth_x= __plinth_n= __plinth_s=0; \
         while ((1)); do \
         while [[ -z $__plinth_n ]] || {{ builtin unset -f exec; \
         exec >&{STREAM_FD} 2>&{STREAM_FD} <&{NULL_FD}; \
         builtin printf '\\036{MARKER}%s:%d\\n' \"$__plinth_n\" \"$__plinth_s\"; __plinth_n=; }}; \
         IFS= builtin read -r -d '' -u {REQUEST_FD} __plinth_l; do \
         __plinth_n=${{__plinth_l%% *}} __plinth_s=0; \
         builtin eval \"$__plinth_x${{__plinth_l#* }}\"; \
         {{ __plinth_s=$? __plinth_x=; [[ $- == *x* ]] && __plinth_x='set -x;'; builtin set +x; }} 2>&{NULL_FD}; \
         done; [[ -n $__plinth_n ]] || builtin exit; done"
    )
}

/// `bash`'s options before [`script`] and [`NAME`]: no startup files (the
/// environment is the sandbox's, as for a fresh command).
pub(crate) const FLAGS: [&str; 3] = ["--norc", "--noprofile", "-c"];

/// One command as a request: the nonce, a space, the command, a NUL. NUL
/// bytes in the command are dropped: no shell string can hold one (and
/// `bash -c` refuses them too). An empty command answers with status 0: a
/// backend that cannot tell whether `bash` is there asks it so.
pub fn request(command: &str, nonce: &str) -> String {
    let mut line = String::with_capacity(nonce.len() + command.len() + 2);
    line.push_str(nonce);
    line.push(' ');
    line.extend(command.chars().filter(|&c| c != '\0'));
    line.push('\0');
    line
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
    fn a_request_is_the_nonce_and_the_command_as_written() {
        let line = request("echo 'a' \\\0\nb", "n0nce");
        assert_eq!(line, "n0nce echo 'a' \\\nb\0");
    }

    #[test]
    fn the_script_is_one_line() {
        assert!(!script().contains('\n'));
    }
}
