//! A container's (or pool slot's) persistent shell session: one `bash` in an
//! exec of its own, speaking [`crate::session`]'s protocol over the
//! exec's stdin and its output stream. It runs in a process group of its own
//! (`setsid`), recorded in the sandbox's control directory like a command's,
//! so a timeout kills it and a pool slot's release finds it.
//!
//! An image without `bash` cannot host a session: its commands go to the
//! command server ([`super::exec`]), fresh, as `--shell fresh` runs them.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bollard::exec::CreateExecOptions;
use futures_util::{FutureExt, StreamExt};
use tokio::io::AsyncWriteExt;
use tokio::sync::Mutex;
use tokio::time::Instant;

use super::container::{check_running, short};
use super::exec::{self, ExecContext, Session, attach, frame_bytes, kill_group};
use crate::marker::nonce;
use crate::session::{self, RESTARTED, Reply, SessionEnd};
use crate::{COMMAND_ENV, ExecOutput, ExecRequest, SandboxError};

/// `$1` the group file, `$2` the session's program, `$3` its `$0`. Starts
/// the session shell reading requests from the exec's stdin (moved to fd 3
/// first: `&` gives a background command `/dev/null` for stdin unless it
/// says otherwise), stderr on stdout; exits with its status, or 127 when
/// the image has no `bash`.
const START: &str = r#"command -v bash >/dev/null 2>&1 || exit 127
exec 3<&0 </dev/null 2>&1
if command -v setsid >/dev/null 2>&1; then g=setsid; else g=; fi
$g bash --norc --noprofile -c "$2" "$3" <&3 3<&- &
echo $! > "$1"
wait $!
"#;

/// The exit status [`START`] gives when there is no `bash` to run.
const NO_BASH: i32 = 127;

/// One sandbox's session, started on first use and replaced when it ends.
#[derive(Default)]
pub(super) struct PersistentShell {
    session: Mutex<Option<Session>>,
    /// The image has no `bash`: every command runs fresh.
    no_bash: AtomicBool,
}

/// How one command went in a session.
enum Ran {
    /// The session is still usable when the flag says so.
    Done(ExecOutput, bool),
    /// The session had ended before the command was sent.
    Gone,
}

impl PersistentShell {
    /// Runs `command` in the session; fresh (through `server`) when the
    /// session is busy with another command or the image cannot host one.
    pub(super) async fn exec(
        &self,
        ctx: &ExecContext<'_>,
        server: &exec::Shell,
        command: &str,
        timeout: Option<Duration>,
    ) -> Result<ExecOutput, SandboxError> {
        let fresh = ExecRequest {
            timeout,
            ..ExecRequest::new(command)
        };
        if self.no_bash.load(Ordering::Relaxed) {
            return exec::exec(ctx, server, fresh).await;
        }
        let Ok(mut slot) = self.session.try_lock() else {
            return exec::exec(ctx, server, fresh).await;
        };
        let timeout = timeout.unwrap_or(ctx.default_timeout);
        let mut restarted = false;
        loop {
            // Out of its slot while in use: a command cancelled half-way
            // takes the session with it (its exec is closed, and a later
            // command starts a new one) instead of leaving output behind.
            let mut session = match slot.take() {
                Some(session) => session,
                None => match start(ctx).await? {
                    Some(session) => session,
                    None => {
                        self.no_bash.store(true, Ordering::Relaxed);
                        return exec::exec(ctx, server, fresh).await;
                    }
                },
            };
            match run(ctx, &mut session, command, timeout).await? {
                Ran::Done(mut out, lives) => {
                    if restarted {
                        out.output.push_str(RESTARTED);
                    }
                    if lives {
                        *slot = Some(session);
                    }
                    return Ok(out);
                }
                Ran::Gone if !restarted => restarted = true,
                Ran::Gone => {
                    return Err(SandboxError::Other(format!(
                        "container {}: a new shell session ended before it read a command",
                        short(ctx.container)
                    )));
                }
            }
        }
    }
}

/// The group file of a sandbox's session.
fn group_file(ctx: &ExecContext<'_>) -> String {
    format!("{}/session.pid", ctx.control)
}

