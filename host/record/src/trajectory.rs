//! The canonical trajectory record (see `wit/canonical-trajectory.md`): what
//! the host records, saves while a run is in progress, and hands to
//! formatters and scorers (the plugin runtime turns it into the WIT
//! `trajectory` record of each plugin's API version).

use std::borrow::Cow;
use std::io::BufRead;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::grading::Grading;
use crate::settings::RecordedSettings;
use crate::task::Task;
use crate::tokens::{TokenRecord, TrainingNote};

/// Schema tag of every canonical record; moves when the record's JSON changes.
pub const SCHEMA: &str = "plinth-trajectory/0.1";

/// How a run ended: the `exit_status` of a record. The serde names are the
/// record format (mini-swe-agent's spellings); WIT 0.2 passes the same set as
/// the `exit-status` enum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum ExitStatus {
    /// Still going: the status of a checkpoint.
    Running,
    /// A command printed a completion marker.
    Submitted,
    /// The model replied without a tool call and that reply is final.
    Finished,
    /// The step or cost limit was reached.
    LimitsExceeded,
    /// The wall-clock limit was reached.
    TimeExceeded,
    /// Too many consecutive format errors.
    RepeatedFormatError,
    /// The conversation outgrew the model's context window: the server
    /// refused the prompt as too long. Not an error of plinth's side (the
    /// record holds the run up to that call, and it is graded), and a
    /// `--resume` does not run it again into the same wall.
    ContextExceeded,
    /// The sandbox, workspace or a test command failed: not the model's doing.
    InfrastructureError,
    /// The model API failed after its retries.
    ModelError,
    /// A tool or scorer plugin failed.
    PluginError,
}

impl ExitStatus {
    /// Every status, in declaration order (for code and tests that go through
    /// them all, e.g. the WIT conversions' round trips).
    pub const ALL: [Self; 10] = [
        Self::Running,
        Self::Submitted,
        Self::Finished,
        Self::LimitsExceeded,
        Self::TimeExceeded,
        Self::RepeatedFormatError,
        Self::ContextExceeded,
        Self::InfrastructureError,
        Self::ModelError,
        Self::PluginError,
    ];

    /// The name records use.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "Running",
            Self::Submitted => "Submitted",
            Self::Finished => "Finished",
            Self::LimitsExceeded => "LimitsExceeded",
            Self::TimeExceeded => "TimeExceeded",
            Self::RepeatedFormatError => "RepeatedFormatError",
            Self::ContextExceeded => "ContextExceeded",
            Self::InfrastructureError => "InfrastructureError",
            Self::ModelError => "ModelError",
            Self::PluginError => "PluginError",
        }
    }

    /// True when plinth or its environment failed, as opposed to the model
    /// running out of steps or time: such a run has no reward.
    pub fn is_error(self) -> bool {
        matches!(
            self,
            Self::InfrastructureError | Self::ModelError | Self::PluginError
        )
    }
}

impl std::fmt::Display for ExitStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    System,
    User,
    Assistant,
    Tool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FunctionCall {
    pub name: String,
    /// The JSON text exactly as the model sent it.
    pub arguments: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolCall {
    pub id: String,
    #[serde(rename = "type", default = "function_type")]
    pub kind: String,
    pub function: FunctionCall,
}

fn function_type() -> String {
    "function".to_string()
}

impl ToolCall {
    /// A call of function `name` (the only kind of tool call there is).
    pub fn function(id: String, name: String, arguments: String) -> Self {
        Self {
            id,
            kind: function_type(),
            function: FunctionCall { name, arguments },
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    pub role: Role,
    pub content: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ToolCall>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default)]
    pub timestamp: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interrupt: Option<String>,
    /// On an assistant message: why the model stopped (`stop`,
    /// `tool_calls`, `length` when `max_tokens` or the context cut it
    /// short, ...), as the server said; absent when it said nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finish_reason: Option<String>,
    /// On an assistant message with `--capture-tokens`: what its call
    /// sampled, as the server returned it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens: Option<TokenRecord>,
}

impl Message {
    /// A message of `role` with `content`, stamped now.
    pub fn new(role: Role, content: impl Into<String>) -> Self {
        Self {
            role,
            content: Some(content.into()),
            reasoning: None,
            tool_calls: Vec::new(),
            tool_call_id: None,
            name: None,
            timestamp: now_secs(),
            cost: None,
            interrupt: None,
            finish_reason: None,
            tokens: None,
        }
    }
}

/// Token counts (0 when the server reported none), per call or summed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
}

