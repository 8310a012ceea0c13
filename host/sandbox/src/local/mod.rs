//! The local sandbox: commands run as `bash -c` (or in the trajectory's
//! persistent shell session, `session.rs`) in a per-task directory on the
//! host. It is NOT isolation: the agent can reach anything the plinth process
//! can. Use the Docker backends for untrusted models.

mod session;

use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Mutex;
use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::time::Instant;

use super::output::HeadTail;
use super::{ExecOutput, ExecRequest, OutputPolicy, Sandbox, SandboxError};
use plinth_record::sync::Locked;
use session::BashSession;

/// How long output is still read after the command exits, for background
/// processes that hold the pipe open (their output is not waited for).
const DRAIN_AFTER_EXIT: Duration = Duration::from_millis(100);
/// The most one read of a command's output takes (a pipe's default
/// capacity). Read buffers are reserved, not zeroed: a command that prints
/// a line touches one page of it, so a thousand sessions in flight do not
/// each hold 64 KiB of resident memory.
const READ_CHUNK: usize = 64 * 1024;

/// Settings shared by every local sandbox of a run.
#[derive(Debug, Clone)]
pub struct LocalConfig {
    pub default_timeout: Duration,
    pub output: OutputPolicy,
    /// Environment variables removed from commands (API keys and the like).
    pub hidden_env: Vec<String>,
    /// Extra environment for every command.
    pub env: Vec<(String, String)>,
}

impl Default for LocalConfig {
    fn default() -> Self {
        Self {
            default_timeout: plinth_record::defaults::COMMAND_TIMEOUT,
            output: OutputPolicy::default(),
            hidden_env: Vec::new(),
            env: Vec::new(),
        }
    }
}

pub struct LocalSandbox {
    /// The persistent shell session, started by the first command that asks
    /// for it; dropped (its process group killed) before the directory goes.
    session: tokio::sync::Mutex<Option<BashSession>>,
    cwd: String,
    config: LocalConfig,
    /// Owns the directory when plinth created it: removed on drop.
    _temp: Option<tempfile::TempDir>,
    /// Process groups started here; background processes are killed on drop.
    groups: Mutex<Vec<i32>>,
}

impl LocalSandbox {
    /// A sandbox in `cwd`, or in a fresh temporary directory when `None`.
    pub fn new(cwd: Option<&Path>, config: LocalConfig) -> Result<Self, SandboxError> {
        let (dir, temp) = match cwd {
            Some(dir) => {
                std::fs::create_dir_all(dir).map_err(|e| {
                    SandboxError::Other(format!("cannot create {}: {e}", dir.display()))
                })?;
                (dir.to_path_buf(), None)
            }
            None => {
                let temp = tempfile::Builder::new()
                    .prefix("plinth-")
                    .tempdir()
                    .map_err(|e| SandboxError::Other(format!("cannot create a temp dir: {e}")))?;
                (temp.path().to_path_buf(), Some(temp))
            }
        };
        Ok(Self {
            session: tokio::sync::Mutex::new(None),
            cwd: dir.to_string_lossy().into_owned(),
            config,
            _temp: temp,
            groups: Mutex::new(Vec::new()),
        })
    }

    fn resolve(&self, path: &str) -> PathBuf {
        Path::new(&self.cwd).join(path)
    }

    /// `bash` in `cwd` with the environment every command of this sandbox
    /// gets (fresh or in a session), in a process group of its own so a
    /// timeout kills everything it started.
    fn bash(&self, cwd: &Path) -> Result<tokio::process::Command, SandboxError> {
        if !cwd.is_dir() {
            return Err(SandboxError::NotFound(format!(
                "working directory {} does not exist",
                cwd.display()
            )));
        }
        let mut cmd = tokio::process::Command::new("bash");
        cmd.current_dir(cwd)
            .process_group(0)
            .kill_on_drop(true)
            .envs(super::COMMAND_ENV.iter().copied());
        for name in &self.config.hidden_env {
            cmd.env_remove(name);
        }
        for (k, v) in &self.config.env {
            cmd.env(k, v);
        }
        Ok(cmd)
    }
}

impl Drop for LocalSandbox {
    fn drop(&mut self) {
        for pgid in self
            .groups
            .get_mut()
            .map(std::mem::take)
            .unwrap_or_default()
        {
            kill_group(pgid);
        }
    }
}

