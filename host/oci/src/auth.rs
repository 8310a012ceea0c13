//! Who we are to a registry: credentials from flags, the environment or docker's
//! `config.json`, and the `WWW-Authenticate` challenges that say how to present them.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;

use crate::error::OciError;

/// The environment variables read by [`Credentials::resolve`].
pub const USERNAME_VAR: &str = "PLINTH_REGISTRY_USERNAME";
pub const PASSWORD_VAR: &str = "PLINTH_REGISTRY_PASSWORD";

/// Credentials for one registry.
#[derive(Clone, Default, PartialEq, Eq)]
pub enum Credentials {
    #[default]
    Anonymous,
    /// Sent as HTTP basic auth, or to the token service of a bearer-token registry.
    Basic { username: String, password: String },
}

impl fmt::Debug for Credentials {
    // Never print a password (it would land in logs and panics).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Anonymous => f.write_str("Anonymous"),
            Self::Basic { username, .. } => write!(f, "Basic({username}, ***)"),
        }
    }
}

impl Credentials {
    /// The credentials for `registry` (as a reference names it): `explicit` (the
    /// `--username`/`--password` flags) first, then `PLINTH_REGISTRY_USERNAME` and
    /// `PLINTH_REGISTRY_PASSWORD`, then the `auths` of docker's config
    /// (`$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`), else anonymous.
    pub fn resolve(registry: &str, explicit: Option<Credentials>) -> Result<Self, OciError> {
        let docker_config = match std::env::var_os("DOCKER_CONFIG") {
            Some(dir) => Some(PathBuf::from(dir).join("config.json")),
            None => std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".docker/config.json")),
        };
        Self::resolve_with(
            registry,
            explicit,
            |name| std::env::var(name).ok(),
            docker_config.as_deref(),
        )
    }

    /// [`Credentials::resolve`] with the environment and docker config given (for tests).
    pub fn resolve_with(
        registry: &str,
        explicit: Option<Credentials>,
        env: impl Fn(&str) -> Option<String>,
        docker_config: Option<&Path>,
    ) -> Result<Self, OciError> {
        if let Some(c) = explicit {
            return Ok(c);
        }
        match (env(USERNAME_VAR), env(PASSWORD_VAR)) {
            (Some(username), Some(password)) => {
                return Ok(Self::Basic { username, password });
            }
            (Some(_), None) | (None, Some(_)) => {
                return Err(OciError::Credentials(format!(
                    "{USERNAME_VAR} and {PASSWORD_VAR} must be set together"
                )));
            }
            (None, None) => {}
        }
        match docker_config {
            Some(path) if path.exists() => from_docker_config(path, registry),
            _ => Ok(Self::Anonymous),
        }
    }

    pub(crate) fn is_anonymous(&self) -> bool {
        matches!(self, Self::Anonymous)
    }

    pub(crate) fn basic_header(&self) -> Option<String> {
        match self {
            Self::Anonymous => None,
            Self::Basic { username, password } => Some(format!(
                "Basic {}",
                STANDARD.encode(format!("{username}:{password}"))
            )),
        }
    }
}

#[derive(Deserialize)]
struct DockerConfig {
    #[serde(default)]
    auths: BTreeMap<String, DockerAuth>,
}

#[derive(Deserialize)]
struct DockerAuth {
    auth: Option<String>,
    username: Option<String>,
    password: Option<String>,
}

/// The keys docker writes for a registry: its host, or a URL (Docker Hub's legacy one).
fn docker_config_keys(registry: &str) -> Vec<String> {
    let mut keys = vec![
        registry.to_string(),
        format!("https://{registry}"),
        format!("http://{registry}"),
        format!("https://{registry}/v1/"),
        format!("https://{registry}/v2/"),
    ];
    if registry == "docker.io" {
        keys.push("https://index.docker.io/v1/".to_string());
        keys.push("index.docker.io".to_string());
        keys.push("registry-1.docker.io".to_string());
    }
    keys
}

fn from_docker_config(path: &Path, registry: &str) -> Result<Credentials, OciError> {
    let bad = |reason: String| OciError::DockerConfig {
        path: path.to_path_buf(),
        reason,
    };
    let text = std::fs::read_to_string(path).map_err(OciError::io(path))?;
    let config: DockerConfig = serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?;
    let Some(entry) = docker_config_keys(registry)
        .iter()
        .find_map(|k| config.auths.get(k))
    else {
        return Ok(Credentials::Anonymous);
    };
    if let Some(auth) = entry.auth.as_deref().filter(|a| !a.is_empty()) {
        let decoded = STANDARD
            .decode(auth.trim())
            .map_err(|e| bad(format!("auths.\"{registry}\".auth is not base64: {e}")))?;
        let decoded = String::from_utf8(decoded)
            .map_err(|_| bad(format!("auths.\"{registry}\".auth is not UTF-8")))?;
        let (username, password) = decoded.split_once(':').ok_or_else(|| {
            bad(format!(
                "auths.\"{registry}\".auth does not decode to username:password"
            ))
        })?;
        return Ok(Credentials::Basic {
            username: username.to_string(),
            password: password.to_string(),
        });
    }
    match (&entry.username, &entry.password) {
        (Some(u), Some(p)) => Ok(Credentials::Basic {
            username: u.clone(),
            password: p.clone(),
        }),
        _ => Ok(Credentials::Anonymous),
    }
}