impl std::ops::AddAssign for Usage {
    fn add_assign(&mut self, other: Self) {
        self.prompt_tokens += other.prompt_tokens;
        self.completion_tokens += other.completion_tokens;
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Score {
    pub reward: f64,
    #[serde(default)]
    pub sub_scores: serde_json::Map<String, Value>,
    #[serde(default)]
    pub details: Value,
}

/// A rollout's place in its group (`--group-size`) and the group's rewards.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Group {
    pub id: String,
    pub size: u32,
    pub rollout: u32,
    pub mean: f64,
    pub std: f64,
    pub all_equal: bool,
    /// Rollouts the statistics are over: those that did not end in an error
    /// (absent when that is all of them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid: Option<u32>,
    /// This rollout ended in an error and is left out of the statistics
    /// (never counted as a reward of 0).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub excluded: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trajectory {
    pub schema: String,
    pub id: String,
    pub input_index: u64,
    pub task: Value,
    pub messages: Vec<Message>,
    /// OpenAI tool specs: `{"type": "function", "function": {...}}`.
    pub tools: Vec<Value>,
    pub exit_status: ExitStatus,
    #[serde(default)]
    pub submission: String,
    #[serde(default)]
    pub error: Option<String>,
    pub model: String,
    pub sandbox: String,
    pub api_calls: u32,
    #[serde(default)]
    pub usage: Usage,
    #[serde(default)]
    pub cost: f64,
    pub started_at: String,
    #[serde(default)]
    pub duration_secs: f64,
    pub plinth_version: String,
    #[serde(default)]
    pub patch: Option<String>,
    #[serde(default)]
    pub score: Option<Score>,
    /// Times the rollout was run again in a fresh sandbox after an
    /// infrastructure error (`--retry-infra`); this record is the last run.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub infra_retries: u32,
    /// How the scorers saw the agent's work (absent: not graded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grading: Option<Grading>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<Group>,
    /// With `--capture-tokens`: how the calls' ids assemble for training.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub training: Option<TrainingNote>,
    /// The run's settings, one value shared by all its records (absent in
    /// records written before plinth recorded them).
    #[serde(default, skip_serializing_if = "Option::is_none", with = "shared")]
    pub settings: Option<Arc<RecordedSettings>>,
}

/// (De)serialises the settings behind their `Arc` as the value itself
/// (serde's own `Arc` support is a crate feature that would rebuild every
/// dependency of the workspace).
mod shared {
    use std::sync::Arc;

    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use crate::settings::RecordedSettings;

    pub fn serialize<S: Serializer>(
        value: &Option<Arc<RecordedSettings>>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        value.as_deref().serialize(serializer)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Arc<RecordedSettings>>, D::Error> {
        Ok(Option::<RecordedSettings>::deserialize(deserializer)?.map(Arc::new))
    }
}

/// What a run added since an earlier save: the messages recorded after the
/// first `from`, and every field that changes while a run goes on. A run's
/// checkpoint is its canonical record at the start followed by one progress
/// line per step, so a step costs what it added rather than a rewrite of the
/// whole (growing) record.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Progress<'a> {
    pub from: usize,
    pub messages: Cow<'a, [Message]>,
    pub exit_status: ExitStatus,
    pub submission: Cow<'a, str>,
    pub error: Cow<'a, Option<String>>,
    pub api_calls: u32,
    pub usage: Usage,
    pub cost: f64,
    pub duration_secs: f64,
    pub patch: Cow<'a, Option<String>>,
    pub score: Cow<'a, Option<Score>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grading: Option<Cow<'a, Grading>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<Cow<'a, Group>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub training: Option<Cow<'a, TrainingNote>>,
}

/// A progress line that does not continue the record it follows.
#[derive(Debug, thiserror::Error)]
#[error("progress from message {from} does not follow a record of {have} messages")]
pub struct ProgressGap {
    pub from: usize,
    pub have: usize,
}

/// Why [`read_records`] could not yield a record.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error("{0}")]
    Read(std::io::Error),
    /// A line that is not a record: its number, what is wrong.
    #[error("{0}: {1}")]
    Bad(usize, String),
}

