//! Commands in a container through the exec API.
//!
//! A runc exec costs ~50 ms, so each sandbox keeps one long-lived exec, a
//! small POSIX `sh` command server ([`SERVER`]), and sends it commands over
//! its stdin; a command then costs a few forks inside the container. The
//! server runs each command
//! - with stderr merged into stdout, so output keeps the order it was
//!   written in (Docker copies the two streams separately and may reorder
//!   them), through a pipe of its own, so background processes that keep
//!   writing cannot leak into the next command's output;
//! - in its own process group (`setsid`), recorded in a file under the
//!   sandbox's control directory, so a timeout (or a pool slot's release) can
//!   kill everything the command started, inside the container, and check
//!   that it is gone;
//! - followed by an end marker carrying the exit code, with a nonce the
//!   command cannot guess.
//!
//! A command that cannot go through the server (it is busy with another
//! command of the same sandbox, the request holds a newline where the line
//! protocol cannot carry one, or the image lacks `mkfifo`) takes an exec of
//! its own under [`WRAPPER`], which does the same for one command.

use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bollard::container::LogOutput;
use bollard::errors::Error as ApiError;
use bollard::exec::{CreateExecOptions, StartExecResults};
use futures_util::{Stream, StreamExt};
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::Mutex;
use tokio::time::Instant;

use super::container::{check_running, short};
use super::engines::Engine;
use super::error::sandbox_error;
use crate::marker::{MarkerScan, nonce};
use crate::output::HeadTail;
use crate::{COMMAND_ENV, ExecOutput, ExecRequest, OutputPolicy, SandboxError};

/// How long output is still read after the command exits, for background
/// processes that hold the stream open (as the local sandbox does).
const DRAIN_AFTER_EXIT: Duration = Duration::from_millis(100);

/// How long killing a timed-out command may take before the container is
/// given up on.
const KILL_TIMEOUT: Duration = Duration::from_secs(15);

/// `$1` group file, `$2` nonce, `$3` command, `$4` directory (relative to the
/// exec's working directory).
const WRAPPER: &str = r#"exec 2>&1
if ! cd "$4" 2>/dev/null; then printf '\036plinth-exit-%s:nocwd\n' "$2"; exit 0; fi
if command -v bash >/dev/null 2>&1; then s=bash; else s=sh; fi
if command -v setsid >/dev/null 2>&1; then setsid "$s" -c "$3" </dev/null & else "$s" -c "$3" </dev/null & fi
g=$!
echo "$g" > "$1"
wait "$g"
r=$?
kill -0 -"$g" 2>/dev/null || rm -f "$1"
printf '\036plinth-exit-%s:%d\n' "$2" "$r"
"#;

/// The command server; `$1` is the control directory. A request is a line
/// with the nonce, then lines `@dir`, `=NAME=value` (environment) and
/// `.text` (the command, line by line), then `!`. Each command's output goes
/// through a pipe of its own (`cat` relays it), which is read for at most
/// 100 ms after the command exits while background processes hold it open,
/// as the local sandbox does.
const SERVER: &str = r#"exec 2>/dev/null
nl='
'
if command -v bash >/dev/null 2>&1; then s=bash; else s=sh; fi
if command -v setsid >/dev/null 2>&1; then g=setsid; else g=; fi
while IFS= read -r n; do
  c= d=. e=
  while IFS= read -r l; do
    case $l in
      .*) c="$c${l#?}$nl" ;;
      @*) d=${l#?} ;;
      =*) e="$e${l#?}$nl" ;;
      *) break ;;
    esac
  done
  if [ ! -d "$d" ]; then printf '\036plinth-exit-%s:nocwd\n' "$n"; continue; fi
  f="$1/$n.out"
  if ! mkfifo "$f"; then printf '\036plinth-exit-%s:nofifo\n' "$n"; continue; fi
  cat "$f" &
  r=$!
  (
    set -f
    IFS=$nl
    for v in $e; do export "$v"; done
    cd "$d" && exec $g "$s" -c "$c"
  ) >"$f" 2>&1 </dev/null &
  k=$!
  echo "$k" >"$1/$n.pid"
  wait "$k"
  x=$?
  if kill -0 "$r"; then
    (sleep 0.1; kill "$r") &
    t=$!
    wait "$r"
    kill "$t"
    wait "$t"
  fi
  wait "$r"
  kill -0 -"$k" || rm -f "$1/$n.pid"
  rm -f "$f"
  printf '\036plinth-exit-%s:%d\n' "$n" "$x"
done
"#;

