//! The same summaries `tests/harbor/make_expected.py` makes of Harbor's
//! objects, made of plinth-harbor's.

use std::path::PathBuf;

use plinth_harbor::Task;
use plinth_harbor::config::{NetworkPolicy, TaskConfig, VerifierEnvironmentMode};
use serde_json::{Map, Value, json};

/// `tests/harbor/`.
pub fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/harbor")
}

fn env(vars: &[(String, String)]) -> Value {
    let mut sorted = vars.to_vec();
    sorted.sort();
    Value::Object(
        sorted
            .into_iter()
            .map(|(k, v)| (k, Value::String(v)))
            .collect::<Map<_, _>>(),
    )
}

fn network(p: &NetworkPolicy) -> Value {
    json!({"network_mode": p.network_mode, "allowed_hosts": p.allowed_hosts})
}

pub fn config_summary(c: &TaskConfig) -> Value {
    let e = &c.environment;
    let v = &c.verifier;
    json!({
        "schema_version": c.schema_version,
        "task": c.task.as_ref().map(|t| json!({
            "name": t.name,
            "version": t.version,
            "description": t.description,
            "keywords": t.keywords,
        })),
        "metadata": c.metadata,
        "source": c.source,
        "agent": {
            "timeout_sec": c.agent.timeout_sec,
            "user": c.agent.user,
            "network": c.agent.network.as_ref().map(network),
        },
        "verifier": {
            "timeout_sec": v.timeout_sec,
            "env": env(&v.env),
            "user": v.user,
            "network": v.network.as_ref().map(network),
            "environment_mode": match v.environment_mode {
                VerifierEnvironmentMode::Shared => "shared",
                VerifierEnvironmentMode::Separate => "separate",
            },
        },
        "environment": {
            "build_timeout_sec": e.build_timeout_sec,
            "docker_image": e.docker_image,
            "os": e.os,
            "cpus": e.cpus,
            "memory_mb": e.memory_mb,
            "storage_mb": e.storage_mb,
            "gpus": e.gpus,
            "network": network(&e.network),
            "env": env(&e.env),
            "workdir": e.workdir,
        },
        "solution_env": env(&c.solution_env),
        "steps": c.steps,
    })
}

pub fn task_summary(t: &Task) -> Value {
    json!({
        "name": t.name,
        "instruction": t.instruction,
        "dockerfile": t.environment.dockerfile.is_some(),
        "compose": t.environment.compose.is_some(),
        "docker_image": t.environment.docker_image,
        "solve_script": t.solve_script.as_ref().map(|p| {
            p.strip_prefix(&t.dir).unwrap().to_string_lossy().into_owned()
        }),
        "steps": t.config.steps,
        "config": config_summary(&t.config),
    })
}