/// Canonical records from JSONL, each with the number of its first line. A
/// run's checkpoint journal reads the same way: a progress line extends the
/// record before it, so a checkpoint can be formatted or rescored like a
/// canonical file. A bad line is reported and the lines after it still read.
pub fn read_records<R: BufRead>(reader: R) -> Records<R> {
    Records {
        lines: reader.lines().enumerate(),
        open: None,
        deferred: None,
    }
}

pub struct Records<R> {
    lines: std::iter::Enumerate<std::io::Lines<R>>,
    /// The last record read, still open to progress lines.
    open: Option<(usize, Trajectory)>,
    /// An error to report after the open record it closed.
    deferred: Option<RecordError>,
}

impl<R> Records<R> {
    /// Reports a bad line, after the record before it: a record ends at the
    /// first line that does not extend it.
    fn fail(&mut self, error: RecordError) -> Option<Result<(usize, Trajectory), RecordError>> {
        match self.open.take() {
            Some(record) => {
                self.deferred = Some(error);
                Some(Ok(record))
            }
            None => Some(Err(error)),
        }
    }
}

impl<R: BufRead> Iterator for Records<R> {
    type Item = Result<(usize, Trajectory), RecordError>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Some(error) = self.deferred.take() {
            return Some(Err(error));
        }
        loop {
            let Some((index, line)) = self.lines.next() else {
                return self.open.take().map(Ok);
            };
            let line_no = index + 1;
            let line = match line {
                Ok(line) => line,
                Err(e) => return Some(Err(RecordError::Read(e))),
            };
            if line.trim().is_empty() {
                continue;
            }
            let value: serde_json::Value = match serde_json::from_str(&line) {
                Ok(value) => value,
                Err(e) => return self.fail(RecordError::Bad(line_no, format!("not JSON: {e}"))),
            };
            if value.get("schema").is_none()
                && value.get("from").is_some()
                && let Some((_, trajectory)) = self.open.as_mut()
            {
                let applied = serde_json::from_value::<Progress>(value)
                    .map_err(|e| e.to_string())
                    .and_then(|p| trajectory.apply(p).map_err(|e| e.to_string()));
                if let Err(e) = applied {
                    return self.fail(RecordError::Bad(
                        line_no,
                        format!("not a progress line of the record before: {e}"),
                    ));
                }
                continue;
            }
            let record = serde_json::from_value::<Trajectory>(value)
                .map(|t| (line_no, t))
                .map_err(|e| RecordError::Bad(line_no, format!("not a canonical trajectory: {e}")));
            match record {
                Ok(record) => {
                    if let Some(done) = self.open.replace(record) {
                        return Some(Ok(done));
                    }
                }
                Err(e) => return self.fail(e),
            }
        }
    }
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// Seconds since the Unix epoch, as message timestamps record them.
pub fn now_secs() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

impl Trajectory {
    /// The task this record ran (for rescoring it): its row, index and
    /// rollout.
    pub fn task(&self) -> Task {
        let row = match &self.task {
            Value::Object(row) => row.clone(),
            _ => Map::new(),
        };
        Task {
            index: self.input_index,
            id: self.id.clone(),
            rollout: self.group.as_ref().map_or(0, |g| g.rollout),
            prompt: String::new(),
            row,
        }
    }

    /// A run of `task` before its first step: identity and metadata only.
    pub fn start(task: &Task, model: &str, sandbox: &str) -> Self {
        Self {
            schema: SCHEMA.into(),
            id: task.id.clone(),
            input_index: task.index,
            task: Value::Object(task.row.clone()),
            messages: Vec::new(),
            tools: Vec::new(),
            exit_status: ExitStatus::Running,
            submission: String::new(),
            error: None,
            model: model.into(),
            sandbox: sandbox.into(),
            api_calls: 0,
            usage: Usage::default(),
            cost: 0.0,
            started_at: humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string(),
            duration_secs: 0.0,
            plinth_version: env!("CARGO_PKG_VERSION").into(),
            patch: None,
            score: None,
            infra_retries: 0,
            grading: None,
            group: None,
            training: None,
            settings: None,
        }
    }

