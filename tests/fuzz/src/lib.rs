//! The fuzz targets: one per parser of untrusted input. The host's parsers
//! are entered through [`plinth_run::fuzz`] (which says what each checks); the
//! pytest scorer's output parser, which runs in a guest, is called natively
//! here.

use plinth_plugin_pytest::parse;

/// A parser of untrusted input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    TaskRow,
    ModelReply,
    TextActions,
    CommandOutput,
    ShellRequest,
    Grading,
    Manifest,
    Records,
    PytestOutput,
}

impl Target {
    pub const ALL: [Target; 9] = [
        Target::TaskRow,
        Target::ModelReply,
        Target::TextActions,
        Target::CommandOutput,
        Target::ShellRequest,
        Target::Grading,
        Target::Manifest,
        Target::Records,
        Target::PytestOutput,
    ];

    /// The name a corpus directory and the command line use.
    pub fn name(self) -> &'static str {
        match self {
            Target::TaskRow => "task-row",
            Target::ModelReply => "model-reply",
            Target::TextActions => "text-actions",
            Target::CommandOutput => "command-output",
            Target::ShellRequest => "shell-request",
            Target::Grading => "grading",
            Target::Manifest => "manifest",
            Target::Records => "records",
            Target::PytestOutput => "pytest-output",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.name() == name)
    }

    /// Feeds `data` to the target's parser; panics when a property breaks.
    pub fn run(self, data: &[u8]) {
        match self {
            Target::TaskRow => plinth_run::fuzz::task_row(data),
            Target::ModelReply => plinth_run::fuzz::model_reply(data),
            Target::TextActions => plinth_run::fuzz::text_actions(data),
            Target::CommandOutput => plinth_run::fuzz::command_output(data),
            Target::ShellRequest => plinth_run::fuzz::shell_request(data),
            Target::Grading => plinth_run::fuzz::grading(data),
            Target::Manifest => plinth_run::fuzz::manifest(data),
            Target::Records => plinth_run::fuzz::records(data),
            Target::PytestOutput => pytest_output(data),
        }
    }
}

/// pytest's output (after the first line, which lists the wanted node ids,
/// space-separated). Only wanted ids may come back with results.
fn pytest_output(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let (first, output) = text.split_once('\n').unwrap_or(("", &text));
    let wanted: Vec<String> = first.split_whitespace().map(str::to_string).collect();
    let report = parse::parse(output, &wanted);
    for id in report.results.keys() {
        assert!(
            wanted.contains(id),
            "a result for {id:?}, which was not asked for"
        );
    }
}
