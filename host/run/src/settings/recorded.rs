//! The settings a run records in every canonical record (`settings`), so a
//! trajectory says what produced it: the model and how it was sampled, the
//! limits, the prompt templates (by hash), the sandbox, the scorers, the
//! tools. Built once per run from the resolved [`RunSettings`] and shared by
//! every record; the record's types are `plinth_record::settings`.
//!
//! Nothing secret is recorded: no API key (the key, however it was given, is
//! simply not a field), a base URL without credentials, and scorer options
//! with secret-looking values redacted. To record a new setting, add a field
//! (with a default, so older records still read: the struct is
//! `#[serde(default)]`) and fill it in `RecordedSettings::from(&RunSettings)` here.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

use plinth_agent::{OnTextReply, Prompts};
use plinth_grade::scoring::ScoringSettings;
use plinth_plugin::{PluginLimits, PluginMeta, RuntimeConfig};
use plinth_record::digest::sha256_hex;
use plinth_record::settings::{
    RecordedAgent, RecordedGroups, RecordedLimits, RecordedModel, RecordedPluginLimits,
    RecordedSandbox, RecordedScorer, RecordedScoring, RecordedSettings, RecordedTokenizer,
    SandboxKind, TemplateHashes,
};

use super::{ModelChoice, RunSettings};

/// What replaces a secret.
const REDACTED: &str = "<redacted>";

fn recorded_plugin_limits(config: &RuntimeConfig) -> RecordedPluginLimits {
    let mut recorded = recorded_limits(&config.limits);
    recorded.per_plugin = config
        .plugin_limits
        .iter()
        .map(|(spec, limits)| (spec.clone(), recorded_limits(limits)))
        .collect();
    recorded
}

fn recorded_limits(limits: &PluginLimits) -> RecordedPluginLimits {
    RecordedPluginLimits {
        memory_bytes: limits.memory_bytes,
        cpu_secs: limits.cpu_budget.as_secs_f64(),
        timeout_secs: limits.call_timeout.as_secs_f64(),
        output_bytes: limits.output_bytes,
        per_plugin: BTreeMap::new(),
    }
}

impl From<&RunSettings> for RecordedSettings {
    /// The record of `settings`: build it once per run and share it.
    fn from(settings: &RunSettings) -> Self {
        let mut model = match &settings.model {
            ModelChoice::Api(config) => RecordedModel {
                name: config.model.clone(),
                base_url: Some(without_credentials(&config.base_url)),
                temperature: config.temperature,
                max_tokens: config.sent_max_tokens(),
                request_timeout_secs: Some(config.request_timeout.as_secs_f64()),
                max_retries: Some(config.max_retries),
                retry_delay_secs: Some(config.retry_base_delay.as_secs_f64()),
                price_per_million: config
                    .price
                    .map(|p| (p.input_per_million, p.output_per_million)),
                capture_tokens: config.capture_tokens,
                extra_body: (!config.extra_body.is_empty())
                    .then(|| redact_secrets(&Value::Object(config.extra_body.clone()))),
                tokenizer: None,
            },
            ModelChoice::Replay(path) => RecordedModel {
                name: format!("replay:{}", path.display()),
                ..RecordedModel::default()
            },
        };
        let agent = &settings.agent;
        model.tokenizer = agent.tokenizer.as_ref().map(|tokenizer| {
            let origin = tokenizer.origin();
            RecordedTokenizer {
                path: display(&origin.path),
                sha256: origin.sha256.clone(),
                chat_template: origin.chat_template.clone(),
                chat_template_sha256: origin.chat_template_sha256.clone(),
            }
        });
        let sandbox = &settings.sandbox;
        let containers = sandbox.kind != SandboxKind::Local;
        let terminal = settings.terminal.then(|| "terminal".to_string());
        Self {
            plinth_version: env!("CARGO_PKG_VERSION").into(),
            model,
            limits: RecordedLimits {
                steps: agent.step_limit,
                cost: agent.cost_limit,
                time_secs: agent.time_limit.map(|t| t.as_secs_f64()),
                format_errors: agent.max_format_errors,
            },
            agent: RecordedAgent {
                require_tool_calls: agent.on_text_reply == OnTextReply::FormatError,
                text_actions: agent.text_actions,
                command_timeout_secs: agent.command_timeout.as_secs_f64(),
                max_output_bytes: sandbox.max_output_bytes,
                completion_markers: agent
                    .completion_markers
                    .iter()
                    .map(ToString::to_string)
                    .collect(),
            },
            templates: template_hashes(&agent.prompts),
            sandbox: RecordedSandbox {
                kind: sandbox.kind,
                image: sandbox.image.clone(),
                network: sandbox.network.clone(),
                memory_bytes: containers.then_some(sandbox.limits.memory_bytes),
                cpus: containers.then_some(sandbox.limits.cpus),
                pids: containers.then_some(sandbox.limits.pids),
                read_only: containers && sandbox.read_only,
                shell: Some(sandbox.shell),
                setup: sandbox.setup.clone(),
            },
            scoring: recorded_scoring(&settings.scoring),
            environment: settings.environment.clone(),
            plugins: BTreeMap::new(),
            plugin_limits: recorded_plugin_limits(&settings.plugins),
            grants: settings
                .plugins
                .plugin_grants
                .iter()
                .map(|(spec, grants)| (spec.clone(), grants.specs()))
                .collect(),
            tools: terminal
                .into_iter()
                .chain(settings.tools.iter().map(|p| display(p)))
                .collect(),
            group_size: settings.group_size,
            groups: RecordedGroups {
                retry_infra: settings.retry_infra,
                min_valid_rollouts: settings.min_valid_rollouts,
                drop_all_equal: settings.drop_all_equal,
                atropos_url: settings.atropos_url.as_deref().map(without_credentials),
            },
            rescored_with: None,
        }
    }
}

