//! SWE task workspaces: the task's repository at its base commit, inside the
//! task's sandbox, with its setup commands run.
//!
//! Repositories are cloned once, bare, into a cache (one lock per repository,
//! held across processes too, so concurrent tasks and concurrent plinth runs
//! share one clone safely). A local sandbox gets a `git worktree` of the cached
//! clone; any other sandbox gets `git archive` of the commit unpacked inside
//! it. Either way a "baseline" commit is made after setup, and the run's patch
//! is the diff of the workspace against it (SWE-bench's `model_patch`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::{ExecRequest, Sandbox, SandboxError};
use plinth_record::digest::sha256_hex;
use plinth_record::sync::Locked;
use plinth_record::task::Task;

/// Git identity and settings for the commits plinth makes: no user config,
/// hooks or signing may interfere.
const GIT: &str = "git -c user.name=plinth -c user.email=plinth@localhost -c commit.gpgsign=false -c core.hooksPath=/dev/null";

/// Why a workspace could not be made: always an infrastructure error.
#[derive(Debug, thiserror::Error)]
pub enum WorkspaceError {
    #[error("repository {repo}: {source}")]
    Repo {
        repo: String,
        #[source]
        source: RepoError,
    },
    #[error("setup command `{command}` failed (exit {exit_code}): {output}")]
    Setup {
        command: String,
        exit_code: i32,
        output: String,
    },
    #[error("{0}")]
    Sandbox(#[from] SandboxError),
}

/// What went wrong with a repository on the host: git, or the cache.
#[derive(Debug, thiserror::Error)]
pub enum RepoError {
    #[error("cannot run git: {0}")]
    Spawn(#[source] std::io::Error),
    #[error("`git {command}` failed: {stderr}")]
    Git { command: String, stderr: String },
    #[error("{what}: {source}")]
    Cache {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("commit `{0}` not found")]
    NoCommit(String),
}

/// What a task row says about its repository.
#[derive(Debug, Clone)]
pub struct RepoSpec {
    pub repo: String,
    pub base_commit: Option<String>,
    pub setup: Vec<String>,
}

impl RepoSpec {
    /// The row's `repo`, `base_commit` and `setup` commands (`install`
    /// too: the install step of SWE-style rows); `None` when the task has no
    /// repository.
    pub fn of(task: &Task) -> Option<Self> {
        let repo = task.field("repo")?.to_string();
        let mut setup = task.commands("setup");
        setup.extend(task.commands("install"));
        Some(Self {
            repo,
            base_commit: task.field("base_commit").map(str::to_string),
            setup,
        })
    }
}

/// A prepared workspace: the commit its patch is taken against.
#[derive(Debug, Clone)]
pub struct Workspace {
    pub baseline: String,
    /// The cached clone and worktree to detach when the task ends (local).
    worktree: Option<(PathBuf, PathBuf)>,
}

/// The cache of bare clones.
pub struct RepoCache {
    dir: PathBuf,
    /// In-process lock per repository; the lock file serialises processes.
    locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl RepoCache {
    pub fn new(dir: PathBuf) -> Self {
        Self {
            dir,
            locks: Mutex::new(HashMap::new()),
        }
    }

    /// `$PLINTH_CACHE_DIR/repos` (see the plugin cache for the fallbacks).
    pub fn default_dir() -> PathBuf {
        plinth_record::paths::cache_dir()
            .unwrap_or_else(std::env::temp_dir)
            .join("repos")
    }

    /// A repository's source as git should see it: local paths made
    /// absolute, so the cache key does not depend on the current directory.
    fn source(repo: &str) -> String {
        let path = Path::new(repo);
        if !repo.contains("://") && !repo.starts_with("git@") && !path.exists() && is_slug(repo) {
            // SWE-bench, SWE-smith and SWE-Gym rows name GitHub repositories
            // as `owner/name`.
            return format!("https://github.com/{repo}.git");
        }
        if repo.contains("://") || repo.starts_with("git@") || !path.exists() {
            return repo.to_string();
        }
        std::fs::canonicalize(path)
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_else(|_| repo.to_string())
    }

    fn key(source: &str) -> String {
        let name: String = source
            .trim_end_matches('/')
            .rsplit('/')
            .next()
            .unwrap_or("repo")
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || "-_.".contains(*c))
            .take(40)
            .collect();
        let hash = sha256_hex(source.as_bytes());
        format!("{name}-{}", &hash[..12])
    }