    /// Ends the run in an error `status` (which [`ExitStatus::is_error`]).
    pub fn fail(&mut self, status: ExitStatus, error: impl Into<String>) {
        debug_assert!(status.is_error(), "{status} is not an error status");
        self.exit_status = status;
        self.error = Some(error.into());
    }

    /// The progress since the first `from` messages were saved.
    pub fn progress_since(&self, from: usize) -> Progress<'_> {
        Progress {
            from,
            messages: Cow::Borrowed(&self.messages[from..]),
            exit_status: self.exit_status,
            submission: Cow::Borrowed(&self.submission),
            error: Cow::Borrowed(&self.error),
            api_calls: self.api_calls,
            usage: self.usage,
            cost: self.cost,
            duration_secs: self.duration_secs,
            patch: Cow::Borrowed(&self.patch),
            score: Cow::Borrowed(&self.score),
            grading: self.grading.as_ref().map(Cow::Borrowed),
            group: self.group.as_ref().map(Cow::Borrowed),
            training: self.training.as_ref().map(Cow::Borrowed),
        }
    }

    /// Brings the record up to date with a progress line saved after it.
    pub fn apply(&mut self, progress: Progress<'_>) -> Result<(), ProgressGap> {
        if progress.from != self.messages.len() {
            return Err(ProgressGap {
                from: progress.from,
                have: self.messages.len(),
            });
        }
        self.messages.extend(progress.messages.into_owned());
        self.exit_status = progress.exit_status;
        self.submission = progress.submission.into_owned();
        self.error = progress.error.into_owned();
        self.api_calls = progress.api_calls;
        self.usage = progress.usage;
        self.cost = progress.cost;
        self.duration_secs = progress.duration_secs;
        self.patch = progress.patch.into_owned();
        self.score = progress.score.into_owned();
        self.grading = progress.grading.map(Cow::into_owned);
        self.group = progress.group.map(Cow::into_owned);
        self.training = progress.training.map(Cow::into_owned);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: &str) -> Trajectory {
        serde_json::from_value(serde_json::json!({
            "schema": SCHEMA, "id": id, "input_index": 0,
            "task": {"prompt": "p"}, "messages": [], "tools": [],
            "exit_status": "Running", "model": "m", "sandbox": "local",
            "api_calls": 0, "started_at": "2026-11-21T00:00:00Z", "plinth_version": "0"
        }))
        .unwrap()
    }

    fn line(value: &impl Serialize) -> String {
        serde_json::to_string(value).unwrap() + "\n"
    }

    #[test]
    fn progress_lines_extend_the_record_before_them() {
        let (a, mut b) = (record("a"), record("b"));
        let mut text = line(&a) + &line(&b);
        b.messages.push(Message::new(Role::System, "s"));
        b.api_calls = 1;
        text += &line(&b.progress_since(0));
        b.messages.push(Message::new(Role::User, "u"));
        b.exit_status = ExitStatus::Finished;
        text += &line(&b.progress_since(1));
        // A progress line that skips messages, then a line that is no
        // record, then a good record.
        text += &line(&b.progress_since(2)).replace("\"from\":2", "\"from\":9");
        text += "{oops\n";
        text += &line(&a);

        let read: Vec<_> = read_records(text.as_bytes()).collect();
        let ok = |n: usize| read[n].as_ref().ok().cloned();
        let err = |n: usize| read[n].as_ref().err().map(ToString::to_string);
        assert_eq!(read.len(), 5);
        assert_eq!(ok(0), Some((1, a.clone())));
        assert_eq!(ok(1), Some((2, b)));
        assert!(
            err(2).unwrap().starts_with("5: not a progress line"),
            "{:?}",
            err(2)
        );
        assert!(err(3).unwrap().starts_with("6: not JSON"), "{:?}", err(3));
        assert_eq!(ok(4), Some((7, a)));
    }

    #[test]
    fn exit_status_names_are_the_record_format() {
        for status in ExitStatus::ALL {
            let json = serde_json::to_value(status).unwrap();
            assert_eq!(json, status.as_str());
            assert_eq!(serde_json::from_value::<ExitStatus>(json).unwrap(), status);
        }
    }
}