/// Notes in `recorded` the hashes of plugins the run loaded.
pub fn record_plugins<'a>(
    recorded: &mut RecordedSettings,
    plugins: impl IntoIterator<Item = &'a PluginMeta>,
) {
    for meta in plugins {
        recorded
            .plugins
            .insert(meta.source.clone(), meta.sha256.clone());
    }
}

fn template_hashes(prompts: &Prompts) -> TemplateHashes {
    TemplateHashes {
        system: sha256_hex(prompts.system.as_bytes()),
        instance: sha256_hex(prompts.instance.as_bytes()),
        format_error: sha256_hex(prompts.format_error.as_bytes()),
        observation: prompts
            .observation
            .as_deref()
            .map(|t| sha256_hex(t.as_bytes())),
    }
}

/// What records say of `scoring`.
pub fn recorded_scoring(scoring: &ScoringSettings) -> RecordedScoring {
    RecordedScoring {
        scorers: scoring
            .scorers
            .iter()
            .map(|s| RecordedScorer {
                name: s.name.clone(),
                weight: s.weight,
            })
            .collect(),
        config: redact_secrets(&scoring.config),
        grade_in: Some(scoring.grading.grade_in),
        grading: scoring.grading.profile,
        protect: scoring.grading.protect.clone(),
        eval_commands: scoring.grading.eval_commands.clone(),
    }
}