    /// Runs `f` holding the repository's lock (in this process and across
    /// processes).
    async fn locked<T>(&self, key: &str, f: impl AsyncFnOnce() -> T) -> Result<T, RepoError> {
        let lock = self
            .locks
            .locked()
            .entry(key.to_string())
            .or_default()
            .clone();
        let _guard = lock.lock().await;
        std::fs::create_dir_all(&self.dir).map_err(|source| RepoError::Cache {
            what: self.dir.display().to_string(),
            source,
        })?;
        let lock_path = self.dir.join(format!("{key}.lock"));
        let file = tokio::task::spawn_blocking(move || {
            let file = std::fs::File::create(&lock_path)?;
            file.lock()?;
            Ok::<_, std::io::Error>(file)
        })
        .await
        .unwrap_or_else(|e| Err(std::io::Error::other(e)))
        .map_err(|source| RepoError::Cache {
            what: "locking the repository cache".into(),
            source,
        })?;
        let out = f().await;
        drop(file);
        Ok(out)
    }

    /// The bare clone of `repo` holding `commit` (cloned or fetched as
    /// needed), and the commit resolved to a full id.
    async fn clone_with(&self, spec: &RepoSpec) -> Result<(PathBuf, String), WorkspaceError> {
        let source = Self::source(&spec.repo);
        let key = Self::key(&source);
        let bare = self.dir.join(format!("{key}.git"));
        let err = |source: RepoError| WorkspaceError::Repo {
            repo: spec.repo.clone(),
            source,
        };
        let commit = spec.base_commit.clone().unwrap_or_else(|| "HEAD".into());
        let bare2 = bare.clone();
        self.locked(&key, async move || {
            if !bare2.join("HEAD").exists() {
                let tmp = bare2.with_extension("tmp");
                let _ = tokio::fs::remove_dir_all(&tmp).await;
                git(
                    None,
                    &["clone", "--bare", "--quiet", &source, &path_str(&tmp)],
                )
                .await?;
                tokio::fs::rename(&tmp, &bare2)
                    .await
                    .map_err(|source| RepoError::Cache {
                        what: "moving the clone into the cache".into(),
                        source,
                    })?;
            }
            let object = format!("{commit}^{{commit}}");
            if git(Some(&bare2), &["cat-file", "-e", &object])
                .await
                .is_err()
            {
                git(
                    Some(&bare2),
                    &[
                        "fetch",
                        "--quiet",
                        &source,
                        "+refs/heads/*:refs/heads/*",
                        "+refs/tags/*:refs/tags/*",
                    ],
                )
                .await?;
            }
            let sha = git(Some(&bare2), &["rev-parse", "--verify", &object])
                .await
                .map_err(|_| RepoError::NoCommit(commit.clone()))?;
            Ok::<_, RepoError>(sha.trim().to_string())
        })
        .await
        .and_then(|r| r)
        .map(|sha| (bare, sha))
        .map_err(err)
    }

