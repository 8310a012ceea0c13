//! Shards: a deterministic share of a batch, so one batch can run as a
//! Slurm job array or a Kubernetes Indexed Job and be merged back into one
//! dataset (`plinth merge`).
//!
//! A task belongs to shard `hash(task id) mod N`: by id, not by line, so a
//! shard's share is stable when the input is reordered or a shard is
//! resumed, and every rollout of a task's group lands in the same shard.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use plinth_record::digest::sha256_hex;

/// Shard `index` of `count` (0-based).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

/// Why a shard cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShardError {
    #[error("`{0}` is not a shard: write I/N with 0 <= I < N (e.g. 0/3), or `auto`")]
    Syntax(String),
    #[error(
        "--shard auto: no shard in the environment (a Slurm job array sets SLURM_ARRAY_TASK_ID; \
         a Kubernetes Indexed Job sets JOB_COMPLETION_INDEX, with PLINTH_SHARD_COUNT set to its \
         completions)"
    )]
    NotInEnvironment,
    #[error("--shard auto: {variable}={value:?} is not usable: {reason}")]
    Environment {
        variable: &'static str,
        value: String,
        reason: String,
    },
}

impl Shard {
    pub fn new(index: u32, count: u32) -> Option<Self> {
        (count > 0 && index < count).then_some(Self { index, count })
    }

    /// The shard of a task: a stable function of its id alone.
    pub fn of(task_id: &str, count: u32) -> u32 {
        let digest = sha256_hex(task_id.as_bytes());
        // 64 bits of the digest: uniform enough for any shard count.
        let bits = u64::from_str_radix(&digest[..16], 16).unwrap_or(0);
        (bits % u64::from(count.max(1))) as u32
    }

    /// Does the task with `task_id` belong to this shard?
    pub fn contains(&self, task_id: &str) -> bool {
        Self::of(task_id, self.count) == self.index
    }

    /// `--shard`: `I/N`, or `auto` to read it from the scheduler's
    /// environment (see [`Shard::from_env`]).
    pub fn resolve(spec: &str) -> Result<Self, ShardError> {
        if spec == "auto" {
            Self::from_env(|name| std::env::var(name).ok())
        } else {
            spec.parse()
        }
    }

    /// The shard a Slurm array task or a Kubernetes Indexed Job pod is:
    /// `SLURM_ARRAY_TASK_ID` less `SLURM_ARRAY_TASK_MIN` of
    /// `SLURM_ARRAY_TASK_COUNT` (or `MAX - MIN + 1`), or, when
    /// `PLINTH_SHARD_COUNT` pins the count, `SLURM_ARRAY_TASK_ID` of it; or
    /// `JOB_COMPLETION_INDEX` of `PLINTH_SHARD_COUNT` (Kubernetes does not
    /// put the completions count in the environment: the Job sets it).
    pub fn from_env(var: impl Fn(&str) -> Option<String>) -> Result<Self, ShardError> {
        let number = |variable: &'static str| -> Result<Option<u32>, ShardError> {
            let Some(value) = var(variable) else {
                return Ok(None);
            };
            value
                .trim()
                .parse::<u32>()
                .map(Some)
                .map_err(|e| ShardError::Environment {
                    variable,
                    value,
                    reason: e.to_string(),
                })
        };
        let pinned = number("PLINTH_SHARD_COUNT")?;
        let (variable, index, count) = if let Some(id) = number("SLURM_ARRAY_TASK_ID")? {
            // Slurm's count and first index describe the array as submitted:
            // re-submitting one task of it (`--array=1`) changes both, so a
            // pinned count takes the id as the shard itself.
            let (index, count) = match pinned {
                Some(count) => (Some(id), Some(count)),
                None => {
                    let min = number("SLURM_ARRAY_TASK_MIN")?.unwrap_or(0);
                    let count = match number("SLURM_ARRAY_TASK_COUNT")? {
                        Some(count) => Some(count),
                        None => {
                            number("SLURM_ARRAY_TASK_MAX")?.map(|max| max.saturating_sub(min) + 1)
                        }
                    };
                    (id.checked_sub(min), count)
                }
            };
            ("SLURM_ARRAY_TASK_ID", index, count)
        } else if let Some(index) = number("JOB_COMPLETION_INDEX")? {
            ("JOB_COMPLETION_INDEX", Some(index), pinned)
        } else {
            return Err(ShardError::NotInEnvironment);
        };
        let bad = |reason: &str| ShardError::Environment {
            variable,
            value: var(variable).unwrap_or_default(),
            reason: reason.to_string(),
        };
        let count = count.ok_or_else(|| bad("the shard count is not in the environment"))?;
        let index = index.ok_or_else(|| bad("below the array's first index"))?;
        Self::new(index, count).ok_or_else(|| bad(&format!("not below the count {count}")))
    }

    /// The output of this shard: `run.jsonl` -> `run.shard-1-of-3.jsonl`,
    /// a directory `out` -> `out.shard-1-of-3`.
    pub fn output_path(&self, path: &Path) -> PathBuf {
        let tag = format!("shard-{}-of-{}", self.index, self.count);
        match (path.file_stem(), path.extension()) {
            (Some(stem), Some(ext)) => path.with_file_name(format!(
                "{}.{tag}.{}",
                stem.to_string_lossy(),
                ext.to_string_lossy()
            )),
            _ => {
                let mut name = path.as_os_str().to_os_string();
                name.push(format!(".{tag}"));
                PathBuf::from(name)
            }
        }
    }
}

