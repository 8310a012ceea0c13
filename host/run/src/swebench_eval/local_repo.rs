//! `--sandbox local`: an instance is graded in its repository itself, one evaluation at
//! a time per repository, and the repository is put back as it was after each.
//!
//! Why not a fresh copy per evaluation, as a container is: the environment is installed
//! from that repository (the specs' `install` is `pip install -e .` for nearly every
//! repository, and the eval script runs it again), so a copy elsewhere would either test
//! the original tree (the editable install points at it) or re-point the shared
//! environment at a temporary copy. Grading in place is what a venv built per spec
//! allows; the lock and the reset make it as fresh as the harness's container.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use plinth_record::sync::Locked;

/// Why a repository cannot be graded in.
#[derive(Debug, thiserror::Error)]
pub enum RepoError {
    #[error(
        "the repository {path} does not exist ({source}): build the instance's environment first"
    )]
    Missing {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not the top of a git repository (git says: {why})")]
    NotARepository { path: PathBuf, why: String },
    #[error(
        "the repository {path} has changes plinth did not make (grading resets it to HEAD, \
         which would lose them): commit or discard them first:\n{status}"
    )]
    Dirty { path: PathBuf, status: String },
    #[error("{what} ({path}): {source}")]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("`git {command}` in {path} failed: {why}")]
    Git {
        command: String,
        path: PathBuf,
        why: String,
    },
}

/// The repositories of a run, each locked while an instance is graded in it: in this
/// process, and across processes by a lock file in the repository's git directory, so
/// that every plinth grading there waits its turn whatever its cache directory.
#[derive(Default)]
pub struct LocalRepos {
    locks: Mutex<HashMap<PathBuf, Arc<tokio::sync::Mutex<()>>>>,
}

/// A repository held for one evaluation; [`RepoLease::release`] puts it back.
pub struct RepoLease {
    pub path: PathBuf,
    /// Says an evaluation is in progress (in the git directory); removed on release.
    marker: PathBuf,
    /// Ignored files present before the evaluation: any other is the evaluation's.
    ignored_before: BTreeSet<String>,
    _file: std::fs::File,
    _guard: tokio::sync::OwnedMutexGuard<()>,
}

/// The lock file and the marker, in the repository's git directory.
const LOCK_FILE: &str = "plinth-swebench-eval.lock";
const MARKER_FILE: &str = "plinth-swebench-eval.in-progress";

impl LocalRepos {
    /// Waits for the repository, then makes it clean: as HEAD, with no untracked file.
    /// A repository with changes is refused, unless a marker says an evaluation of
    /// plinth's was interrupted in it (the changes are then that evaluation's).
    pub async fn acquire(&self, repo: &Path) -> Result<RepoLease, RepoError> {
        let path = std::fs::canonicalize(repo).map_err(|source| RepoError::Missing {
            path: repo.to_path_buf(),
            source,
        })?;
        let not_a_repository = |why: String| RepoError::NotARepository {
            path: path.clone(),
            why,
        };
        let top = git(&path, &["rev-parse", "--show-toplevel"])
            .await
            .map_err(|e| not_a_repository(e.to_string()))?;
        if Path::new(top.trim()) != path {
            return Err(not_a_repository(format!("its top is {}", top.trim())));
        }
        let git_dir = PathBuf::from(
            git(&path, &["rev-parse", "--absolute-git-dir"])
                .await
                .map_err(|e| not_a_repository(e.to_string()))?
                .trim(),
        );
        let lock = self.locks.locked().entry(path.clone()).or_default().clone();
        let guard = lock.lock_owned().await;
        let io = |what, path: &Path| {
            let path = path.to_path_buf();
            move |source| RepoError::Io { what, path, source }
        };
        let lock_path = git_dir.join(LOCK_FILE);
        let locking = lock_path.clone();
        let file = tokio::task::spawn_blocking(move || {
            let file = std::fs::File::create(&locking)?;
            file.lock()?;
            Ok::<_, std::io::Error>(file)
        })
        .await
        .unwrap_or_else(|e| Err(std::io::Error::other(e)))
        .map_err(io("locking the repository", &lock_path))?;
        let marker = git_dir.join(MARKER_FILE);
        if marker.exists() {
            tracing::warn!(
                "{}: an earlier evaluation was interrupted; resetting the repository",
                path.display()
            );
            reset(&path).await?;
        } else {
            let status = git(&path, &["status", "--porcelain", "--untracked-files=all"]).await?;
            if !status.trim().is_empty() {
                return Err(RepoError::Dirty {
                    path,
                    status: status.lines().take(20).collect::<Vec<_>>().join("\n"),
                });
            }
        }
        std::fs::write(&marker, b"").map_err(io("marking the evaluation", &marker))?;
        let ignored_before = ignored(&path).await?;
        Ok(RepoLease {
            path,
            marker,
            ignored_before,
            _file: file,
            _guard: guard,
        })
    }
}