    /// Makes the task's workspace in `sandbox`'s working directory and runs
    /// the setup commands.
    pub async fn prepare(
        &self,
        spec: &RepoSpec,
        sandbox: &dyn Sandbox,
    ) -> Result<Workspace, WorkspaceError> {
        let (bare, sha) = self.clone_with(spec).await?;
        let err = |source: RepoError| WorkspaceError::Repo {
            repo: spec.repo.clone(),
            source,
        };
        let worktree = match sandbox.host_path() {
            Some(dir) => {
                let dir = dir.to_path_buf();
                let key = Self::key(&Self::source(&spec.repo));
                let (bare2, dir2, sha2) = (bare.clone(), dir.clone(), sha.clone());
                self.locked(&key, async move || {
                    git(Some(&bare2), &["worktree", "prune"]).await?;
                    git(
                        Some(&bare2),
                        &[
                            "worktree",
                            "add",
                            "--detach",
                            "--force",
                            &path_str(&dir2),
                            &sha2,
                        ],
                    )
                    .await
                })
                .await
                .and_then(|r| r)
                .map_err(err)?;
                Some((bare, dir))
            }
            None => {
                let archive = git_bytes(&bare, &["archive", "--format=tar", &sha])
                    .await
                    .map_err(err)?;
                sandbox.write_archive(sandbox.cwd(), &archive).await?;
                run(sandbox, "git init -q").await?;
                None
            }
        };
        for command in &spec.setup {
            run(sandbox, command).await?;
        }
        let baseline = run(
            sandbox,
            &format!("{GIT} add -A && {GIT} commit -q --allow-empty --no-verify -m plinth-baseline && git rev-parse HEAD"),
        )
        .await?;
        Ok(Workspace {
            baseline: baseline.trim().to_string(),
            worktree,
        })
    }

