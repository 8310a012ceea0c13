//! A Harbor task directory, and a dataset of them (harbor 0.26,
//! `harbor/models/task/task.py`, `paths.py`, and `LocalDatasetConfig`).
//!
//! ```text
//! task/
//! ├── task.toml
//! ├── instruction.md
//! ├── environment/   Dockerfile or docker-compose.yaml (+ build context)
//! ├── solution/      solve.sh: the oracle, copied to /solution
//! └── tests/         test.sh: the verifier, copied to /tests after the agent
//! ```

use std::io;
use std::path::{Path, PathBuf};

use crate::config::{ConfigError, TaskConfig, TaskOs, VerifierEnvironmentMode};

/// Harbor's file and directory names inside a task.
pub const CONFIG_FILE: &str = "task.toml";
pub const INSTRUCTION_FILE: &str = "instruction.md";
pub const ENVIRONMENT_DIR: &str = "environment";
pub const SOLUTION_DIR: &str = "solution";
pub const TESTS_DIR: &str = "tests";
/// The task's own compose file: extra services (and overrides) beside the
/// main container, which is still built from the Dockerfile or prebuilt.
pub const COMPOSE_FILE: &str = "docker-compose.yaml";
/// The main container's build file, `environment/` being its context.
pub const DOCKERFILE: &str = "Dockerfile";

/// Why a directory is not a usable Harbor task.
#[derive(Debug, thiserror::Error)]
pub enum TaskError {
    #[error("{}: not a Harbor task directory (no {CONFIG_FILE})", .0.display())]
    NoConfig(PathBuf),
    #[error("{}: {source}", .path.display())]
    Config { path: PathBuf, source: ConfigError },
    #[error("reading {}: {source}", .path.display())]
    Io { path: PathBuf, source: io::Error },
    #[error("{}: not UTF-8 text", .0.display())]
    NotText(PathBuf),
    #[error("{}: task is missing {INSTRUCTION_FILE}", .0.display())]
    NoInstruction(PathBuf),
    #[error("{}: [environment].os = {os:?} but the task has no {}", .dir.display(), .expected.display())]
    NoTestScript {
        dir: PathBuf,
        os: TaskOs,
        expected: PathBuf,
    },
    #[error("{}: no environment/Dockerfile and no [environment].docker_image", .0.display())]
    NoEnvironment(PathBuf),
    #[error("{}: multi-step tasks ([[steps]]: {steps:?}) are not supported", .dir.display())]
    MultiStep { dir: PathBuf, steps: Vec<String> },
    #[error("{}: Windows tasks ([environment].os = \"windows\") are not supported", .0.display())]
    Windows(PathBuf),
    #[error(
        "{}: a verifier in a container of its own ([verifier].environment_mode = \"separate\" or [verifier.environment], built from tests/Dockerfile) is not supported",
        .0.display()
    )]
    SeparateVerifier(PathBuf),
}

/// How the task's containers are defined (`environment/` and
/// `[environment].docker_image`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnvironmentDefinition {
    /// `environment/Dockerfile`.
    pub dockerfile: Option<PathBuf>,
    /// `environment/docker-compose.yaml`: more services beside `main`.
    pub compose: Option<PathBuf>,
    /// `[environment].docker_image`: a prebuilt main image.
    pub docker_image: Option<String>,
}

/// Where the main container's image comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MainImage {
    /// Pull (or find locally) this image.
    Prebuilt(String),
    /// Build this Dockerfile with its directory as the context.
    Build(PathBuf),
}

impl EnvironmentDefinition {
    /// Harbor's `should_use_prebuilt_docker_image`: a `docker_image` is used
    /// as it is unless `force_build` (`harbor run --force-build`) and a
    /// Dockerfile exists. Terminal-Bench 2.0 tasks carry both; with no
    /// registry reachable, build them (`force_build`).
    pub fn main_image(&self, force_build: bool) -> Option<MainImage> {
        match (&self.docker_image, &self.dockerfile) {
            (Some(_), Some(dockerfile)) if force_build => {
                Some(MainImage::Build(dockerfile.clone()))
            }
            (Some(image), _) => Some(MainImage::Prebuilt(image.clone())),
            (None, Some(dockerfile)) => Some(MainImage::Build(dockerfile.clone())),
            (None, None) => None,
        }
    }
}

/// One Harbor task, loaded and checked.
#[derive(Clone, Debug)]
pub struct Task {
    /// The task directory, absolute.
    pub dir: PathBuf,
    /// `[task].name` when given, else the directory's name (Harbor's `Task.name`).
    pub name: String,
    pub config: TaskConfig,
    /// `instruction.md` with leading canary lines stripped, as the agent sees it.
    pub instruction: String,
    pub environment: EnvironmentDefinition,
    /// `tests/test.sh`.
    pub test_script: PathBuf,
    /// `solution/solve.sh`, when the task has an oracle.
    pub solve_script: Option<PathBuf>,
}