/// `$1` group file. Kills the group (or, without `setsid` in the image, the
/// process) and waits until nothing of it is left; prints `alive` and fails
/// when it cannot.
const KILL: &str = r#"i=0
while [ ! -s "$1" ]; do i=$((i+1)); [ $i -gt 20 ] && exit 0; sleep 0.1; done
g=$(cat "$1")
i=0
while kill -0 -"$g" 2>/dev/null || kill -0 "$g" 2>/dev/null; do
  kill -9 -"$g" 2>/dev/null || kill -9 "$g" 2>/dev/null
  i=$((i+1)); [ $i -gt 50 ] && { echo alive; exit 1; }
  sleep 0.1
done
rm -f "$1"
"#;

/// Where and how a sandbox's commands run.
pub(super) struct ExecContext<'a> {
    pub engine: &'a Engine,
    pub container: &'a str,
    /// The working directory (absolute).
    pub cwd: &'a str,
    /// This sandbox's directory for process-group files.
    pub control: &'a str,
    /// Environment of every command of this sandbox.
    pub env: &'a [(String, String)],
    pub output: &'a OutputPolicy,
    pub default_timeout: Duration,
}

enum Status {
    Exit(i32),
    NoCwd,
    /// The server cannot run commands in this image.
    Unusable,
}

impl Status {
    /// The value of a marker line: an exit code, `nocwd` or `nofifo`.
    fn of(value: &str) -> Self {
        match value {
            "nocwd" => Self::NoCwd,
            "nofifo" => Self::Unusable,
            code => Self::Exit(code.parse().unwrap_or(-1)),
        }
    }
}

/// A sandbox's command server, started on first use and replaced when it
/// fails; see the module documentation.
#[derive(Default)]
pub(super) struct Shell {
    session: Mutex<Option<Session>>,
    /// The image cannot host the server: every command takes its own exec.
    unusable: AtomicBool,
}

pub(super) struct Session {
    pub(super) exec_id: String,
    pub(super) output: Pin<Box<dyn Stream<Item = Result<LogOutput, ApiError>> + Send>>,
    pub(super) input: Pin<Box<dyn AsyncWrite + Send>>,
}

/// Creates an exec in `container` and starts it attached; `what` names the
/// container in errors.
pub(super) async fn attach(
    engine: &Engine,
    container: &str,
    what: &str,
    options: CreateExecOptions<&str>,
) -> Result<Session, SandboxError> {
    let docker = engine.docker();
    let created = docker
        .create_exec(container, options)
        .await
        .map_err(|e| sandbox_error(what, e))?;
    let StartExecResults::Attached { output, input } = docker
        .start_exec(&created.id, None)
        .await
        .map_err(|e| sandbox_error(what, e))?
    else {
        unreachable!("an exec started without `detach` is attached");
    };
    Ok(Session {
        exec_id: created.id,
        output,
        input,
    })
}

/// Runs one command, through the sandbox's command server when it can.
pub(super) async fn exec(
    ctx: &ExecContext<'_>,
    shell: &Shell,
    request: ExecRequest,
) -> Result<ExecOutput, SandboxError> {
    let one_line = |text: &str| !text.contains('\n');
    let fits = request.cwd.as_deref().is_none_or(one_line)
        && ctx
            .env
            .iter()
            .chain(&request.env)
            .all(|(k, v)| one_line(k) && one_line(v));
    if fits
        && !shell.unusable.load(Ordering::Relaxed)
        && let Ok(mut session) = shell.session.try_lock()
    {
        match exec_in_session(ctx, &mut session, &request).await {
            Some(result) => return result,
            None => shell.unusable.store(true, Ordering::Relaxed),
        }
    }
    exec_once(ctx, request).await
}

async fn start_session(ctx: &ExecContext<'_>) -> Result<Session, SandboxError> {
    let what = format!("container {}", short(ctx.container));
    let options = CreateExecOptions {
        attach_stdin: Some(true),
        attach_stdout: Some(true),
        attach_stderr: Some(true),
        cmd: Some(vec!["/bin/sh", "-c", SERVER, "plinth-shell", ctx.control]),
        working_dir: Some(ctx.cwd),
        ..CreateExecOptions::default()
    };
    attach(ctx.engine, ctx.container, &what, options).await
}