    /// Detaches a local worktree from the cached clone (its files go with the
    /// sandbox).
    pub async fn release(&self, workspace: &Workspace) {
        if let Some((bare, dir)) = &workspace.worktree {
            let _ = git(
                Some(bare),
                &["worktree", "remove", "--force", &path_str(dir)],
            )
            .await;
        }
    }
}

/// The workspace's changes since the baseline, untracked files included.
pub async fn patch(sandbox: &dyn Sandbox, workspace: &Workspace) -> Result<String, WorkspaceError> {
    run(
        sandbox,
        &format!(
            "{GIT} add -A >/dev/null && git diff --cached --binary {}",
            workspace.baseline
        ),
    )
    .await
}

/// Applies a patch to the workspace (the agent's, for grading, or a task's
/// `test_patch`); a patch that does not apply is the error, with git's words.
pub async fn apply(sandbox: &dyn Sandbox, patch: &str) -> Result<(), WorkspaceError> {
    if patch.trim().is_empty() {
        return Ok(());
    }
    // In the workspace (the one place every sandbox can write), removed
    // before anything else runs there.
    let file = format!(".plinth-{}.patch", unique_suffix());
    sandbox.write_file(&file, patch.as_bytes()).await?;
    let file = quote(&file);
    run(
        sandbox,
        &format!("git apply --binary {file}; status=$?; rm -f {file}; exit $status"),
    )
    .await?;
    Ok(())
}

/// Applies a patch by the first of `commands` that succeeds, each given the
/// patch file as its last argument (SWE-bench's harness tries `git apply`,
/// then `git apply --reject`, then `patch --fuzz=5`): the index of the
/// command that applied it, or `None` when none did. Later commands run on
/// whatever an earlier one left, as in the harness.
pub async fn apply_first(
    sandbox: &dyn Sandbox,
    patch: &str,
    commands: &[String],
) -> Result<Option<usize>, WorkspaceError> {
    let file = format!(".plinth-{}.patch", unique_suffix());
    sandbox.write_file(&file, patch.as_bytes()).await?;
    let quoted = quote(&file);
    let mut applied = None;
    for (index, command) in commands.iter().enumerate() {
        match run(sandbox, &format!("{command} {quoted}")).await {
            Ok(_) => {
                applied = Some(index);
                break;
            }
            // The command ran and refused the patch: try the next one.
            Err(WorkspaceError::Setup { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    run(sandbox, &format!("rm -f {quoted}")).await?;
    Ok(applied)
}

/// Puts `files` back as they were at the workspace's baseline: a file that
/// did not exist then is removed.
pub async fn restore(
    sandbox: &dyn Sandbox,
    workspace: &Workspace,
    files: &[String],
) -> Result<(), WorkspaceError> {
    if files.is_empty() {
        return Ok(());
    }
    let mut script = String::new();
    for file in files {
        let (at_base, file) = (
            quote(&format!("{}:{file}", workspace.baseline)),
            quote(file),
        );
        script.push_str(&format!(
            "if git cat-file -e {at_base} 2>/dev/null; then git checkout -q {} -- {file}; else rm -rf -- {file}; fi || exit 1\n",
            workspace.baseline
        ));
    }
    run(sandbox, &script).await?;
    Ok(())
}

/// Runs a command of the task's evaluation (before its scorers).
pub async fn run_command(sandbox: &dyn Sandbox, command: &str) -> Result<(), WorkspaceError> {
    run(sandbox, command).await.map(drop)
}

/// `word` quoted for the sandbox's shell (paths from git never hold a NUL,
/// the one byte a shell cannot take).
fn quote(word: &str) -> String {
    let word = word.replace('\0', "");
    match shlex::try_quote(&word) {
        Ok(quoted) => quoted.into_owned(),
        Err(_) => word,
    }
}

/// A name no other rollout in this process or another uses at the same time.
fn unique_suffix() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!(
        "{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// Runs a command that must succeed; its output otherwise becomes the error.
async fn run(sandbox: &dyn Sandbox, command: &str) -> Result<String, WorkspaceError> {
    let out = sandbox
        .exec(ExecRequest {
            command: command.to_string(),
            timeout: Some(std::time::Duration::from_secs(30 * 60)),
            ..ExecRequest::default()
        })
        .await?;
    if out.exit_code != 0 {
        return Err(WorkspaceError::Setup {
            command: command.to_string(),
            exit_code: out.exit_code,
            output: out.output,
        });
    }
    Ok(out.output)
}

/// `owner/name`, as GitHub spells a repository.
fn is_slug(repo: &str) -> bool {
    let part = |p: &str| {
        !p.is_empty()
            && !p.starts_with('.')
            && p.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    };
    repo.split_once('/')
        .is_some_and(|(owner, name)| part(owner) && part(name))
}

fn path_str(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

/// Runs git on the host, in `dir` when given; stdout on success, stderr as
/// the error.
async fn git(dir: Option<&Path>, args: &[&str]) -> Result<String, RepoError> {
    let out = git_bytes_in(dir, args).await?;
    Ok(String::from_utf8_lossy(&out).into_owned())
}

async fn git_bytes(dir: &Path, args: &[&str]) -> Result<Vec<u8>, RepoError> {
    git_bytes_in(Some(dir), args).await
}

async fn git_bytes_in(dir: Option<&Path>, args: &[&str]) -> Result<Vec<u8>, RepoError> {
    let mut cmd = tokio::process::Command::new("git");
    if let Some(dir) = dir {
        cmd.arg("-C").arg(dir);
    }
    let out = cmd
        .args(args)
        .env("GIT_TERMINAL_PROMPT", "0")
        .output()
        .await
        .map_err(RepoError::Spawn)?;
    if !out.status.success() {
        return Err(RepoError::Git {
            command: args.join(" "),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    Ok(out.stdout)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn github_slugs_urls_and_paths() {
        assert_eq!(
            RepoCache::source("astropy/astropy"),
            "https://github.com/astropy/astropy.git"
        );
        assert_eq!(
            RepoCache::source("https://example.com/x.git"),
            "https://example.com/x.git"
        );
        assert_eq!(RepoCache::source("git@host:o/r.git"), "git@host:o/r.git");
        // A path that exists is a path, made absolute.
        let dir = tempfile::tempdir().unwrap();
        let local = dir.path().to_string_lossy().into_owned();
        assert_eq!(RepoCache::source(&local), local);
        assert!(!is_slug("../x") && !is_slug("a/b/c") && !is_slug("./x"));
    }
}
