//! Completion markers: the text a command prints to say the task is done,
//! and where in its output it must stand.
//!
//! The seeds differ: mini-swe-agent submits when the *first line* of a
//! command's output is its marker (the rest is the submission), Hermes'
//! runner when its marker appears *anywhere* (what follows is the
//! submission). Both are on by default; an environment can name its own.

use std::fmt;
use std::str::FromStr;

/// Hermes' completion marker.
const HERMES_MARKER: &str = "MINI_SWE_AGENT_FINAL_OUTPUT";
/// mini-swe-agent's completion marker.
const MSWEA_MARKER: &str = "COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT";

/// Where in a command's output a marker counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MarkerPlace {
    /// The first non-blank line is the marker; the rest is the submission.
    FirstLine,
    /// The marker anywhere; what follows it (trimmed) is the submission.
    Anywhere,
}

/// A completion marker, written `first-line:TEXT` or `anywhere:TEXT` (a
/// bare `TEXT` is `first-line`, the stricter rule: a file that merely
/// mentions the marker does not end the run when it is printed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompletionMarker {
    pub text: String,
    pub place: MarkerPlace,
}

impl CompletionMarker {
    /// mini-swe-agent's and Hermes' markers, each with its own rule.
    pub fn defaults() -> Vec<Self> {
        vec![
            Self {
                text: MSWEA_MARKER.into(),
                place: MarkerPlace::FirstLine,
            },
            Self {
                text: HERMES_MARKER.into(),
                place: MarkerPlace::Anywhere,
            },
        ]
    }

    /// The submission, when `output` carries this marker where it counts.
    fn submission(&self, output: &str) -> Option<String> {
        match self.place {
            MarkerPlace::FirstLine => {
                let trimmed = output.trim_start();
                let (first, rest) = trimmed.split_once('\n').unwrap_or((trimmed, ""));
                (first.trim() == self.text).then(|| rest.to_string())
            }
            MarkerPlace::Anywhere => output
                .find(&self.text)
                .map(|at| output[at + self.text.len()..].trim().to_string()),
        }
    }
}

/// The submission of the first marker (in the order given) that `output`
/// carries.
pub fn submission_in(markers: &[CompletionMarker], output: &str) -> Option<String> {
    markers.iter().find_map(|marker| marker.submission(output))
}

impl FromStr for CompletionMarker {
    type Err = String;

    fn from_str(spec: &str) -> Result<Self, String> {
        let (place, text) = match spec.split_once(':') {
            Some(("first-line", text)) => (MarkerPlace::FirstLine, text),
            Some(("anywhere", text)) => (MarkerPlace::Anywhere, text),
            _ => (MarkerPlace::FirstLine, spec),
        };
        if text.trim().is_empty() || text.contains('\n') || text.trim() != text {
            return Err(format!(
                "`{spec}`: a marker is one line of text without surrounding spaces \
                 (written first-line:TEXT or anywhere:TEXT)"
            ));
        }
        Ok(Self {
            text: text.to_string(),
            place,
        })
    }
}

impl fmt::Display for CompletionMarker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let place = match self.place {
            MarkerPlace::FirstLine => "first-line",
            MarkerPlace::Anywhere => "anywhere",
        };
        write!(f, "{place}:{}", self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_markers_follow_each_seed() {
        let markers = CompletionMarker::defaults();
        let submit = |output: &str| submission_in(&markers, output);
        assert_eq!(
            submit("COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT\nthe patch\n"),
            Some("the patch\n".into())
        );
        assert_eq!(
            submit("some text\nMINI_SWE_AGENT_FINAL_OUTPUT\ndone\n"),
            Some("done".into())
        );
        assert_eq!(
            submit("echo says COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT later"),
            None
        );
        assert_eq!(submit("nothing"), None);
    }

    #[test]
    fn markers_parse_and_print_as_written() {
        let own: CompletionMarker = "DONE".parse().unwrap();
        assert_eq!(own.place, MarkerPlace::FirstLine);
        assert_eq!(own.to_string(), "first-line:DONE");
        let anywhere: CompletionMarker = "anywhere:<<SUBMIT>>".parse().unwrap();
        assert_eq!(anywhere.to_string(), "anywhere:<<SUBMIT>>");
        let markers = [own, anywhere];
        assert_eq!(
            submission_in(&markers, "DONE\nall good"),
            Some("all good".into())
        );
        assert_eq!(submission_in(&markers, "x <<SUBMIT>> y"), Some("y".into()));
        assert_eq!(submission_in(&markers, "not DONE\n"), None);
        assert_eq!(
            submission_in(&markers, "COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT\n"),
            None,
            "the defaults are replaced, not added to"
        );
        for bad in ["", "anywhere:", "first-line: x", "a\nb"] {
            assert!(bad.parse::<CompletionMarker>().is_err(), "{bad:?}");
        }
    }
}
