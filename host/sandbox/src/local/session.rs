//! The local sandbox's persistent shell session: one `bash` speaking
//! [`crate::session`]'s protocol over two pipes (requests in, the
//! merged stdout and stderr out), in a process group of its own.

use std::os::fd::OwnedFd;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::unix::pipe::Receiver;
use tokio::process::{Child, ChildStdin, Command};
use tokio::time::Instant;

use super::{DRAIN_AFTER_EXIT, kill_group};
use crate::marker::nonce;
use crate::session::{self, Reply, SessionEnd};
use crate::{ExecOutput, OutputPolicy, SandboxError};

pub(super) struct BashSession {
    child: Child,
    input: ChildStdin,
    output: Receiver,
    pgid: i32,
    buf: Vec<u8>,
}

impl BashSession {
    /// Starts the session shell from `bash`, the sandbox's command (its
    /// directory, environment and process group set).
    pub(super) async fn start(mut bash: Command) -> Result<Self, SandboxError> {
        let failed = |what: &str, e: std::io::Error| {
            SandboxError::Other(format!("cannot start a shell session: {what}: {e}"))
        };
        let (reader, writer) = std::io::pipe().map_err(|e| failed("pipe", e))?;
        let writer2 = writer.try_clone().map_err(|e| failed("pipe", e))?;
        bash.args(session::FLAGS)
            .arg(session::script())
            .arg(session::NAME)
            .stdin(Stdio::piped())
            .stdout(writer)
            .stderr(writer2);
        let mut child = bash.spawn().map_err(|e| failed("bash", e))?;
        // The command holds our copies of the pipe's write end: without them
        // the read side sees end-of-file when the shell's processes are gone.
        drop(bash);
        let pgid = child
            .id()
            .ok_or_else(|| SandboxError::Other("the shell session exited at once".into()))?
            as i32;
        let input = child.stdin.take().expect("stdin was asked to be piped");
        let output =
            Receiver::from_owned_fd(OwnedFd::from(reader)).map_err(|e| failed("pipe", e))?;
        Ok(Self {
            child,
            input,
            output,
            pgid,
            buf: Vec::with_capacity(super::READ_CHUNK),
        })
    }

    /// Whether the shell is still there to take a command.
    pub(super) fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Runs one command; returns what the model sees and whether the
    /// session is still usable (false after a timeout or when the shell
    /// ended: it is then dropped, its process group killed).
    pub(super) async fn run(
        &mut self,
        command: &str,
        timeout: Duration,
        policy: &OutputPolicy,
    ) -> Result<(ExecOutput, bool), SandboxError> {
        // What background processes wrote since the last command is no
        // command's output.
        while let Ok(n) = self.output.try_read_buf(&mut self.buf) {
            self.buf.clear();
            if n == 0 {
                break;
            }
        }
        let nonce = nonce();
        let mut reply = Reply::new(&nonce, policy);
        let deadline = Instant::now() + timeout;
        // A shell that is gone cannot read: it ends below, with its status.
        let _ = self
            .input
            .write_all(session::request(command, &nonce).as_bytes())
            .await;
        let mut exited = None;
        let mut stop_at = deadline;
        loop {
            tokio::select! {
                read = self.output.read_buf(&mut self.buf) => match read {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {
                        let code = reply.feed(&self.buf);
                        self.buf.clear();
                        if let Some(code) = code {
                            return Ok((reply.observation(policy, code, None), true));
                        }
                    }
                },
                status = self.child.wait(), if exited.is_none() => {
                    exited = Some(status);
                    // Background processes may hold the pipe: read what is
                    // there, not what they write later.
                    stop_at = Instant::now() + DRAIN_AFTER_EXIT;
                }
                _ = tokio::time::sleep_until(stop_at) => break,
            }
        }
        let end = if exited.is_none() && Instant::now() >= deadline {
            SessionEnd::TimedOut(timeout)
        } else {
            SessionEnd::Exited
        };
        if exited.is_none() {
            kill_group(self.pgid);
        }
        let status = match exited {
            Some(status) => status,
            None => self.child.wait().await,
        }
        .map_err(|e| SandboxError::Other(format!("waiting for the shell session failed: {e}")))?;
        let code = status.code().unwrap_or_else(|| {
            use std::os::unix::process::ExitStatusExt;
            128 + status.signal().unwrap_or(0)
        });
        Ok((reply.observation(policy, code, Some(end)), false))
    }
}