impl Task {
    /// Loads the task in `dir`, with Harbor's checks: `task.toml` valid,
    /// `instruction.md` present, `tests/test.sh` present, an environment
    /// (a Dockerfile or a `docker_image`). Multi-step tasks, Windows tasks
    /// and tasks whose verifier runs in a container of its own are refused
    /// with their own errors: run any other way, they would score wrongly.
    pub fn load(dir: &Path) -> Result<Task, TaskError> {
        let dir = std::path::absolute(dir).map_err(|source| TaskError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        let config_path = dir.join(CONFIG_FILE);
        if !config_path.is_file() {
            return Err(TaskError::NoConfig(dir));
        }
        let config =
            TaskConfig::parse(&read_text(&config_path)?).map_err(|source| TaskError::Config {
                path: config_path.clone(),
                source,
            })?;
        if !config.steps.is_empty() {
            return Err(TaskError::MultiStep {
                dir,
                steps: config.steps,
            });
        }
        if config.environment.os == TaskOs::Windows {
            return Err(TaskError::Windows(dir));
        }
        if config.verifier.environment_mode == VerifierEnvironmentMode::Separate {
            return Err(TaskError::SeparateVerifier(dir));
        }
        let instruction_path = dir.join(INSTRUCTION_FILE);
        if !instruction_path.exists() {
            return Err(TaskError::NoInstruction(dir));
        }
        let instruction = strip_canary(&read_text(&instruction_path)?);
        let test_script = dir.join(TESTS_DIR).join("test.sh");
        if !test_script.exists() {
            return Err(TaskError::NoTestScript {
                dir,
                os: config.environment.os,
                expected: PathBuf::from(TESTS_DIR).join("test.sh"),
            });
        }
        let environment = environment_definition(&dir, &config)?;
        let solve = dir.join(SOLUTION_DIR).join("solve.sh");
        let name = match &config.task {
            Some(package) => package.name.clone(),
            None => dir_name(&dir),
        };
        Ok(Task {
            name,
            config,
            instruction,
            environment,
            test_script,
            solve_script: solve.exists().then_some(solve),
            dir,
        })
    }

    /// `environment/`, the build context.
    pub fn environment_dir(&self) -> PathBuf {
        self.dir.join(ENVIRONMENT_DIR)
    }

    /// `tests/`, copied to `/tests` once the agent has stopped.
    pub fn tests_dir(&self) -> PathBuf {
        self.dir.join(TESTS_DIR)
    }

    /// `solution/`, copied to `/solution` for the oracle.
    pub fn solution_dir(&self) -> PathBuf {
        self.dir.join(SOLUTION_DIR)
    }

    /// The name without its registry org (`terminal-bench/fix-git` → `fix-git`).
    pub fn short_name(&self) -> &str {
        self.name
            .split_once('/')
            .map_or(self.name.as_str(), |(_, short)| short)
    }
}

/// The task's container definition; Harbor's `is_valid_dir` wants an
/// `environment/` directory or a `docker_image`, and its Docker environment
/// then needs a Dockerfile or the image for `main`.
fn environment_definition(
    dir: &Path,
    config: &TaskConfig,
) -> Result<EnvironmentDefinition, TaskError> {
    let env_dir = dir.join(ENVIRONMENT_DIR);
    let file = |name: &str| Some(env_dir.join(name)).filter(|p| p.is_file());
    let definition = EnvironmentDefinition {
        dockerfile: file(DOCKERFILE),
        compose: file(COMPOSE_FILE),
        docker_image: config.environment.docker_image.clone(),
    };
    if definition.dockerfile.is_none() && definition.docker_image.is_none() {
        return Err(TaskError::NoEnvironment(dir.to_path_buf()));
    }
    Ok(definition)
}

fn dir_name(dir: &Path) -> String {
    dir.file_name().map_or_else(
        || dir.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

fn read_text(path: &Path) -> Result<String, TaskError> {
    let bytes = std::fs::read(path).map_err(|source| TaskError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    String::from_utf8(bytes).map_err(|_| TaskError::NotText(path.to_path_buf()))
}

/// Harbor's `strip_canary`: leading lines that are HTML or `#` comments
/// mentioning "canary" (any case), then the blank lines after them, are not
/// shown to the agent.
pub fn strip_canary(text: &str) -> String {
    let lines: Vec<&str> = text.split('\n').collect();
    let is_canary = |line: &str| {
        let l = line.trim_matches(python_space);
        let lower = l.to_lowercase();
        let comment =
            (l.starts_with("<!--") && l.ends_with("-->") && l.len() >= 7) || l.starts_with('#');
        comment && lower.contains("canary")
    };
    let mut i = 0;
    while i < lines.len() && is_canary(lines[i]) {
        i += 1;
    }
    while i < lines.len() && lines[i].trim_matches(python_space).is_empty() {
        i += 1;
    }
    lines[i..].join("\n")
}

fn python_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// A dataset: the task directories directly under one directory, in name
/// order, as Harbor's local dataset (`harbor run -p DIR`) finds them.
#[derive(Debug)]
pub struct Dataset {
    pub dir: PathBuf,
    pub tasks: Vec<Task>,
    /// Sub-directories with a `task.toml` that failed to load, with why:
    /// Harbor skips them silently; a caller should say so.
    pub invalid: Vec<TaskError>,
}

impl Dataset {
    /// Loads every task under `dir`. A directory without `task.toml` is not a
    /// task and is passed over; one with a `task.toml` that fails is listed
    /// in [`Dataset::invalid`].
    pub fn load(dir: &Path) -> Result<Dataset, TaskError> {
        let io_err = |source| TaskError::Io {
            path: dir.to_path_buf(),
            source,
        };
        let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(io_err)?
            .map(|e| e.map(|e| e.path()))
            .collect::<Result<_, _>>()
            .map_err(io_err)?;
        entries.sort();
        let mut tasks = Vec::new();
        let mut invalid = Vec::new();
        for path in entries {
            if !path.is_dir() || !path.join(CONFIG_FILE).is_file() {
                continue;
            }
            match Task::load(&path) {
                Ok(task) => tasks.push(task),
                Err(e) => invalid.push(e),
            }
        }
        Ok(Dataset {
            dir: dir.to_path_buf(),
            tasks,
            invalid,
        })
    }
}

/// Whether `dir` is itself a task (it has a `task.toml`) rather than a dataset.
pub fn is_task_dir(dir: &Path) -> bool {
    dir.join(CONFIG_FILE).is_file()
}