/// Local sandboxes for a batch: a fresh temp dir per task, unless `--cwd` or
/// the row's `cwd` names a directory (then tasks share it).
pub struct LocalProvider {
    pub cwd: Option<PathBuf>,
    pub config: LocalConfig,
}

#[async_trait::async_trait]
impl super::SandboxProvider for LocalProvider {
    fn kind(&self) -> &'static str {
        "local"
    }

    async fn create(
        &self,
        task: &plinth_record::task::Task,
    ) -> Result<std::sync::Arc<dyn Sandbox>, SandboxError> {
        let cwd = task
            .field("cwd")
            .map(PathBuf::from)
            .or_else(|| self.cwd.clone());
        Ok(std::sync::Arc::new(LocalSandbox::new(
            cwd.as_deref(),
            self.config.clone(),
        )?))
    }
}

fn kill_group(pgid: i32) {
    // SAFETY: killpg only sends a signal; a stale id at worst hits nothing
    // (ESRCH), since our children's groups are not reused while we hold them.
    unsafe {
        libc::killpg(pgid, libc::SIGKILL);
    }
}

#[async_trait::async_trait]
impl Sandbox for LocalSandbox {
    fn kind(&self) -> &'static str {
        "local"
    }

    fn cwd(&self) -> &str {
        &self.cwd
    }

    fn output_policy(&self) -> &OutputPolicy {
        &self.config.output
    }

    fn host_path(&self) -> Option<&Path> {
        Some(Path::new(&self.cwd))
    }

    async fn exec(&self, request: ExecRequest) -> Result<ExecOutput, SandboxError> {
        let cwd = request
            .cwd
            .as_deref()
            .map_or_else(|| PathBuf::from(&self.cwd), |dir| self.resolve(dir));
        let mut cmd = self.bash(&cwd)?;
        let (reader, writer) = std::io::pipe()
            .map_err(|e| SandboxError::Other(format!("cannot create a pipe: {e}")))?;
        let writer2 = writer
            .try_clone()
            .map_err(|e| SandboxError::Other(format!("cannot clone a pipe: {e}")))?;
        cmd.arg("-c")
            .arg(&request.command)
            .stdin(Stdio::null())
            .stdout(writer)
            .stderr(writer2);
        for (k, v) in &request.env {
            cmd.env(k, v);
        }
        let mut child = cmd
            .spawn()
            .map_err(|e| SandboxError::Other(format!("cannot start bash: {e}")))?;
        // The command object holds our copies of the pipe's write end: drop it
        // so the read side sees EOF when the command's processes exit.
        drop(cmd);
        let pgid = child.id().map(|id| id as i32);
        if let Some(pgid) = pgid {
            self.groups.locked().push(pgid);
        }

        let mut pipe = tokio::net::unix::pipe::Receiver::from_owned_fd(OwnedFd::from(reader))
            .map_err(|e| SandboxError::Other(format!("cannot read the pipe: {e}")))?;
        let timeout = request.timeout.unwrap_or(self.config.default_timeout);
        let deadline = Instant::now() + timeout;
        let mut captured = HeadTail::new(self.config.output.capture_limit());
        let mut buf = Vec::with_capacity(READ_CHUNK);
        let mut status = None;
        let mut stop_at = deadline;
        let mut timed_out = false;
        loop {
            tokio::select! {
                read = pipe.read_buf(&mut buf) => match read {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {
                        captured.push(&buf);
                        buf.clear();
                    }
                },
                exited = child.wait(), if status.is_none() => {
                    status = Some(exited);
                    stop_at = Instant::now() + DRAIN_AFTER_EXIT;
                }
                _ = tokio::time::sleep_until(stop_at) => {
                    if status.is_none() {
                        timed_out = true;
                    }
                    break;
                }
            }
        }
        if timed_out && let Some(pgid) = pgid {
            kill_group(pgid);
        }
        let status = match status {
            Some(status) => status,
            None => child.wait().await,
        }
        .map_err(|e| SandboxError::Other(format!("waiting for bash failed: {e}")))?;
        let exit_code = if timed_out {
            // What `timeout(1)` returns, so models recognise it.
            124
        } else {
            status.code().unwrap_or_else(|| {
                use std::os::unix::process::ExitStatusExt;
                128 + status.signal().unwrap_or(0)
            })
        };
        let (bytes, dropped) = captured.finish();
        let (mut output, truncated) = self.config.output.render(&bytes, dropped);
        if timed_out {
            output.push_str(&format!(
                "\n[command timed out after {}s and was killed]",
                timeout.as_secs_f64()
            ));
        }
        Ok(ExecOutput {
            exit_code,
            output,
            truncated,
            timed_out,
        })
    }

    /// Resolved on this machine: the longest part of `path` that exists is
    /// canonicalised, the rest kept as written.
    async fn real_path(&self, path: &str) -> Result<String, SandboxError> {
        let path = PathBuf::from(path);
        tokio::task::spawn_blocking(move || {
            let mut existing = path.as_path();
            let mut rest = Vec::new();
            loop {
                match std::fs::canonicalize(existing) {
                    Ok(mut real) => {
                        real.extend(rest.iter().rev());
                        return Ok(real.to_string_lossy().into_owned());
                    }
                    // A link that leads nowhere would be followed by a write.
                    Err(_) if std::fs::symlink_metadata(existing).is_ok() => {
                        return Err(SandboxError::Other(format!(
                            "{} cannot be resolved (a link that leads nowhere?)",
                            existing.display()
                        )));
                    }
                    Err(_) => match (existing.parent(), existing.file_name()) {
                        (Some(parent), Some(name)) => {
                            rest.push(name.to_os_string());
                            existing = parent;
                        }
                        _ => return Ok(path.to_string_lossy().into_owned()),
                    },
                }
            }
        })
        .await
        .map_err(|e| SandboxError::Other(format!("resolving a path stopped: {e}")))?
    }

    async fn exec_in_session(
        &self,
        command: &str,
        timeout: Option<Duration>,
    ) -> Result<ExecOutput, SandboxError> {
        let Ok(mut slot) = self.session.try_lock() else {
            let request = ExecRequest {
                timeout,
                ..ExecRequest::new(command)
            };
            return self.exec(request).await;
        };
        let timeout = timeout.unwrap_or(self.config.default_timeout);
        // Out of its slot while in use: a command cancelled half-way (its
        // future dropped) takes its session with it, killed, instead of
        // leaving its output for the next command to read.
        let mut old = slot.take();
        let alive = old.as_mut().is_some_and(BashSession::alive);
        let (mut session, restarted) = match old {
            Some(session) if alive => (session, false),
            old => {
                let restarted = old.is_some();
                drop(old);
                let bash = self.bash(Path::new(&self.cwd))?;
                (BashSession::start(bash).await?, restarted)
            }
        };
        let (mut out, lives) = session.run(command, timeout, &self.config.output).await?;
        if restarted {
            out.output.push_str(super::session::RESTARTED);
        }
        if lives {
            *slot = Some(session);
        }
        Ok(out)
    }

    async fn read_file(&self, path: &str) -> Result<Vec<u8>, SandboxError> {
        tokio::fs::read(self.resolve(path))
            .await
            .map_err(|e| io_error(path, e))
    }

    async fn write_file(&self, path: &str, contents: &[u8]) -> Result<(), SandboxError> {
        let path_buf = self.resolve(path);
        if let Some(parent) = path_buf.parent() {
            tokio::fs::create_dir_all(parent)
                .await
                .map_err(|e| io_error(path, e))?;
        }
        tokio::fs::write(path_buf, contents)
            .await
            .map_err(|e| io_error(path, e))
    }

    /// Unpacks with the `tar` crate, which also keeps entries from leaving
    /// `dir` (no `..` components, no writing through a link that points
    /// outside it).
    async fn write_archive(&self, dir: &str, tar: &[u8]) -> Result<(), SandboxError> {
        let target = self.resolve(dir);
        let tar = tar.to_vec();
        tokio::task::spawn_blocking(move || {
            std::fs::create_dir_all(&target)?;
            tar::Archive::new(tar.as_slice()).unpack(&target)
        })
        .await
        .map_err(|e| SandboxError::Other(format!("unpacking an archive into {dir} stopped: {e}")))?
        .map_err(|e| SandboxError::Other(format!("unpacking an archive into {dir} failed: {e}")))
    }
}