/// A `WWW-Authenticate` challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Challenge {
    Basic,
    Bearer {
        realm: String,
        service: Option<String>,
        scope: Option<String>,
    },
}

impl Challenge {
    /// Parses `Basic realm="..."` or `Bearer realm="...",service="...",scope="..."`;
    /// `None` for a scheme this client does not speak.
    pub(crate) fn parse(header: &str) -> Option<Self> {
        let header = header.trim();
        let (scheme, rest) = header.split_once(' ').unwrap_or((header, ""));
        let params = parse_params(rest);
        match scheme.to_ascii_lowercase().as_str() {
            "basic" => Some(Self::Basic),
            "bearer" => Some(Self::Bearer {
                realm: params.get("realm")?.clone(),
                service: params.get("service").cloned(),
                scope: params.get("scope").cloned(),
            }),
            _ => None,
        }
    }
}

/// `key="value", key=token` pairs; quoted values may hold commas (`scope="...:pull,push"`).
fn parse_params(s: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut chars = s.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| *c == ',' || c.is_whitespace()) {
            chars.next();
        }
        let key: String = chars.by_ref().take_while(|c| *c != '=').collect();
        if key.is_empty() {
            return out;
        }
        let mut value = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => value.extend(chars.next()),
                    '"' => break,
                    c => value.push(c),
                }
            }
        } else {
            while let Some(c) = chars.next_if(|c| *c != ',') {
                value.push(c);
            }
        }
        out.insert(key.trim().to_ascii_lowercase(), value.trim().to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges() {
        assert_eq!(
            Challenge::parse(
                r#"Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push""#
            ),
            Some(Challenge::Bearer {
                realm: "https://auth.example/token".into(),
                service: Some("registry.example".into()),
                scope: Some("repository:a/b:pull,push".into()),
            })
        );
        assert_eq!(
            Challenge::parse(r#"Basic realm="Registry Realm""#),
            Some(Challenge::Basic)
        );
        assert_eq!(Challenge::parse("Negotiate"), None);
        assert_eq!(Challenge::parse("Bearer service=x"), None);
    }

    #[test]
    fn credentials_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("config.json");
        // "alice:s3cret:x" (a password may hold a colon).
        std::fs::write(
            &config,
            r#"{"auths": {"localhost:5000": {"auth": "YWxpY2U6czNjcmV0Ong="}, "https://index.docker.io/v1/": {"username": "bob", "password": "pw"}}}"#,
        )
        .unwrap();
        let none = |_: &str| None;
        let basic = |u: &str, p: &str| Credentials::Basic {
            username: u.into(),
            password: p.into(),
        };
        assert_eq!(
            Credentials::resolve_with("localhost:5000", None, none, Some(&config)).unwrap(),
            basic("alice", "s3cret:x")
        );
        assert_eq!(
            Credentials::resolve_with("docker.io", None, none, Some(&config)).unwrap(),
            basic("bob", "pw")
        );
        assert_eq!(
            Credentials::resolve_with("ghcr.io", None, none, Some(&config)).unwrap(),
            Credentials::Anonymous
        );
        let env = |k: &str| match k {
            USERNAME_VAR => Some("env-user".to_string()),
            PASSWORD_VAR => Some("env-pw".to_string()),
            _ => None,
        };
        assert_eq!(
            Credentials::resolve_with("localhost:5000", None, env, Some(&config)).unwrap(),
            basic("env-user", "env-pw")
        );
        assert_eq!(
            Credentials::resolve_with(
                "localhost:5000",
                Some(basic("flag", "f")),
                env,
                Some(&config)
            )
            .unwrap(),
            basic("flag", "f")
        );
        let half = |k: &str| (k == USERNAME_VAR).then(|| "u".to_string());
        assert!(Credentials::resolve_with("x.io", None, half, None).is_err());
        std::fs::write(&config, r#"{"auths": {"x.io": {"auth": "!!"}}}"#).unwrap();
        let err = Credentials::resolve_with("x.io", None, none, Some(&config)).unwrap_err();
        assert!(err.to_string().contains("not base64"), "{err}");
        assert!(!format!("{:?}", basic("u", "secret")).contains("secret"));
    }
}
