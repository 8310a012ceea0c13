//! Unit-test helpers for formatters (feature `testing`; add
//! `plinth-sdk = { ..., features = ["testing"] }` under
//! `[dev-dependencies]`). They run natively with `cargo test`.

use crate::bindings::formatter::exports::plinth::plugin::formatter::Guest;
use crate::bindings::group_formatter::exports::plinth::plugin::group_formatter::Guest as GroupGuest;
use crate::formatter::{FormatterExport, GroupFormatterExport};
use crate::{
    ExitStatus, Formatter, GroupFormatter, Message, PluginError, Role, ScoreResult, SubScore,
    ToolCall, ToolSpec, Trajectory, Usage,
};

/// Calls `T`'s `format` export as the host does: with the options as JSON
/// text, parsed by the SDK.
pub fn format<T: Formatter>(trajectory: Trajectory, options: &str) -> Result<String, PluginError> {
    FormatterExport::<T>::format(trajectory, options.to_string())
}

/// Calls `T`'s `format-group` export as the host does.
pub fn format_group<T: GroupFormatter>(
    group: Vec<Trajectory>,
    options: &str,
) -> Result<String, PluginError> {
    GroupFormatterExport::<T>::format_group(group, options.to_string())
}

fn message(role: Role, content: Option<&str>) -> Message {
    Message {
        role,
        content: content.map(str::to_string),
        reasoning: None,
        tool_calls: Vec::new(),
        tool_call_id: None,
        name: None,
        timestamp: 1763728000.5,
        cost: None,
        interrupt: None,
    }
}

/// A small valid run with a tool call, a score and a patch.
pub fn trajectory() -> Trajectory {
    let mut assistant = message(Role::Assistant, None);
    assistant.tool_calls.push(ToolCall {
        id: "call_1".into(),
        name: "terminal".into(),
        arguments: r#"{"command": "echo hi"}"#.into(),
    });
    assistant.cost = Some(0.25);
    let mut tool = message(
        Role::Tool,
        Some(r#"{"content": {"output": "hi\n", "exit_code": 0, "error": null}}"#),
    );
    tool.tool_call_id = Some("call_1".into());
    tool.name = Some("terminal".into());
    Trajectory {
        id: "t1".into(),
        input_index: 3,
        task: r#"{"id": "t1", "prompt": "Say hi"}"#.into(),
        messages: vec![
            message(Role::System, Some("You are an agent.")),
            message(Role::User, Some("Say hi")),
            assistant,
            tool,
            message(Role::Assistant, Some("Done.")),
        ],
        tools: vec![ToolSpec {
            name: "terminal".into(),
            description: "Run a command.".into(),
            parameters: r#"{"type": "object"}"#.into(),
        }],
        exit_status: ExitStatus::Finished,
        submission: String::new(),
        error: None,
        model: "m".into(),
        sandbox: "local".into(),
        api_calls: 2,
        usage: Usage {
            prompt_tokens: 10,
            completion_tokens: 5,
        },
        cost: 0.5,
        started_at: "2026-11-21T12:00:00Z".into(),
        duration_secs: 2.0,
        plinth_version: "0.1.0".into(),
        patch: Some("diff --git a/x b/x\n".into()),
        score: Some(ScoreResult {
            reward: 1.0,
            sub_scores: vec![SubScore {
                name: "tests".into(),
                value: 1.0,
            }],
            details: r#"{"passed": 1}"#.into(),
        }),
        group: None,
    }
}

/// Asserts `result` is an `invalid-input` error whose message mentions
/// `needle`.
fn expect_invalid(result: Result<String, PluginError>, needle: &str) {
    match result {
        Err(PluginError::InvalidInput(message)) => assert!(
            message.contains(needle),
            "message {message:?} does not mention {needle:?}"
        ),
        other => panic!("expected invalid-input mentioning {needle:?}, got {other:?}"),
    }
}

/// Formats a valid run in both modes; the text is JSON that never ends in a
/// newline, and a JSONL record is one line.
pub fn formats_valid_input<T: Formatter>() {
    for jsonl in [true, false] {
        let text = format::<T>(trajectory(), &format!(r#"{{"jsonl": {jsonl}}}"#))
            .unwrap_or_else(|e| panic!("jsonl={jsonl}: {e:?}"));
        assert!(!text.ends_with('\n'), "trailing newline");
        assert!(plinth_pyjson::loads(&text).is_ok(), "not JSON: {text}");
        if jsonl {
            assert!(!text.contains('\n'), "a JSONL record spans lines: {text}");
        }
    }
}

/// Malformed records and options are `invalid-input` errors, not panics
/// (for formatters that call [`crate::format::check_trajectory`]).
pub fn rejects_malformed_input<T: Formatter>() {
    let jsonl = r#"{"jsonl": true}"#;
    let mut t = trajectory();
    t.task = "{not json".into();
    expect_invalid(format::<T>(t, jsonl), "trajectory.task");

    let mut t = trajectory();
    t.tools[0].parameters = "{\"type\": ".into();
    expect_invalid(format::<T>(t, jsonl), "terminal");

    let mut t = trajectory();
    if let Some(score) = t.score.as_mut() {
        score.details = "passed".into();
    }
    expect_invalid(format::<T>(t, jsonl), "score.details");

    expect_invalid(format::<T>(trajectory(), "[]"), "options");
    expect_invalid(format::<T>(trajectory(), "jsonl"), "options");
}

/// Odd but legal data formats without a panic.
pub fn survives_odd_input<T: Formatter>() {
    let mut t = trajectory();
    t.messages.retain(|m| m.role != Role::User);
    t.messages[1].tool_calls[0].arguments = "\u{0}{[".into();
    t.messages[1].timestamp = f64::NAN;
    t.messages[1].reasoning = Some(String::new());
    t.messages[2].content = None;
    t.messages[2].tool_call_id = None;
    t.messages.push(message(Role::Tool, Some("[1, 2")));
    t.messages
        .push(message(Role::Tool, Some(&"[".repeat(100_000))));
    t.cost = f64::INFINITY;
    t.error = Some("boom".into());
    t.api_calls = 0;
    for options in [r#"{"jsonl": true}"#, r#"{"jsonl": false}"#] {
        format::<T>(t.clone(), options).expect("formats");
    }
    let mut t = trajectory();
    t.messages.clear();
    t.tools.clear();
    t.score = None;
    format::<T>(t, r#"{"jsonl": true}"#).expect("formats an empty run");
}