/// One command through the server; `None` when the server cannot run
/// commands in this image (the caller falls back to an exec of its own).
async fn exec_in_session(
    ctx: &ExecContext<'_>,
    slot: &mut Option<Session>,
    request: &ExecRequest,
) -> Option<Result<ExecOutput, SandboxError>> {
    let timeout = request.timeout.unwrap_or(ctx.default_timeout);
    let deadline = Instant::now() + timeout;
    // Out of its slot while in use, and put back only after a clean
    // answer: a request cancelled half-way (its future dropped) must not
    // leave its output for the next command to read.
    let mut session = match slot.take() {
        Some(session) => session,
        None => match start_session(ctx).await {
            Ok(session) => session,
            Err(e) => return Some(Err(e)),
        },
    };
    let nonce = nonce();
    let mut message = format!("{nonce}\n@{}\n", request.cwd.as_deref().unwrap_or("."));
    for (k, v) in COMMAND_ENV.iter().map(|(k, v)| (*k, *v)).chain(
        ctx.env
            .iter()
            .chain(&request.env)
            .map(|(k, v)| (k.as_str(), v.as_str())),
    ) {
        message.push_str(&format!("={k}={v}\n"));
    }
    for line in request.command.split('\n') {
        message.push('.');
        message.push_str(line);
        message.push('\n');
    }
    message.push_str("!\n");
    let sent = async {
        session.input.write_all(message.as_bytes()).await?;
        session.input.flush().await
    };
    if sent.await.is_err() {
        // The server is gone; the container may be too.
        return Some(match check_running(ctx.engine, ctx.container).await {
            Err(e) => Err(e),
            Ok(()) => Err(SandboxError::Other(format!(
                "container {}: the command shell is gone",
                short(ctx.container)
            ))),
        });
    }

    let mut captured = HeadTail::new(ctx.output.capture_limit());
    let mut scan = MarkerScan::new(&nonce);
    let mut status = None;
    let mut timed_out = false;
    while status.is_none() {
        tokio::select! {
            item = session.output.next() => match item {
                Some(Ok(frame)) => {
                    status = scan.feed(frame_bytes(&frame), &mut captured).as_deref().map(Status::of);
                }
                Some(Err(_)) | None => break,
            },
            _ = tokio::time::sleep_until(deadline) => {
                timed_out = true;
                break;
            }
        }
    }
    scan.finish(&mut captured);
    let exit_code = match status {
        Some(Status::Exit(code)) => {
            *slot = Some(session);
            code
        }
        Some(Status::NoCwd) => {
            *slot = Some(session);
            return Some(Err(SandboxError::NotFound(format!(
                "working directory {} does not exist",
                request.cwd.as_deref().unwrap_or(ctx.cwd)
            ))));
        }
        Some(Status::Unusable) => return None,
        None if timed_out => {
            // The server finishes the killed command on its own, but a fresh
            // one is simpler than catching up with this one's output.
            let group_file = format!("{}/{nonce}.pid", ctx.control);
            if let Err(e) = kill_group(ctx.engine, ctx.container, &group_file).await {
                return Some(Err(e));
            }
            124
        }
        // The server ended mid-command: the container stopped, or the
        // command killed the server (e.g. `kill -9 -1`).
        None => {
            let exec_id = session.exec_id;
            if let Err(e) = check_running(ctx.engine, ctx.container).await {
                return Some(Err(e));
            }
            let info = ctx.engine.docker().inspect_exec(&exec_id).await.ok();
            info.and_then(|i| i.exit_code)
                .map_or(137, |code| code as i32)
        }
    };
    Some(Ok(render(ctx, captured, exit_code, timed_out, timeout)))
}

/// What the model sees of a finished command.
fn render(
    ctx: &ExecContext<'_>,
    captured: HeadTail,
    exit_code: i32,
    timed_out: bool,
    timeout: Duration,
) -> ExecOutput {
    let (bytes, dropped) = captured.finish();
    let (mut output, truncated) = ctx.output.render(&bytes, dropped);
    if timed_out {
        output.push_str(&format!(
            "\n[command timed out after {}s and was killed]",
            timeout.as_secs_f64()
        ));
    }
    ExecOutput {
        exit_code,
        output,
        truncated,
        timed_out,
    }
}