fn display(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

/// Whether a name (a JSON key, a query parameter) says its value is a
/// secret, decided on its words, never on a substring: `max_tokens`,
/// `top_logprobs`, `tokenizer` and `return_token_ids` say nothing secret,
/// while `api_key`, `apiKey`, `X-API-Key`, `access_token` and `password` do.
fn secret_name(name: &str) -> bool {
    let words = words(name);
    let Some((last, before)) = words.split_last() else {
        return false;
    };
    // Words that make any name a secret's.
    const SECRET: [&str; 9] = [
        "secret",
        "password",
        "passwd",
        "passphrase",
        "authorization",
        "auth",
        "bearer",
        "credential",
        "credentials",
    ];
    // What names a key that is a secret (a `sort_key` or `cache_key` is not).
    const KEY_KINDS: [&str; 9] = [
        "api",
        "access",
        "private",
        "client",
        "signing",
        "encryption",
        "master",
        "subscription",
        "service",
    ];
    words.iter().any(|word| SECRET.contains(&word.as_str()))
        || last == "apikey"
        // A token is the name's last word (`access_token`, `x-auth-token`);
        // `token_ids` or `max_tokens` count tokens.
        || last == "token"
        // A bare `key` (`?key=` of Google's APIs) or a kind of key.
        || (last == "key"
            && before
                .last()
                .is_none_or(|kind| KEY_KINDS.contains(&kind.as_str())))
}

/// The lowercase words of a name: split at `_`, `-`, `.`, spaces and case
/// changes (`apiKey`, `APIKey` and `X-API-Key` end in `api`, `key`).
fn words(name: &str) -> Vec<String> {
    let chars: Vec<char> = name.chars().collect();
    let mut words = Vec::new();
    let mut word = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if !c.is_alphanumeric() {
            if !word.is_empty() {
                words.push(std::mem::take(&mut word));
            }
            continue;
        }
        let previous = i.checked_sub(1).map(|p| chars[p]);
        let next = chars.get(i + 1);
        // `aB` starts a word at B; so does `ABc` at B (an acronym ends).
        let starts = c.is_uppercase()
            && previous.is_some_and(|p| {
                p.is_lowercase()
                    || p.is_ascii_digit()
                    || (p.is_uppercase() && next.is_some_and(|n| n.is_lowercase()))
            });
        if starts && !word.is_empty() {
            words.push(std::mem::take(&mut word));
        }
        word.extend(c.to_lowercase());
    }
    if !word.is_empty() {
        words.push(word);
    }
    words
}

/// `value` with the values of secret-looking keys replaced, at any depth.
fn redact_secrets(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let v = if secret_name(k) && !v.is_null() {
                        Value::from(REDACTED)
                    } else {
                        redact_secrets(v)
                    };
                    (k.clone(), v)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(redact_secrets).collect()),
        other => other.clone(),
    }
}