impl Drop for BashSession {
    /// Everything the session started that is still in its group goes with
    /// it (a process that made a group of its own escapes, as with `bash -c`).
    fn drop(&mut self) {
        kill_group(self.pgid);
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::{ExecOutput, LocalConfig, LocalSandbox, Sandbox};

    fn sandbox() -> LocalSandbox {
        LocalSandbox::new(None, LocalConfig::default()).unwrap()
    }

    async fn run(sb: &LocalSandbox, command: &str) -> ExecOutput {
        sb.exec_in_session(command, None).await.unwrap()
    }

    async fn run_for(sb: &LocalSandbox, command: &str, timeout_ms: u64) -> ExecOutput {
        let timeout = Some(Duration::from_millis(timeout_ms));
        sb.exec_in_session(command, timeout).await.unwrap()
    }

    #[tokio::test]
    async fn state_carries_from_one_command_to_the_next() {
        let sb = sandbox();
        let out = run(
            &sb,
            "mkdir sub && cd sub; export V=1; W=2; f() { echo \"f:$1\"; }",
        )
        .await;
        assert_eq!((out.output.as_str(), out.exit_code), ("", 0));
        let out = run(&sb, "pwd; echo \"$V$W\"; f x; bash -c 'echo child:$V'").await;
        assert_eq!(out.output, format!("{}/sub\n12\nf:x\nchild:1\n", sb.cwd()));
        // The fresh path is untouched by the session.
        let fresh = sb
            .exec(crate::ExecRequest::new("pwd; echo \"[$V]\""))
            .await
            .unwrap();
        assert_eq!(fresh.output, format!("{}\n[]\n", sb.cwd()));
    }

    #[tokio::test]
    async fn exit_codes_order_and_awkward_output() {
        let sb = sandbox();
        let out = run(&sb, "echo one; echo two >&2; echo three; false").await;
        assert_eq!(
            (out.output.as_str(), out.exit_code),
            ("one\ntwo\nthree\n", 1)
        );
        let out = run(&sb, "printf 'no newline'").await;
        assert_eq!((out.output.as_str(), out.exit_code), ("no newline", 0));
        let out = run(&sb, "printf 'a\\000b\\377c'; (exit 7)").await;
        assert_eq!(out.output, "a\0b\u{fffd}c");
        assert_eq!(out.exit_code, 7);
        // Quotes, backslashes, newlines and a syntax error leave the
        // session usable.
        let out = run(&sb, "echo 'it'\"'\"'s' \\\\ \"$((1+1))\"\necho second").await;
        assert_eq!(out.output, "it's \\ 2\nsecond\n");
        let out = run(&sb, "echo 'unterminated").await;
        assert_eq!(out.exit_code, 2);
        assert!(out.output.contains("unexpected EOF"), "{}", out.output);
        assert_eq!(run(&sb, "echo ok").await.output, "ok\n");
    }

    #[tokio::test]
    async fn stdin_is_empty_and_cannot_eat_the_next_request() {
        let sb = sandbox();
        let out = run(&sb, "cat; read x; echo \"read=$? x=[$x]\"").await;
        assert_eq!(out.output, "read=1 x=[]\n");
        let out = run(&sb, "exec 0</etc/hostname; echo moved").await;
        assert_eq!(out.output, "moved\n");
        assert_eq!(run(&sb, "read x; echo $?").await.output, "1\n");
    }

    #[tokio::test]
    async fn redirections_and_tracing_do_not_hide_the_marker() {
        let sb = sandbox();
        let out = run(&sb, "exec >/dev/null 2>&1; echo hidden").await;
        assert_eq!((out.output.as_str(), out.exit_code), ("", 0));
        assert_eq!(run(&sb, "echo visible").await.output, "visible\n");
        // `eval` adds a level to the trace's prefix.
        let out = run(&sb, "set -x; echo traced").await;
        assert_eq!(out.output, "++ echo traced\ntraced\n");
        // Still on, and plinth's own statements are not in the trace.
        assert_eq!(
            run(&sb, "echo again").await.output,
            "++ echo again\nagain\n"
        );
        assert_eq!(
            run(&sb, "set +x; echo off").await.output,
            "++ set +x\noff\n"
        );
        let out = run(&sb, "exec() { echo shadowed; }; echo defined").await;
        assert_eq!(out.output, "defined\n");
        assert_eq!(run(&sb, "echo fine").await.output, "fine\n");
    }

    #[tokio::test]
    async fn a_printed_marker_of_another_nonce_is_just_output() {
        let sb = sandbox();
        let out = run(
            &sb,
            "printf '\\036plinth-exit-0123456789abcdef:0\\n'; echo after; (exit 3)",
        )
        .await;
        assert_eq!(out.output, "\u{1e}plinth-exit-0123456789abcdef:0\nafter\n");
        assert_eq!(out.exit_code, 3);
    }

    #[tokio::test]
    async fn background_processes_neither_block_nor_leak() {
        let sb = sandbox();
        let started = std::time::Instant::now();
        let out = run(&sb, "(sleep 0.3; echo late) & echo started").await;
        assert_eq!(out.output, "started\n");
        assert!(started.elapsed() < Duration::from_millis(250));
        tokio::time::sleep(Duration::from_millis(500)).await;
        // `late` was written between commands: no command's output.
        assert_eq!(run(&sb, "echo next").await.output, "next\n");
        // `$!` and `wait` work across commands.
        run(&sb, "sleep 0.2 & P=$!").await;
        let out = run(&sb, "wait $P; echo \"waited $?\"").await;
        assert_eq!(out.output, "waited 0\n");
    }

    #[tokio::test]
    async fn a_timeout_kills_the_session_and_the_next_command_gets_a_new_one() {
        let sb = sandbox();
        run(&sb, "cd /tmp; sleep 30 & echo $! > pid.txt").await;
        let started = std::time::Instant::now();
        let out = run_for(&sb, "echo before; while :; do :; done", 300).await;
        assert!(started.elapsed() < Duration::from_secs(5));
        assert!(out.timed_out);
        assert_eq!(out.exit_code, 124);
        assert!(out.output.starts_with("before\n"), "{}", out.output);
        assert!(out.output.contains("timed out after 0.3s"));
        assert!(out.output.contains("new shell session"));
        // Killed: gone, or a zombie nobody has reaped yet (init need not reap).
        let out = run(
            &sb,
            "pwd; s=$(cut -d' ' -f3 /proc/$(cat /tmp/pid.txt)/stat 2>/dev/null); [ \"${s:-Z}\" = Z ] && echo gone",
        )
        .await;
        assert_eq!(out.output, format!("{}\ngone\n", sb.cwd()));
        assert!(!out.timed_out);
    }

    #[tokio::test]
    async fn exit_and_exec_end_the_session_with_their_status() {
        let sb = sandbox();
        run(&sb, "cd /tmp").await;
        let out = run(&sb, "echo bye; exit 3").await;
        assert_eq!(out.exit_code, 3);
        assert!(out.output.starts_with("bye\n"));
        assert!(out.output.contains("shell session ended"));
        assert_eq!(run(&sb, "pwd").await.output, format!("{}\n", sb.cwd()));
        let out = run(&sb, "exec bash -c 'echo replaced; exit 5'").await;
        assert_eq!(out.exit_code, 5);
        assert!(out.output.starts_with("replaced\n"));
        let out = run(&sb, "set -e; false; echo not-reached").await;
        assert_eq!(out.exit_code, 1);
        assert!(!out.output.contains("not-reached"));
        // A background process holding the output open does not hold the
        // answer up.
        let started = std::time::Instant::now();
        let out = run(&sb, "sleep 5 & exit 4").await;
        assert_eq!(out.exit_code, 4);
        assert!(started.elapsed() < Duration::from_secs(2));
        assert_eq!(run(&sb, "echo alive").await.output, "alive\n");
    }

    #[tokio::test]
    async fn a_session_killed_mid_command_or_between_commands() {
        let sb = sandbox();
        let out = run(&sb, "kill -9 $$").await;
        assert_eq!(out.exit_code, 137);
        assert!(out.output.contains("shell session ended"));
        run(&sb, "(sleep 0.2; kill -9 $$) >/dev/null 2>&1 &").await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        let out = run(&sb, "echo fresh").await;
        assert_eq!(out.exit_code, 0);
        assert!(out.output.starts_with("fresh\n"), "{}", out.output);
        assert!(out.output.contains("previous shell session had ended"));
    }

    #[tokio::test]
    async fn a_busy_session_sends_the_command_to_a_fresh_shell() {
        let sb = std::sync::Arc::new(sandbox());
        run(&sb, "export IN_SESSION=yes").await;
        let busy = {
            let sb = sb.clone();
            tokio::spawn(async move { sb.exec_in_session("sleep 0.5; echo slow", None).await })
        };
        tokio::time::sleep(Duration::from_millis(150)).await;
        let out = run(&sb, "echo \"[$IN_SESSION]\"").await;
        assert_eq!(out.output, "[]\n");
        assert_eq!(busy.await.unwrap().unwrap().output, "slow\n");
    }

    /// bash's own messages read as `bash -c` writes them: the same program
    /// name and line numbers counted from each command's first line, however
    /// many commands the session ran before.
    #[tokio::test]
    async fn bash_speaks_of_itself_as_it_does_under_bash_c() {
        let sb = sandbox();
        let commands = [
            "foo_not_a_command",
            "echo a\nfoo_not_a_command",
            "cd /nonexistent-dir",
            "if true; then\n  echo in\n  foo_not_a_command\nfi",
            "x=$(foo_not_a_command); echo \"[$x]\"",
            "echo $((1/0))",
            "echo \"$0|${BASH_SOURCE[*]}|$LINENO|${FUNCNAME[*]}\"",
            "return 3",
        ];
        for round in 0..2 {
            for command in commands {
                let session = run(&sb, command).await;
                let fresh = sb.exec(crate::ExecRequest::new(command)).await.unwrap();
                assert_eq!(
                    (session.output.as_str(), session.exit_code),
                    (fresh.output.as_str(), fresh.exit_code),
                    "round {round}: {command:?}"
                );
            }
        }
        assert_eq!(
            run(&sb, "foo_not_a_command").await.output,
            "bash: line 1: foo_not_a_command: command not found\n"
        );
    }

    /// The session's loop is not the command's: `break` and `continue`
    /// outside the command's own loops end that command (with status 0, as
    /// bash gives them), not the session, and the next command runs. (A
    /// `break 2` there leaves every loop, the session's too: the shell ends
    /// and says so, as after `exit`.)
    #[tokio::test]
    async fn break_and_continue_outside_a_loop_end_the_command_only() {
        let sb = sandbox();
        run(&sb, "cd /tmp; V=kept").await;
        for word in ["break", "continue", "continue 3"] {
            let out = run(&sb, &format!("echo a; false; {word}; echo b")).await;
            assert_eq!((out.output.as_str(), out.exit_code), ("a\n", 0), "{word}");
            let out = run(
                &sb,
                "for i in 1 2 3; do [ $i = 2 ] && break; echo $i; done; pwd; echo $V",
            )
            .await;
            assert_eq!(out.output, "1\n/tmp\nkept\n", "after {word}");
        }
        let out = run(&sb, "echo a; break 2; echo b").await;
        assert!(out.output.starts_with("a\n"), "{}", out.output);
        assert!(out.output.contains("shell session ended"), "{}", out.output);
        assert_eq!(run(&sb, "pwd").await.output, format!("{}\n", sb.cwd()));
        // The script the session runs is not the command's to see.
        let out = run(&sb, "echo \"[${BASH_EXECUTION_STRING-unset}]\"").await;
        assert_eq!(out.output, "[unset]\n");
    }

    /// The session's CPU per command: `PLINTH_SESSION_COMMANDS` trivial
    /// commands (default 10,000) through one session, then bash's own
    /// `times`. A figure, not a check: `cargo test -p plinth-sandbox --
    /// --ignored --nocapture cpu_per_command`.
    #[tokio::test]
    #[ignore = "a measurement"]
    async fn cpu_per_command() {
        let sb = sandbox();
        let n: u32 = std::env::var("PLINTH_SESSION_COMMANDS")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(10_000);
        let started = std::time::Instant::now();
        for _ in 0..n {
            assert_eq!(run(&sb, "true").await.exit_code, 0);
        }
        let wall = started.elapsed();
        // `times`: the shell's user and system time, then its children's.
        let out = run(&sb, "times").await.output;
        let secs: Vec<f64> = out
            .split_whitespace()
            .take(2)
            .map(|t| {
                let (m, s) = t.trim_end_matches('s').split_once('m').unwrap();
                m.parse::<f64>().unwrap() * 60.0 + s.parse::<f64>().unwrap()
            })
            .collect();
        let per = |s: f64| s / f64::from(n) * 1e6;
        println!(
            "{n} commands: shell CPU {:.1} us/command (user {:.1}, system {:.1}), wall {:.1} us/command",
            per(secs[0] + secs[1]),
            per(secs[0]),
            per(secs[1]),
            wall.as_secs_f64() / f64::from(n) * 1e6
        );
    }

    #[tokio::test]
    async fn dropping_the_sandbox_kills_the_session_and_its_children() {
        let sb = sandbox();
        let out = run(&sb, "sleep 30 & echo $!").await;
        let pid: i32 = out.output.trim().parse().unwrap();
        drop(sb);
        let mut gone = false;
        for _ in 0..50 {
            // SAFETY: signal 0 only checks that the process exists.
            if unsafe { libc::kill(pid, 0) } != 0 {
                gone = true;
                break;
            }
            // A killed child lingers as a zombie until its parent (the
            // killed shell) is reaped.
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            if stat.contains(") Z") {
                gone = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(gone, "the background process outlived its session");
    }
}