/// One command in an exec of its own, under [`WRAPPER`].
async fn exec_once(
    ctx: &ExecContext<'_>,
    request: ExecRequest,
) -> Result<ExecOutput, SandboxError> {
    let nonce = nonce();
    let group_file = format!("{}/{nonce}.pid", ctx.control);
    let env: Vec<String> = COMMAND_ENV
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .chain(
            ctx.env
                .iter()
                .chain(&request.env)
                .map(|(k, v)| format!("{k}={v}")),
        )
        .collect();
    let dir = request.cwd.as_deref().unwrap_or(".");
    let cmd = vec![
        "/bin/sh",
        "-c",
        WRAPPER,
        "plinth-exec",
        &group_file,
        &nonce,
        &request.command,
        dir,
    ];
    let timeout = request.timeout.unwrap_or(ctx.default_timeout);
    let deadline = Instant::now() + timeout;
    let what = format!("container {}", short(ctx.container));
    let options = CreateExecOptions {
        attach_stdout: Some(true),
        attach_stderr: Some(true),
        cmd: Some(cmd),
        env: Some(env.iter().map(String::as_str).collect()),
        working_dir: Some(ctx.cwd),
        ..CreateExecOptions::default()
    };
    let Session {
        exec_id,
        mut output,
        ..
    } = attach(ctx.engine, ctx.container, &what, options).await?;

    let mut captured = HeadTail::new(ctx.output.capture_limit());
    let mut scan = MarkerScan::new(&nonce);
    let mut status = None;
    let mut stop_at = deadline;
    let mut timed_out = false;
    loop {
        tokio::select! {
            item = output.next() => match item {
                Some(Ok(frame)) => {
                    if let Some(value) = scan.feed(frame_bytes(&frame), &mut captured) {
                        status = Some(Status::of(&value));
                        stop_at = Instant::now() + DRAIN_AFTER_EXIT;
                    }
                }
                Some(Err(e)) => {
                    tracing::debug!("{what}: exec stream failed: {e}");
                    break;
                }
                None => break,
            },
            _ = tokio::time::sleep_until(stop_at) => {
                timed_out = status.is_none();
                break;
            }
        }
    }
    drop(output);
    scan.finish(&mut captured);

    let exit_code = match status {
        Some(Status::Exit(code)) => code,
        Some(Status::NoCwd) => {
            return Err(SandboxError::NotFound(format!(
                "working directory {dir} does not exist"
            )));
        }
        Some(Status::Unusable) => unreachable!("the wrapper never says so"),
        None if timed_out => {
            kill_group(ctx.engine, ctx.container, &group_file).await?;
            // What `timeout(1)` returns, so models recognise it.
            124
        }
        // The stream ended without the marker: the wrapper itself was killed,
        // or the container went away under it.
        None => {
            check_running(ctx.engine, ctx.container).await?;
            let info = ctx
                .engine
                .docker()
                .inspect_exec(&exec_id)
                .await
                .map_err(|e| sandbox_error(&what, e))?;
            match info.exit_code {
                Some(code) => code as i32,
                None => {
                    return Err(SandboxError::Other(format!(
                        "{what}: the command's output ended without an exit status"
                    )));
                }
            }
        }
    };
    Ok(render(ctx, captured, exit_code, timed_out, timeout))
}

/// Kills a timed-out command's process group inside the container and makes
/// sure it is gone; a command that survives makes the sandbox unusable.
pub(super) async fn kill_group(
    engine: &Engine,
    container: &str,
    group_file: &str,
) -> Result<(), SandboxError> {
    let args = [group_file];
    let killing = run_script(engine, container, KILL, &args);
    let (code, output) = tokio::time::timeout(KILL_TIMEOUT, killing)
        .await
        .map_err(|_| {
            SandboxError::Dead(format!(
                "container {}: killing a timed-out command did not finish",
                short(container)
            ))
        })??;
    if code != 0 {
        return Err(SandboxError::Dead(format!(
            "container {}: a timed-out command could not be killed ({})",
            short(container),
            output.trim()
        )));
    }
    Ok(())
}

/// Runs one of plinth's own `sh` scripts in the container (as the image's
/// user, without the sandbox's environment) and returns its exit code and
/// output. The scripts start nothing that outlives them, so the end of the
/// stream is their end.
pub(super) async fn run_script(
    engine: &Engine,
    container: &str,
    script: &str,
    args: &[&str],
) -> Result<(i64, String), SandboxError> {
    let what = format!("container {}", short(container));
    let mut cmd = vec!["/bin/sh", "-c", script, "plinth"];
    cmd.extend_from_slice(args);
    let options = CreateExecOptions {
        attach_stdout: Some(true),
        attach_stderr: Some(true),
        cmd: Some(cmd),
        ..CreateExecOptions::default()
    };
    let Session {
        exec_id,
        mut output,
        ..
    } = attach(engine, container, &what, options).await?;
    let mut text = Vec::new();
    while let Some(frame) = output.next().await {
        match frame {
            Ok(frame) => text.extend_from_slice(frame_bytes(&frame)),
            Err(e) => return Err(sandbox_error(&what, e)),
        }
    }
    let info = engine
        .docker()
        .inspect_exec(&exec_id)
        .await
        .map_err(|e| sandbox_error(&what, e))?;
    Ok((
        info.exit_code.unwrap_or(-1),
        String::from_utf8_lossy(&text).into_owned(),
    ))
}

pub(super) fn frame_bytes(frame: &LogOutput) -> &[u8] {
    match frame {
        LogOutput::StdOut { message }
        | LogOutput::StdErr { message }
        | LogOutput::StdIn { message }
        | LogOutput::Console { message } => message,
    }
}