impl RepoLease {
    /// Puts the repository back: HEAD's files, no untracked file, and no ignored file
    /// the evaluation made (a new file of the patch under an ignored directory, caches
    /// the tests wrote); then lets the next evaluation in.
    pub async fn release(self) -> Result<(), RepoError> {
        reset(&self.path).await?;
        let made: Vec<String> = ignored(&self.path)
            .await?
            .difference(&self.ignored_before)
            .cloned()
            .collect();
        for file in made {
            let path = self.path.join(&file);
            if let Err(e) = std::fs::remove_file(&path)
                && e.kind() != std::io::ErrorKind::NotFound
            {
                return Err(RepoError::Io {
                    what: "removing a file the evaluation made",
                    path,
                    source: e,
                });
            }
        }
        std::fs::remove_file(&self.marker).map_err(|source| RepoError::Io {
            what: "removing the evaluation's marker",
            path: self.marker.clone(),
            source,
        })
    }
}

async fn reset(repo: &Path) -> Result<(), RepoError> {
    git(repo, &["reset", "--quiet", "--hard", "HEAD"]).await?;
    git(repo, &["clean", "--quiet", "-fd"]).await?;
    Ok(())
}

/// The ignored files, each by its path.
async fn ignored(repo: &Path) -> Result<BTreeSet<String>, RepoError> {
    let out = git(
        repo,
        &[
            "ls-files",
            "-z",
            "--others",
            "--ignored",
            "--exclude-standard",
        ],
    )
    .await?;
    Ok(out
        .split('\0')
        .filter(|p| !p.is_empty())
        .map(str::to_string)
        .collect())
}

async fn git(repo: &Path, args: &[&str]) -> Result<String, RepoError> {
    let failed = |why: String| RepoError::Git {
        command: args.join(" "),
        path: repo.to_path_buf(),
        why,
    };
    let out = tokio::process::Command::new("git")
        .arg("-C")
        .arg(repo)
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .map_err(|e| failed(format!("cannot run git: {e}")))?;
    if !out.status.success() {
        return Err(failed(
            String::from_utf8_lossy(&out.stderr).trim().to_string(),
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(dir: &Path, script: &str) {
        let ok = std::process::Command::new("bash")
            .arg("-c")
            .arg(script)
            .current_dir(dir)
            .status()
            .unwrap()
            .success();
        assert!(ok, "{script}");
    }

    #[tokio::test]
    async fn a_repository_is_put_back_and_a_dirty_one_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let repo = tmp.path().join("repo");
        std::fs::create_dir(&repo).unwrap();
        sh(
            &repo,
            "git init -q && printf 'build/\\n' > .gitignore && echo a > a.py && mkdir build && \
             echo old > build/keep && git add -A && \
             git -c user.name=t -c user.email=t@t commit -qm base",
        );
        let repos = LocalRepos::default();
        let lease = repos.acquire(&repo).await.unwrap();
        sh(
            &repo,
            "echo b > a.py && echo new > new.py && echo made > build/made && mkdir -p build/sub",
        );
        lease.release().await.unwrap();
        assert_eq!(std::fs::read_to_string(repo.join("a.py")).unwrap(), "a\n");
        assert!(!repo.join("new.py").exists() && !repo.join("build/made").exists());
        assert!(
            repo.join("build/keep").exists(),
            "ignored files from before stay"
        );

        sh(&repo, "echo mine > a.py");
        let e = repos.acquire(&repo).await.err().unwrap().to_string();
        assert!(
            e.contains("has changes plinth did not make") && e.contains("a.py"),
            "{e}"
        );
        // An interrupted evaluation's changes are reset.
        std::fs::write(repo.join(".git").join(MARKER_FILE), "").unwrap();
        repos.acquire(&repo).await.unwrap().release().await.unwrap();
        assert!(!repo.join(".git").join(MARKER_FILE).exists());
        assert_eq!(std::fs::read_to_string(repo.join("a.py")).unwrap(), "a\n");

        let e = repos
            .acquire(&repo.join("build"))
            .await
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("is not the top of a git repository"), "{e}");
        let e = repos
            .acquire(&tmp.path().join("nope"))
            .await
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("does not exist"), "{e}");
    }
}