fn io_error(path: &str, e: std::io::Error) -> SandboxError {
    if e.kind() == std::io::ErrorKind::NotFound {
        SandboxError::NotFound(path.to_string())
    } else {
        SandboxError::Other(format!("{path}: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sandbox() -> LocalSandbox {
        LocalSandbox::new(None, LocalConfig::default()).unwrap()
    }

    #[tokio::test]
    async fn merges_stdout_and_stderr_in_order() {
        let sb = sandbox();
        let out = sb
            .exec(ExecRequest::new(
                "echo one; echo two >&2; echo three; exit 3",
            ))
            .await
            .unwrap();
        assert_eq!(out.output, "one\ntwo\nthree\n");
        assert_eq!(out.exit_code, 3);
        assert!(!out.timed_out && !out.truncated);
    }

    #[tokio::test]
    async fn timeout_kills_the_whole_process_group() {
        let sb = sandbox();
        let started = std::time::Instant::now();
        let out = sb
            .exec(ExecRequest {
                command: "sleep 30 & sleep 30; echo never".into(),
                timeout: Some(Duration::from_millis(300)),
                ..Default::default()
            })
            .await
            .unwrap();
        assert!(out.timed_out);
        assert_eq!(out.exit_code, 124);
        assert!(!out.output.contains("never"));
        assert!(started.elapsed() < Duration::from_secs(10));
    }

    #[tokio::test]
    async fn background_process_does_not_block_the_command() {
        let sb = sandbox();
        let out = sb
            .exec(ExecRequest::new("sleep 20 & echo started"))
            .await
            .unwrap();
        assert_eq!(out.output, "started\n");
        assert!(!out.timed_out);
    }

    #[tokio::test]
    async fn files_round_trip_in_the_working_directory() {
        let sb = sandbox();
        sb.write_file("a/b.txt", b"hello").await.unwrap();
        let out = sb.exec(ExecRequest::new("cat a/b.txt")).await.unwrap();
        assert_eq!(out.output, "hello");
        assert_eq!(sb.read_file("a/b.txt").await.unwrap(), b"hello");
        assert!(matches!(
            sb.read_file("missing").await,
            Err(SandboxError::NotFound(_))
        ));
    }

    /// A tar with `x.txt` and `sub/y.txt`.
    fn archive() -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        for (path, contents) in [("x.txt", "ex\n"), ("sub/y.txt", "why\n")] {
            let mut header = tar::Header::new_gnu();
            header.set_size(contents.len() as u64);
            header.set_mode(0o644);
            builder
                .append_data(&mut header, path, contents.as_bytes())
                .unwrap();
        }
        builder.into_inner().unwrap()
    }

    #[tokio::test]
    async fn archives_unpack_into_new_directories_with_awkward_names() {
        let sb = sandbox();
        // Relative to the working directory, not there yet, and with a
        // quote, spaces and a `$` that a shell would have acted on.
        let dir = r#"it's a "dir" $HOME/new one"#;
        sb.write_archive(dir, &archive()).await.unwrap();
        assert_eq!(
            sb.read_file(&format!("{dir}/x.txt")).await.unwrap(),
            b"ex\n"
        );
        assert_eq!(
            sb.read_file(&format!("{dir}/sub/y.txt")).await.unwrap(),
            b"why\n"
        );
        // An absolute directory, and one that exists already.
        let absolute = format!(r#"{}/it's a "dir" $HOME"#, sb.cwd());
        sb.write_archive(&absolute, &archive()).await.unwrap();
        let out = sb
            .exec(ExecRequest::new(
                r#"cat "it's a \"dir\" \$HOME/x.txt"; ls -A"#,
            ))
            .await
            .unwrap();
        assert_eq!(out.output, "ex\nit's a \"dir\" $HOME\n");
    }

    #[tokio::test]
    async fn hidden_env_is_not_visible() {
        // SAFETY: this test process sets a variable no other test reads.
        unsafe { std::env::set_var("PLINTH_TEST_SECRET_VAR", "xyz") };
        let sb = LocalSandbox::new(
            None,
            LocalConfig {
                hidden_env: vec!["PLINTH_TEST_SECRET_VAR".into()],
                ..LocalConfig::default()
            },
        )
        .unwrap();
        let out = sb
            .exec(ExecRequest::new("echo \"[$PLINTH_TEST_SECRET_VAR]\""))
            .await
            .unwrap();
        assert_eq!(out.output, "[]\n");
    }
}
