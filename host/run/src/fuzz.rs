//! Every parser of untrusted bytes, as a function of bytes: the fuzz targets
//! in `tests/fuzz` call these, and so do the regression tests that replay
//! the seed corpora and every input a fuzzer ever found to crash or hang.
//!
//! Each entry point feeds its input to the real parser, exactly as a run
//! would, and then checks what must hold of the result (a round trip, the
//! same answer whatever the chunking, a filter that is a fixpoint), so a
//! fuzzer finds wrong answers as well as panics. A broken property panics
//! with what broke.
//!
//! What is untrusted, and where plinth reads it:
//! - task rows: a dataset someone else wrote ([`task_row`]);
//! - model replies: whatever answers at the chat endpoint ([`model_reply`]),
//!   and actions the model writes as text ([`text_actions`]);
//! - a command's output: the agent's command decides every byte
//!   ([`command_output`]), and the model's command, quoted into a
//!   persistent shell session's request line ([`shell_request`]);
//! - the agent's patch, graded against the task's test files ([`grading`]);
//! - an environment manifest downloaded with a bundle ([`manifest`]);
//! - recorded trajectories and checkpoint journals read back for replay,
//!   rescore, merge and resume ([`records`]).
//!
//! pytest's output is parsed by the pytest scorer, a guest; its target is in
//! `tests/fuzz` beside these.

use std::path::Path;

use crate::settings::environment::Bundle;
use plinth_agent::{CompletionMarker, text_actions};
use plinth_grade::{GradingPlan, GradingSettings, PlanRules};
use plinth_model::parse_reply;
use plinth_record::grading::GradeIn;
use plinth_record::task::Task;
use plinth_record::training;
use plinth_record::trajectory::{Trajectory, read_records};
use plinth_sandbox::marker::MarkerScan;
use plinth_sandbox::output::{HeadTail, OutputPolicy, strip_ansi};
use plinth_sandbox::session;

/// One line of a prompts file.
pub fn task_row(data: &[u8]) {
    let line = String::from_utf8_lossy(data);
    match Task::parse_line(6, &line) {
        Ok(Some(task)) => {
            assert!(
                !task.prompt.trim().is_empty(),
                "a task with an empty prompt"
            );
            assert!(!task.id.is_empty(), "a task without an id");
            let _ = task.image();
            for key in ["setup", "install", "eval_commands"] {
                let _ = task.commands(key);
            }
        }
        Ok(None) => assert!(line.trim().is_empty(), "a non-blank line read as blank"),
        Err(bad) => assert_eq!(bad.line, 7, "a bad line named by the wrong number"),
    }
}

/// A chat-completions response body.
pub fn model_reply(data: &[u8]) {
    if let Ok(reply) = parse_reply(data) {
        for call in &reply.tool_calls {
            assert!(!call.id.is_empty(), "a tool call without an id");
        }
    }
}

/// An assistant message read for actions written as text.
pub fn text_actions(data: &[u8]) {
    let content = String::from_utf8_lossy(data);
    for call in text_actions::parse(&content, "bash") {
        if call.name == "bash" {
            let _: serde_json::Value =
                serde_json::from_str(&call.arguments).expect("a fenced block's arguments are JSON");
        }
    }
}

/// The nonce the command-output target's marker uses: short, so a fuzzer
/// can find it (a real one is 32 random hex digits).
const FUZZ_NONCE: &str = "n0";

/// A command's output stream. The first byte chooses how the stream is cut
/// into chunks; the marker scan must find the same marker value and pass on
/// the same bytes however it is cut. Then what the agent does with the
/// output: the completion markers, ANSI stripping, the output cap.
pub fn command_output(data: &[u8]) {
    let Some((&cut, stream)) = data.split_first() else {
        return;
    };
    let whole = scan_markers(stream, &[stream]);
    let chunk = usize::from(cut % 16) + 1;
    let chunks: Vec<&[u8]> = stream.chunks(chunk).collect();
    assert_eq!(
        scan_markers(stream, &chunks),
        whole,
        "the marker scan depends on how the stream is cut ({chunk}-byte chunks)"
    );
    let text = String::from_utf8_lossy(&whole.0);
    let _ = plinth_agent::completion::submission_in(&CompletionMarker::defaults(), &text);
    let stripped = strip_ansi(&text);
    assert!(stripped.len() <= text.len(), "stripping ANSI added text");
    let policy = OutputPolicy {
        max_bytes: 64,
        secrets: vec!["s3cret".into()],
    };
    let (rendered, _) = policy.render(&whole.0, 0);
    assert!(!rendered.contains("s3cret"), "a secret survived redaction");
}