/// Starts a session and waits until its shell answers; `None` when the
/// image has no `bash`.
async fn start(ctx: &ExecContext<'_>) -> Result<Option<Session>, SandboxError> {
    let what = format!("container {}", short(ctx.container));
    let group = group_file(ctx);
    let program = session::script();
    let env: Vec<String> = COMMAND_ENV
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .chain(ctx.env.iter().map(|(k, v)| format!("{k}={v}")))
        .collect();
    let options = CreateExecOptions {
        attach_stdin: Some(true),
        attach_stdout: Some(true),
        attach_stderr: Some(true),
        cmd: Some(vec![
            "/bin/sh",
            "-c",
            START,
            "plinth-session",
            &group,
            &program,
            session::NAME,
        ]),
        env: Some(env.iter().map(String::as_str).collect()),
        working_dir: Some(ctx.cwd),
        ..CreateExecOptions::default()
    };
    let mut session = attach(ctx.engine, ctx.container, &what, options).await?;
    let nonce = nonce();
    // An empty command: the shell answers once it reads requests.
    let hello = session::request("", &nonce);
    // A shell that is gone cannot read: its end is found below.
    let _ = session.input.write_all(hello.as_bytes()).await;
    let _ = session.input.flush().await;
    let mut reply = Reply::new(&nonce, ctx.output);
    let answered = tokio::time::timeout(ctx.default_timeout, async {
        while let Some(Ok(frame)) = session.output.next().await {
            if reply.feed(frame_bytes(&frame)).is_some() {
                return true;
            }
        }
        false
    })
    .await;
    match answered {
        Ok(true) => Ok(Some(session)),
        Ok(false) => {
            check_running(ctx.engine, ctx.container).await?;
            match exit_code(ctx, &session.exec_id).await {
                NO_BASH => Ok(None),
                code => Err(SandboxError::Other(format!(
                    "{what}: the shell session did not start (exit status {code})"
                ))),
            }
        }
        Err(_) => Err(SandboxError::Other(format!(
            "{what}: the shell session did not answer within {}s",
            ctx.default_timeout.as_secs_f64()
        ))),
    }
}

/// The exit code the Engine recorded for a session's exec.
async fn exit_code(ctx: &ExecContext<'_>, exec_id: &str) -> i32 {
    let info = ctx.engine.docker().inspect_exec(exec_id).await.ok();
    info.and_then(|i| i.exit_code)
        .map_or(137, |code| code as i32)
}

async fn run(
    ctx: &ExecContext<'_>,
    session: &mut Session,
    command: &str,
    timeout: Duration,
) -> Result<Ran, SandboxError> {
    // What background processes wrote since the last command is no
    // command's output.
    loop {
        match session.output.next().now_or_never() {
            Some(Some(_)) => {}
            Some(None) => return Ok(Ran::Gone),
            None => break,
        }
    }
    let nonce = nonce();
    let mut reply = Reply::new(&nonce, ctx.output);
    let deadline = Instant::now() + timeout;
    let line = session::request(command, &nonce);
    let sent = async {
        session.input.write_all(line.as_bytes()).await?;
        session.input.flush().await
    };
    if sent.await.is_err() {
        check_running(ctx.engine, ctx.container).await?;
        return Ok(Ran::Gone);
    }
    let mut timed_out = false;
    loop {
        tokio::select! {
            item = session.output.next() => match item {
                Some(Ok(frame)) => {
                    if let Some(code) = reply.feed(frame_bytes(&frame)) {
                        return Ok(Ran::Done(reply.observation(ctx.output, code, None), true));
                    }
                }
                Some(Err(_)) | None => break,
            },
            _ = tokio::time::sleep_until(deadline) => {
                timed_out = true;
                break;
            }
        }
    }
    if timed_out {
        kill_group(ctx.engine, ctx.container, &group_file(ctx)).await?;
        let end = Some(SessionEnd::TimedOut(timeout));
        return Ok(Ran::Done(reply.observation(ctx.output, 124, end), false));
    }
    // The shell ended mid-command (`exit`, `exec`, a signal), or the
    // container stopped.
    check_running(ctx.engine, ctx.container).await?;
    let code = exit_code(ctx, &session.exec_id).await;
    let end = Some(SessionEnd::Exited);
    Ok(Ran::Done(reply.observation(ctx.output, code, end), false))
}