/// A URL without its user info (`user:password@`) and with the values of
/// secret-looking query parameters (`?api_key=...`) redacted.
fn without_credentials(url: &str) -> String {
    let (scheme, rest) = match url.split_once("://") {
        Some((scheme, rest)) => (Some(scheme), rest),
        None => (None, url),
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let host = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    let (path, query) = match tail.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (tail, None),
    };
    let mut out = String::with_capacity(url.len());
    if let Some(scheme) = scheme {
        out.push_str(scheme);
        out.push_str("://");
    }
    out.push_str(host);
    out.push_str(path);
    if let Some(query) = query {
        let (query, fragment) = match query.split_once('#') {
            Some((query, fragment)) => (query, Some(fragment)),
            None => (query, None),
        };
        let params: Vec<String> = query
            .split('&')
            .map(|param| match param.split_once('=') {
                Some((name, _)) if secret_name(name) => format!("{name}={REDACTED}"),
                _ => param.to_string(),
            })
            .collect();
        out.push('?');
        out.push_str(&params.join("&"));
        if let Some(fragment) = fragment {
            out.push('#');
            out.push_str(fragment);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::RunOptions;

    const KEY: &str = "sk-live-0123456789abcdef";

    #[test]
    fn no_api_key_is_recorded_however_it_was_given() {
        let flags = RunOptions::parse_flags([
            "--task",
            "t",
            "--model",
            "m",
            "--api-key",
            KEY,
            "--base-url",
            &format!("https://user:{KEY}@api.example.com/v1?api_key={KEY}&region=eu"),
            "--scorer-config",
            &format!(r#"{{"timeout": 30, "hub": {{"token": "{KEY}"}}, "auth": null}}"#),
            "--temperature",
            "0.5",
        ])
        .unwrap();
        let settings = RunSettings::resolve(flags).unwrap();
        let recorded = RecordedSettings::from(&settings);
        let text = serde_json::to_string(&recorded).unwrap();
        assert!(!text.contains(KEY), "{text}");
        assert!(!text.contains("user:"), "{text}");
        assert_eq!(
            recorded.model.base_url.as_deref(),
            Some("https://api.example.com/v1?api_key=<redacted>&region=eu")
        );
        assert_eq!(recorded.scoring.config["timeout"], 30);
        assert_eq!(recorded.scoring.config["hub"]["token"], REDACTED);
        assert_eq!(recorded.model.temperature, Some(0.5));

        // From the environment: resolve reads the key the same way a flag
        // gives it, into the model config, which records no key at all.
        let mut settings =
            RunSettings::resolve(RunOptions::parse_flags(["--task", "t", "--model", "m"]).unwrap())
                .unwrap();
        let ModelChoice::Api(config) = &mut settings.model else {
            panic!("an API model")
        };
        config.api_key = Some(KEY.into());
        let text = serde_json::to_string(&RecordedSettings::from(&settings)).unwrap();
        assert!(!text.contains(KEY), "{text}");
    }

    #[test]
    fn templates_are_recorded_by_hash_and_settings_read_back() {
        let settings = RunSettings::resolve(
            RunOptions::parse_flags(["--task", "t", "--max-iterations", "7"]).unwrap(),
        )
        .unwrap();
        let recorded = RecordedSettings::from(&settings);
        assert_eq!(
            recorded.templates.system,
            sha256_hex(Prompts::default().system.as_bytes())
        );
        assert_eq!(recorded.templates.system.len(), 64);
        assert_eq!(recorded.limits.steps, 7);
        assert_eq!(recorded.tools, ["terminal"]);
        let text = serde_json::to_string(&recorded).unwrap();
        let back: RecordedSettings = serde_json::from_str(&text).unwrap();
        assert_eq!(back, recorded);
        // A record from before a field existed still reads.
        let old: RecordedSettings = serde_json::from_str(r#"{"group_size": 2}"#).unwrap();
        assert_eq!(old.group_size, 2);
    }

    #[test]
    fn secrets_are_told_by_their_names_words() {
        for name in [
            "max_tokens",
            "max_completion_tokens",
            "top_logprobs",
            "tokenizer",
            "return_token_ids",
            "token_ids",
            "prompt_tokens",
            "chat_template_kwargs",
            "sort_key",
            "cache-key",
            "keyword",
            "monkey",
            "author",
            "timeout",
            "",
        ] {
            assert!(!secret_name(name), "`{name}` is not a secret's name");
        }
        for name in [
            "api_key",
            "apiKey",
            "APIKey",
            "x-api-key",
            "X-API-Key",
            "OPENAI_API_KEY",
            "apikey",
            "key",
            "private_key",
            "access_token",
            "auth_token",
            "refreshToken",
            "x-auth-token",
            "token",
            "password",
            "db.passwd",
            "secret",
            "client_secret",
            "secretKey",
            "authorization",
            "Authorization",
            "auth",
            "credentials",
            "aws_credential",
        ] {
            assert!(secret_name(name), "`{name}` is a secret's name");
        }
        assert_eq!(
            words("X-APIKey_v2.fooBar"),
            ["x", "api", "key", "v2", "foo", "bar"]
        );
    }

    #[test]
    fn an_extra_body_keeps_its_counts_and_loses_its_secrets() {
        let flags = RunOptions::parse_flags([
            "--task",
            "t",
            "--extra-body",
            &format!(
                r#"{{"max_tokens": 256, "top_logprobs": 2, "return_token_ids": true,
                    "extra_headers": {{"x-api-key": "{KEY}"}}, "apiKey": "{KEY}"}}"#
            ),
        ])
        .unwrap();
        let recorded = RecordedSettings::from(&RunSettings::resolve(flags).unwrap());
        let body = recorded.model.extra_body.unwrap();
        assert_eq!(body["max_tokens"], 256);
        assert_eq!(body["top_logprobs"], 2);
        assert_eq!(body["return_token_ids"], true);
        assert_eq!(body["extra_headers"]["x-api-key"], REDACTED);
        assert_eq!(body["apiKey"], REDACTED);
    }

    #[test]
    fn urls_lose_their_credentials_only() {
        assert_eq!(
            without_credentials("http://127.0.0.1:8000/v1"),
            "http://127.0.0.1:8000/v1"
        );
        assert_eq!(
            without_credentials("https://a:b@h/v1?key=x&q=1#f"),
            "https://h/v1?key=<redacted>&q=1#f"
        );
    }
}