/// What a marker scan passes on and the marker value it finds.
pub fn scan_markers(stream: &[u8], chunks: &[&[u8]]) -> (Vec<u8>, Option<String>) {
    let mut scan = MarkerScan::new(FUZZ_NONCE);
    let mut sink = HeadTail::new(stream.len() * 2 + 2);
    let mut value = None;
    for chunk in chunks {
        if let Some(found) = scan.feed(chunk, &mut sink) {
            value = Some(found);
        }
    }
    scan.finish(&mut sink);
    (sink.finish().0, value)
}

/// The model's command as a persistent session's request: the nonce, a
/// space and the command (without NUL bytes, which no shell string holds),
/// ended by the one NUL the session's `read -d ''` stops at, so no command
/// can end its request early or run as part of the next one.
pub fn shell_request(data: &[u8]) {
    let command = String::from_utf8_lossy(data);
    let request = session::request(&command, FUZZ_NONCE);
    assert_eq!(
        request.find('\0'),
        Some(request.len() - 1),
        "a request that does not end at its one NUL"
    );
    let (nonce, word) = request[..request.len() - 1]
        .split_once(' ')
        .expect("a space after the nonce");
    assert_eq!(nonce, FUZZ_NONCE, "the nonce reads back wrong");
    assert_eq!(
        word,
        command.replace('\0', ""),
        "the command reads back wrong"
    );
}

/// A task row (the first line) and the agent's patch (the rest), graded
/// clean: the patch grading applies must not touch a grading file, so
/// filtering what was already filtered leaves nothing more to filter.
pub fn grading(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let (row, patch) = text.split_once('\n').unwrap_or((&text, ""));
    let Ok(Some(task)) = Task::parse_line(0, row) else {
        return;
    };
    let settings = GradingSettings::default();
    let plan = GradingPlan::new(
        &settings,
        PlanRules::strict(GradeIn::Clean),
        &task,
        Some(patch),
    );
    let again = GradingPlan::new(
        &settings,
        PlanRules::strict(GradeIn::Clean),
        &task,
        Some(&plan.patch),
    );
    assert_eq!(
        again.grading.filtered_paths,
        Vec::<String>::new(),
        "the graded patch still touches grading files"
    );
    assert_eq!(again.patch, plan.patch, "filtering is not a fixpoint");
}

/// An environment manifest (`plinth-env.toml`).
pub fn manifest(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if let Ok(bundle) = Bundle::parse(Path::new("/fuzz/env"), &text) {
        let _ = bundle.options();
        let _ = bundle.recorded();
    }
}

/// A canonical JSONL file or a checkpoint journal. Every record read must
/// write back to JSON that reads as the same record, and its token records
/// (`--capture-tokens`) assemble into training rows whose masks and
/// logprobs line up with their tokens.
pub fn records(data: &[u8]) {
    for (_, record) in read_records(data).flatten() {
        let line = serde_json::to_string(&record).expect("a record serialises");
        let back: Trajectory = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("a record read back from its own JSON fails: {e}"));
        assert_eq!(
            serde_json::to_string(&back).expect("a record serialises"),
            line,
            "a record changes when written and read again"
        );
        let _ = record.task();
        for sample in training::assemble(&record.messages).samples() {
            assert_eq!(sample.masks.len(), sample.tokens.len(), "masks misaligned");
            if let Some(logprobs) = &sample.logprobs {
                assert_eq!(logprobs.len(), sample.tokens.len(), "logprobs misaligned");
            }
        }
        let _ = crate::scored::scored_group(&[(0, &record)]);
    }
}
