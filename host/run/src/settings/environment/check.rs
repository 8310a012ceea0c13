//! `plinth env check`: everything a run of a bundle would load, loaded and
//! checked now, each finding named by the manifest field it comes from, so
//! an author learns what is wrong before a batch fails on it.

use std::fmt;
use std::path::{Path, PathBuf};

use super::Bundle;
use crate::settings::RunSettings;
use plinth_agent::Prompts;
use plinth_plugin::catalog;
use plinth_plugin::{ApiVersion, Grants, Plugin, PluginKind, PluginMeta, PluginRuntime};
use plinth_record::task::Task;

/// One checked thing: the manifest field, and what was found.
#[derive(Debug)]
pub struct Finding {
    pub field: String,
    /// What was found when all is well, else what is wrong.
    pub outcome: Result<String, String>,
}

/// Every finding, and the plugins that loaded (for `env inspect`).
#[derive(Debug, Default)]
pub struct CheckReport {
    pub findings: Vec<Finding>,
    pub plugins: Vec<PluginMeta>,
}

impl CheckReport {
    pub fn ok(&self) -> bool {
        self.findings.iter().all(|f| f.outcome.is_ok())
    }

    fn push(&mut self, field: impl Into<String>, outcome: Result<String, String>) {
        self.findings.push(Finding {
            field: field.into(),
            outcome,
        });
    }
}

impl fmt::Display for CheckReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for finding in &self.findings {
            match &finding.outcome {
                Ok(detail) => writeln!(f, "ok    {}: {detail}", finding.field)?,
                Err(problem) => writeln!(f, "FAIL  {}: {problem}", finding.field)?,
            }
        }
        let failed = self.findings.iter().filter(|f| f.outcome.is_err()).count();
        match failed {
            0 => writeln!(f, "\nall {} checks passed", self.findings.len()),
            n => writeln!(f, "\n{n} of {} checks failed", self.findings.len()),
        }
    }
}

/// Checks `bundle`: its settings resolve, its API version is one plinth
/// has, every plugin loads as the kind and API version the manifest says
/// (tool parameters valid JSON Schema), its templates render for a sample
/// task, and its task file reads.
pub async fn check(bundle: &Bundle, runtime: &PluginRuntime, extra: &[PathBuf]) -> CheckReport {
    let mut report = CheckReport::default();
    let m = &bundle.manifest;
    report.push(
        "manifest",
        Ok(format!(
            "{} {} ({})",
            bundle.name(),
            bundle.version(),
            bundle.manifest_path().display()
        )),
    );
    let api = ApiVersion::matching(bundle.api());
    report.push(
        "environment.api",
        match api {
            Some(v) => Ok(format!("plinth:plugin@{v}")),
            None => Err(format!(
                "`{}` is not a plugin API version this plinth has (it has {})",
                bundle.api(),
                ApiVersion::supported_list()
            )),
        },
    );

    let tasks = check_tasks(bundle, &mut report);
    let sample = tasks.unwrap_or_else(|| Task::single("A sample task, to render the templates."));
    let mut options = bundle.options();
    if options.prompts_file.is_none() {
        options.task = Some(sample.prompt.clone());
    }
    // Whether local commands of granted plugins are acceptable is the user's
    // call when running, not a property of the bundle.
    options.grants.allow_local_exec = Some(true);
    report.push(
        "settings",
        RunSettings::resolve(options)
            .map(|_| "every value is valid".to_string())
            .map_err(|e| e.to_string()),
    );

    // Every plugin the bundle names, by its manifest field.
    let options = bundle.options();
    let mut plugins: Vec<(String, String, PluginKind)> = Vec::new();
    if options.no_terminal != Some(true) {
        plugins.push(("tools.terminal".into(), "terminal".into(), PluginKind::Tool));
    }
    for (i, tool) in options.tool.iter().enumerate() {
        let spec = tool.to_string_lossy().into_owned();
        plugins.push((format!("tools.plugins[{i}]"), spec, PluginKind::Tool));
    }
    for (i, scorer) in m.scorers.iter().enumerate() {
        let spec = bundle.plugin(&scorer.plugin);
        plugins.push((format!("scorers[{i}].plugin"), spec, PluginKind::Scorer));
    }
    if let Some(format) = options.format.filter(|f| f != "canonical") {
        plugins.push(("output.format".into(), format, PluginKind::Formatter));
    }
    let mut tool_names = Vec::new();
    for (field, spec, kind) in &plugins {
        let names = check_plugin(&mut report, runtime, extra, api, field, spec, *kind).await;
        tool_names.extend(names);
    }

    let mut prompts = Prompts::default();
    let mut readable = true;
    let mut read = |field: &str, path: &Option<PathBuf>| {
        let path = path.as_ref()?;
        std::fs::read_to_string(bundle.path(path))
            .map_err(|e| {
                readable = false;
                report.push(field, Err(format!("cannot read {}: {e}", path.display())));
            })
            .ok()
    };
    let t = &m.templates;
    if let Some(text) = read("templates.system", &t.system) {
        prompts.system = text;
    }
    if let Some(text) = read("templates.instance", &t.instance) {
        prompts.instance = text;
    }
    if let Some(text) = read("templates.format_error", &t.format_error) {
        prompts.format_error = text;
    }
    prompts.observation = read("templates.observation", &t.observation);
    if readable {
        let tools: Vec<&str> = tool_names.iter().map(String::as_str).collect();
        report.push(
            "templates",
            prompts
                .render_sample(&sample, tools)
                .map(|(system, user)| {
                    format!(
                        "render for task `{}` ({} + {} characters)",
                        sample.id,
                        system.len(),
                        user.len()
                    )
                })
                .map_err(|e| e.to_string()),
        );
    }
    report
}

