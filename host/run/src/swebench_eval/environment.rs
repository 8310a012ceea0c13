//! Where an instance is graded: the official image of the instance (`docker`), or a
//! repository and an activation command on this machine (`local`), each named per row
//! by a template.

use std::path::{Path, PathBuf};

use plinth_swebench::eval_script::{DEFAULT_ACTIVATION, Environment as ScriptEnvironment};
use plinth_swebench::spec::harness;

use super::inputs::Row;

/// The placeholders a template may use.
const PLACEHOLDERS: [&str; 4] = ["instance_id", "docker_id", "repo", "version"];

/// The harness's image names (`TestSpec.instance_image_key` of a remote image).
pub const DEFAULT_IMAGE: &str = "swebench/sweb.eval.x86_64.{docker_id}:latest";

/// A per-row text: `{instance_id}`, `{docker_id}` (the id as the official images spell
/// it: lower case, `__` as `_1776_`), `{repo}` and `{version}` are replaced.
#[derive(Debug, Clone, PartialEq)]
pub struct Template(String);

/// A template naming a placeholder there is no value for.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{flag} `{template}`: unknown placeholder `{{{name}}}` (known: {known})", known = PLACEHOLDERS.map(|p| format!("{{{p}}}")).join(", "))]
pub struct TemplateError {
    pub flag: &'static str,
    pub template: String,
    pub name: String,
}

impl Template {
    /// Checks every `{...}` of `text` names a placeholder; `flag` names it in errors.
    pub fn parse(flag: &'static str, text: &str) -> Result<Self, TemplateError> {
        let mut rest = text;
        while let Some(start) = rest.find('{') {
            let Some(len) = rest[start..].find('}') else {
                break;
            };
            let name = &rest[start + 1..start + len];
            if !PLACEHOLDERS.contains(&name) {
                return Err(TemplateError {
                    flag,
                    template: text.to_string(),
                    name: name.to_string(),
                });
            }
            rest = &rest[start + len + 1..];
        }
        Ok(Self(text.to_string()))
    }

    /// The text for one row.
    pub fn expand(&self, row: &Row) -> String {
        let i = &row.instance;
        self.0
            .replace("{instance_id}", &i.instance_id)
            .replace("{docker_id}", &docker_id(&i.instance_id))
            .replace("{repo}", &i.repo)
            .replace("{version}", &i.version)
    }
}

/// The instance id as the official image names spell it.
fn docker_id(instance_id: &str) -> String {
    instance_id.to_lowercase().replace("__", "_1776_")
}

/// Where instances are graded.
#[derive(Debug, Clone)]
pub enum Environment {
    /// The official image per instance (or `--image`), the repository in `/testbed`,
    /// conda's `testbed` environment: exactly the harness's container.
    Docker { image: Template },
    /// A repository on this machine with its environment installed, graded in place.
    Local {
        /// The repository (`~` is the home directory).
        repo: Template,
        /// Shell text run before the tests, e.g. `source .../venv/bin/activate`.
        activate: Template,
    },
}

impl Environment {
    /// The eval script's environment for a row: the repository's directory and the
    /// activation lines.
    pub fn script_environment(&self, row: &Row) -> ScriptEnvironment {
        match self {
            Environment::Docker { .. } => ScriptEnvironment {
                repo_dir: harness().docker_workdir.clone(),
                activation: DEFAULT_ACTIVATION.iter().map(|s| s.to_string()).collect(),
                test_cmd: None,
            },
            Environment::Local { repo, activate } => ScriptEnvironment {
                repo_dir: self::expand_home(&repo.expand(row))
                    .to_string_lossy()
                    .into_owned(),
                activation: vec![activate.expand(row)],
                test_cmd: None,
            },
        }
    }

    /// The local repository of a row.
    pub fn local_repo(&self, row: &Row) -> Option<PathBuf> {
        match self {
            Environment::Local { repo, .. } => Some(expand_home(&repo.expand(row))),
            Environment::Docker { .. } => None,
        }
    }

    /// The image of a row (docker).
    pub fn image(&self, row: &Row) -> Option<String> {
        match self {
            Environment::Docker { image } => Some(image.expand(row)),
            Environment::Local { .. } => None,
        }
    }
}

/// `~/x` as the home directory's `x` (a template is often written in single quotes).
fn expand_home(path: &str) -> PathBuf {
    match (path.strip_prefix("~/"), std::env::var_os("HOME")) {
        (Some(rest), Some(home)) => Path::new(&home).join(rest),
        _ => PathBuf::from(path),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use plinth_swebench::Instance;

    fn row(id: &str) -> Row {
        Row {
            instance: Instance {
                instance_id: id.into(),
                repo: "django/django".into(),
                version: "4.2".into(),
                base_commit: "c".into(),
                test_patch: String::new(),
                fail_to_pass: vec![],
                pass_to_pass: vec![],
            },
            raw: serde_json::Map::new(),
        }
    }

    #[test]
    fn images_are_named_as_the_harness_names_them() {
        let t = Template::parse("--image", DEFAULT_IMAGE).unwrap();
        assert_eq!(
            t.expand(&row("django__django-15781")),
            "swebench/sweb.eval.x86_64.django_1776_django-15781:latest"
        );
        assert_eq!(
            t.expand(&row("Some__Thing-1")),
            "swebench/sweb.eval.x86_64.some_1776_thing-1:latest"
        );
    }

    #[test]
    fn templates_name_their_placeholders() {
        let t = Template::parse("--repo", "/c/{instance_id}/{repo}@{version}").unwrap();
        assert_eq!(t.expand(&row("a__b-1")), "/c/a__b-1/django/django@4.2");
        let e = Template::parse("--repo", "/c/{id}/repo")
            .unwrap_err()
            .to_string();
        assert!(e.contains("--repo") && e.contains("`{id}`"), "{e}");
        // Braces of shell text that are not closed are left alone.
        assert!(Template::parse("--activate", "echo {").is_ok());
    }

    #[test]
    fn local_environments_activate_their_own_repository() {
        let env = Environment::Local {
            repo: Template::parse("--repo", "~/envs/{instance_id}/repo").unwrap(),
            activate: Template::parse(
                "--activate",
                "source ~/envs/{instance_id}/venv/bin/activate",
            )
            .unwrap(),
        };
        let r = row("a__b-1");
        let script = env.script_environment(&r);
        assert!(
            script.repo_dir.ends_with("/envs/a__b-1/repo"),
            "{}",
            script.repo_dir
        );
        assert!(!script.repo_dir.starts_with('~'));
        assert_eq!(
            script.activation,
            ["source ~/envs/a__b-1/venv/bin/activate"]
        );
        let docker = Environment::Docker {
            image: Template::parse("--image", DEFAULT_IMAGE).unwrap(),
        };
        assert_eq!(docker.script_environment(&r).repo_dir, "/testbed");
        assert_eq!(docker.script_environment(&r).activation.len(), 2);
    }
}