impl FromStr for Shard {
    type Err = ShardError;

    fn from_str(spec: &str) -> Result<Self, ShardError> {
        let syntax = || ShardError::Syntax(spec.to_string());
        let (index, count) = spec.split_once('/').ok_or_else(syntax)?;
        let index = index.trim().parse().map_err(|_| syntax())?;
        let count = count.trim().parse().map_err(|_| syntax())?;
        Self::new(index, count).ok_or_else(syntax)
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    #[test]
    fn every_task_is_in_exactly_one_shard_and_shards_are_even() {
        let shards: Vec<Shard> = (0..3).map(|i| Shard::new(i, 3).unwrap()).collect();
        let mut sizes = BTreeMap::new();
        for n in 0..3000 {
            let id = format!("task-{n}");
            let owners: Vec<_> = shards.iter().filter(|s| s.contains(&id)).collect();
            assert_eq!(owners.len(), 1, "{id}");
            *sizes.entry(owners[0].index).or_insert(0) += 1;
        }
        for (_, size) in sizes {
            assert!((900..1100).contains(&size), "{size}");
        }
        // By id alone: the same id is in the same shard whatever else is there.
        assert_eq!(Shard::of("django-1234", 7), Shard::of("django-1234", 7));
    }

    #[test]
    fn shards_parse_from_flags_and_from_the_scheduler() {
        assert_eq!("1/3".parse(), Ok(Shard { index: 1, count: 3 }));
        for bad in ["3/3", "1", "a/3", "1/0", ""] {
            assert!(bad.parse::<Shard>().is_err(), "{bad}");
        }
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| v.to_string())
            }
        };
        let slurm = env(&[
            ("SLURM_ARRAY_TASK_ID", "2"),
            ("SLURM_ARRAY_TASK_COUNT", "3"),
        ]);
        assert_eq!(Shard::from_env(slurm), Ok(Shard { index: 2, count: 3 }));
        // `--array=1-4`: ids 1..=4 are shards 0..=3.
        let from_one = env(&[
            ("SLURM_ARRAY_TASK_ID", "4"),
            ("SLURM_ARRAY_TASK_MIN", "1"),
            ("SLURM_ARRAY_TASK_MAX", "4"),
        ]);
        assert_eq!(Shard::from_env(from_one), Ok(Shard { index: 3, count: 4 }));
        // One task of a 3-task array re-submitted alone, its count pinned.
        let resubmitted = env(&[
            ("SLURM_ARRAY_TASK_ID", "1"),
            ("SLURM_ARRAY_TASK_MIN", "1"),
            ("SLURM_ARRAY_TASK_COUNT", "1"),
            ("PLINTH_SHARD_COUNT", "3"),
        ]);
        assert_eq!(
            Shard::from_env(resubmitted),
            Ok(Shard { index: 1, count: 3 })
        );
        let k8s = env(&[("JOB_COMPLETION_INDEX", "0"), ("PLINTH_SHARD_COUNT", "5")]);
        assert_eq!(Shard::from_env(k8s), Ok(Shard { index: 0, count: 5 }));
        let no_count = env(&[("JOB_COMPLETION_INDEX", "0")]);
        let err = Shard::from_env(no_count).unwrap_err().to_string();
        assert!(err.contains("JOB_COMPLETION_INDEX"), "{err}");
        assert_eq!(Shard::from_env(env(&[])), Err(ShardError::NotInEnvironment));
    }

    #[test]
    fn each_shard_writes_its_own_output() {
        let shard = Shard::new(1, 3).unwrap();
        assert_eq!(
            shard.output_path(Path::new("out/run.jsonl")),
            Path::new("out/run.shard-1-of-3.jsonl")
        );
        assert_eq!(
            shard.output_path(Path::new("out/trajs")),
            Path::new("out/trajs.shard-1-of-3")
        );
    }
}
