//! Capability grants: what a plugin may do with the sandbox session it is
//! lent. A third party's tool or scorer gets only what its bundle (or the
//! user's `--grant`) grants, and nothing by default; the built-ins are ours
//! and get everything.
//!
//! Grants are written as `exec`, `read`, `write` (the whole workspace) or
//! `read:PREFIX`, `write:PREFIX` (a path under the workspace). A file
//! operation is checked twice: its path as written (`..` resolved
//! lexically) and the path the sandbox really opens (symbolic links
//! resolved in the sandbox), so neither `..` nor a link leads out of what
//! was granted.

use std::fmt;
use std::path::{Component, Path, PathBuf};

use plinth_record::paths::normalise;

/// One thing a plugin may do through its session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Capability {
    /// Run commands (`session.exec`).
    Exec,
    /// Read files (`session.read-file`).
    Read,
    /// Write files (`session.write-file`).
    Write,
}

impl fmt::Display for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Exec => "exec",
            Self::Read => "read",
            Self::Write => "write",
        })
    }
}

/// Where a file capability reaches.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Access {
    /// Not granted.
    #[default]
    None,
    /// Any path the sandbox can reach (the built-ins only).
    Anywhere,
    /// Paths under these prefixes, relative to the workspace (`.`: all of it).
    Under(Vec<PathBuf>),
}

/// What a plugin may do with its session.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Grants {
    pub exec: bool,
    pub read: Access,
    pub write: Access,
}

/// A use of the session that was not granted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{capability}` was not granted{}", detail_suffix(.detail))]
pub struct Denied {
    pub capability: Capability,
    /// The path asked for, and why it is outside the grant.
    pub detail: String,
}

fn detail_suffix(detail: &str) -> String {
    if detail.is_empty() {
        String::new()
    } else {
        format!(" ({detail})")
    }
}

impl Grants {
    /// Everything, anywhere: the built-in plugins.
    pub fn all() -> Self {
        Self {
            exec: true,
            read: Access::Anywhere,
            write: Access::Anywhere,
        }
    }

    /// Grants from their written form (`exec`, `read`, `write:out/`, ...).
    pub fn parse<S: AsRef<str>>(specs: &[S]) -> Result<Self, String> {
        let mut grants = Self::default();
        for spec in specs {
            let spec = spec.as_ref().trim();
            let (name, prefix) = match spec.split_once(':') {
                Some((name, prefix)) => (name, Some(prefix)),
                None => (spec, None),
            };
            let access = match (name, prefix) {
                ("exec", None) => {
                    grants.exec = true;
                    continue;
                }
                ("read", _) => &mut grants.read,
                ("write", _) => &mut grants.write,
                _ => {
                    return Err(format!(
                        "`{spec}` is not a capability (exec, read, write, read:PREFIX, write:PREFIX)"
                    ));
                }
            };
            let prefix = match prefix {
                None => PathBuf::from("."),
                Some(prefix) => workspace_prefix(prefix)
                    .ok_or_else(|| format!("`{spec}`: the prefix must be a relative path inside the workspace (no `..`)"))?,
            };
            match access {
                Access::Under(prefixes) => prefixes.push(prefix),
                _ => *access = Access::Under(vec![prefix]),
            }
        }
        Ok(grants)
    }

    /// The written form, for records and listings (`read:*` is anywhere).
    pub fn specs(&self) -> Vec<String> {
        let mut specs = Vec::new();
        if self.exec {
            specs.push("exec".to_string());
        }
        for (name, access) in [("read", &self.read), ("write", &self.write)] {
            match access {
                Access::None => {}
                Access::Anywhere => specs.push(format!("{name}:*")),
                Access::Under(prefixes) => specs.extend(prefixes.iter().map(|p| {
                    if p == Path::new(".") {
                        name.to_string()
                    } else {
                        format!("{name}:{}", p.display())
                    }
                })),
            }
        }
        specs
    }

    /// May the plugin run commands?
    pub fn check_exec(&self) -> Result<(), Denied> {
        if self.exec {
            Ok(())
        } else {
            Err(Denied {
                capability: Capability::Exec,
                detail: String::new(),
            })
        }
    }

    fn access(&self, capability: Capability) -> &Access {
        match capability {
            Capability::Read => &self.read,
            Capability::Write => &self.write,
            Capability::Exec => &Access::None,
        }
    }

    /// The absolute directories `capability` reaches in a workspace at
    /// `cwd` (none: anywhere), or a denial when it is not granted at all.
    pub(crate) fn roots(
        &self,
        capability: Capability,
        cwd: &str,
        path: &str,
    ) -> Result<Option<Vec<PathBuf>>, Denied> {
        match self.access(capability) {
            Access::None => Err(Denied {
                capability,
                detail: format!("`{path}`"),
            }),
            Access::Anywhere => Ok(None),
            Access::Under(prefixes) => Ok(Some(
                prefixes
                    .iter()
                    .map(|p| normalise(&Path::new(cwd).join(p)))
                    .collect(),
            )),
        }
    }
}

/// Is `path` (absolute, normalised) under one of `roots`?
pub(crate) fn within(path: &Path, roots: &[PathBuf]) -> bool {
    roots.iter().any(|root| path.starts_with(root))
}

/// A grant's prefix: relative, inside the workspace, normalised.
fn workspace_prefix(prefix: &str) -> Option<PathBuf> {
    let path = Path::new(prefix);
    if prefix.is_empty() || path.is_absolute() {
        return None;
    }
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::Normal(part) => out.push(part),
            Component::CurDir => {}
            _ => return None,
        }
    }
    Some(if out.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        out
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use plinth_record::paths::absolute;

    #[test]
    fn grants_parse_and_print_as_written() {
        let grants = Grants::parse(&["exec", "read", "write:out/", "write:logs"]).unwrap();
        assert!(grants.exec);
        assert_eq!(grants.read, Access::Under(vec![PathBuf::from(".")]));
        assert_eq!(grants.specs(), ["exec", "read", "write:out", "write:logs"]);
        assert_eq!(Grants::parse::<&str>(&[]).unwrap(), Grants::default());
        assert_eq!(Grants::all().specs(), ["exec", "read:*", "write:*"]);
        for bad in ["run", "exec:x", "read:../up", "write:/etc", "read:"] {
            assert!(Grants::parse(&[bad]).is_err(), "{bad}");
        }
    }

    #[test]
    fn paths_are_checked_against_the_granted_prefixes() {
        let grants = Grants::parse(&["write:out"]).unwrap();
        let roots = grants.roots(Capability::Write, "/w", "x").unwrap().unwrap();
        let ok = |p: &str| within(&absolute("/w", p), &roots);
        assert!(ok("out/a.txt"));
        assert!(ok("/w/out/deep/b"));
        assert!(!ok("out/../secret"));
        assert!(!ok("outside"));
        assert!(!ok("/etc/passwd"));
        assert!(!ok("out/../../w/out2"));
        assert!(ok("./out/./c"));
        let denied = grants.roots(Capability::Read, "/w", "a").unwrap_err();
        assert_eq!(denied.to_string(), "`read` was not granted (`a`)");
        assert!(grants.check_exec().is_err());
    }
}