/// Reads the bundle's task file, if it names one: every line must be a
/// task. Returns its first task, as the sample the templates render.
fn check_tasks(bundle: &Bundle, report: &mut CheckReport) -> Option<Task> {
    let path = bundle.manifest.environment.tasks.as_deref()?;
    let (tasks, bad) = match Task::read_file(&bundle.path(path)) {
        Ok(read) => read,
        Err(e) => {
            report.push(
                "environment.tasks",
                Err(format!("cannot read {}: {e}", path.display())),
            );
            return None;
        }
    };
    let bad: Vec<String> = bad.iter().map(ToString::to_string).collect();
    report.push(
        "environment.tasks",
        if bad.is_empty() {
            Ok(format!("{} task(s) in {}", tasks.len(), path.display()))
        } else {
            Err(format!("{}: {}", path.display(), bad.join("; ")))
        },
    );
    tasks.into_iter().next()
}

/// Loads one plugin as `kind` and checks its API version and, for a tool,
/// its parameter schemas; the names of the tools it offers.
async fn check_plugin(
    report: &mut CheckReport,
    runtime: &PluginRuntime,
    extra: &[PathBuf],
    api: Option<ApiVersion>,
    field: &str,
    spec: &str,
    kind: PluginKind,
) -> Vec<String> {
    let shown = shown(spec);
    let plugin = match catalog::find(runtime, spec, kind, extra).await {
        Ok(plugin) => plugin,
        Err(e) => {
            report.push(field, Err(format!("{shown}: {e}")));
            return Vec::new();
        }
    };
    let meta = plugin.meta().clone();
    if let Some(api) = api
        && meta.api_version != api
    {
        report.push(
            field,
            Err(format!(
                "{shown} is built against plinth:plugin@{}, the manifest's environment.api is {api}",
                meta.api_version
            )),
        );
        return Vec::new();
    }
    let world = plugin.world();
    let mut problems = Vec::new();
    let mut tool_names = Vec::new();
    if let Plugin::Tool(tool) = &plugin {
        for spec in &tool.tools {
            tool_names.push(spec.name.clone());
            if let Err(e) = jsonschema::meta::validate(&spec.parameters) {
                problems.push(format!(
                    "tool `{}`: its parameters are not valid JSON Schema: {e}",
                    spec.name
                ));
            }
        }
    }
    report.push(
        field,
        if problems.is_empty() {
            Ok(format!(
                "{shown}: {} {} ({world}, sha256 {}); limits: {}; grants: {}",
                meta.name,
                meta.version,
                &meta.sha256[..12],
                meta.limits,
                shown_grants(&meta.grants, kind)
            ))
        } else {
            Err(format!("{shown}: {}", problems.join("; ")))
        },
    );
    report.plugins.push(meta);
    tool_names
}

/// What a tool or scorer may do with its session, as the manifest writes
/// it (formatters get no session).
pub(crate) fn shown_grants(grants: &Grants, kind: PluginKind) -> String {
    match kind {
        PluginKind::Formatter => "no sandbox (formatter)".into(),
        _ if *grants == Grants::all() => "everything (built in)".into(),
        _ if *grants == Grants::default() => "none".into(),
        _ => grants.specs().join(", "),
    }
}

/// A plugin spec as a person reads it: a bundle path shortened to its file
/// name's last two components.
fn shown(spec: &str) -> String {
    let path = Path::new(spec);
    if path.components().count() > 2 {
        let mut tail: Vec<_> = path.iter().rev().take(2).collect();
        tail.reverse();
        return tail
            .iter()
            .map(|c| c.to_string_lossy())
            .collect::<Vec<_>>()
            .join("/");
    }
    spec.to_string()
}
