//! Per-test outcomes from pytest's terminal output. Pure functions, no I/O.
//!
//! The scorer runs pytest with `-rfEsxXp` (and `--no-fold-skipped` where
//! pytest has it), so the "short test summary info" section at the end of the
//! output has one line per test, `WORD node-id[ - message]`:
//!
//! ```text
//! =========================== short test summary info ============================
//! FAILED tests/test_a.py::test_x[a - b] - AssertionError: assert 'a - b' != 'a - b'
//! ERROR tests/test_a.py::test_setup - RuntimeError: fixture exploded
//! ERROR tests/test_broken.py
//! SKIPPED tests/test_a.py::test_skip - Skipped: not today
//! SKIPPED [1] tests/test_a.py:17: not today
//! XFAIL tests/test_a.py::test_xfail - known bug
//! XPASS tests/test_a.py::test_xpass flaky fixed
//! PASSED tests/test_a.py::test_param[a b]
//! ```
//!
//! That line format has been stable since pytest 6 (pytest 6/7 put the XFAIL
//! reason on the next line and the XPASS reason after a plain space). A node
//! id may itself contain spaces and ` - ` (`test_x[a - b]`), so a line cannot
//! be split without knowing the ids: the parser is given the ids it looks for
//! and takes, for each line, the longest wanted id that is the whole rest of
//! the line or is followed by a space. pytest prints node ids as it collected
//! them (non-ASCII parameters escaped, `\xe9`), which is also how SWE-bench
//! and SWE-smith publish them.
//!
//! Only lines after the summary title count, so test output that got past
//! pytest's capture cannot pose as results. A wanted id that names a module,
//! class or parametrized function (`t.py::TestA`, `t.py::test_p`) takes the
//! worst outcome of the tests under it.
//!
//! Skipped tests are folded into `SKIPPED [n] file:line: reason` lines, which
//! name no test, unless pytest knows `--no-fold-skipped` (pytest >= 8.3); such
//! lines are collected apart, and the tests they stand for stay unaccounted.

use std::collections::HashMap;

/// What happened to one listed test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    Passed,
    /// An `xfail`-marked test that failed as expected.
    XFailed,
    /// A non-strict `xfail`-marked test that passed (a strict one is reported
    /// by pytest as `FAILED ... [XPASS(strict)]`).
    XPassed,
    Skipped,
    /// An error in setup or teardown, or the test's module failed to collect.
    Error,
    Failed,
    /// pytest said it could not find the test (exit code 4, "not found").
    NotFound,
    /// The test is in no summary line: it did not run or was not reported.
    Missing,
    /// The test command timed out before pytest reported the test.
    Timeout,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Passed => "passed",
            Self::XFailed => "xfailed",
            Self::XPassed => "xpassed",
            Self::Skipped => "skipped",
            Self::Error => "error",
            Self::Failed => "failed",
            Self::NotFound => "not_found",
            Self::Missing => "missing",
            Self::Timeout => "timeout",
        }
    }

    /// True for the outcomes pytest itself counts as success (exit code 0):
    /// passed, xfailed and (non-strict) xpassed. SWE-bench counts `XFAIL` as
    /// passing too, and its PASS_TO_PASS lists contain such tests.
    pub fn is_pass(self) -> bool {
        matches!(self, Self::Passed | Self::XFailed | Self::XPassed)
    }

    /// Which outcome wins when one test has several summary lines (a test
    /// that passes and then errors in teardown has `PASSED` and `ERROR`).
    fn severity(self) -> u8 {
        match self {
            Self::Passed => 0,
            Self::XPassed => 1,
            Self::XFailed => 2,
            Self::Skipped => 3,
            Self::Missing => 4,
            Self::NotFound => 5,
            Self::Timeout => 6,
            Self::Error => 7,
            Self::Failed => 8,
        }
    }
}

/// One test's outcome and, when pytest gave one, its short message.
#[derive(Debug, Clone, PartialEq)]
pub struct TestResult {
    pub outcome: Outcome,
    pub message: Option<String>,
}

impl TestResult {
    pub fn new(outcome: Outcome, message: Option<String>) -> Self {
        Self { outcome, message }
    }

    /// Keeps the more severe of two results for the same test.
    pub fn merge(&mut self, other: TestResult) {
        if other.outcome.severity() > self.outcome.severity() {
            *self = other;
        } else if other.outcome == self.outcome && self.message.is_none() {
            self.message = other.message;
        }
    }
}

/// An argument pytest refused because it could not find it (exit code 4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotFound {
    /// The argument as pytest printed it: as given, or made absolute, and for
    /// a parametrized id sometimes without its `[...]` part.
    pub arg: String,
    /// "file or directory not found": the file part itself does not exist.
    pub file_missing: bool,
}

/// What one pytest run's output says.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Report {
    /// Results of the wanted ids that have summary lines, keyed by the id as
    /// it was wanted.
    pub results: HashMap<String, TestResult>,
    /// `ERROR path[ - message]` lines naming a file or directory rather than a
    /// test: modules (or packages) that failed to collect.
    pub collection_errors: Vec<(String, Option<String>)>,
    /// `SKIPPED [n] file:line: reason` lines, which name no test.
    pub folded_skips: Vec<String>,
    /// The output has a "short test summary info" section.
    pub has_summary: bool,
    /// The output shows that pytest started a session (header, collection
    /// count, summary or final statistics line).
    pub ran_pytest: bool,
    /// The final statistics line says no tests ran.
    pub no_tests_ran: bool,
    /// Arguments pytest could not find.
    pub not_found: Vec<NotFound>,
    /// pytest rejected `--no-fold-skipped` (it predates pytest 8.3).
    pub rejected_no_fold_skipped: bool,
}

const SUMMARY_TITLE: &str = "short test summary info";

const WORDS: &[(&str, Outcome)] = &[
    ("PASSED", Outcome::Passed),
    ("FAILED", Outcome::Failed),
    ("ERROR", Outcome::Error),
    ("SKIPPED", Outcome::Skipped),
    ("XFAIL", Outcome::XFailed),
    ("XPASS", Outcome::XPassed),
];

const NOT_FOUND_MARKERS: &[(&str, bool)] = &[
    ("ERROR: not found: ", false),
    ("ERROR: found no collectors for ", false),
    ("ERROR: file or directory not found: ", true),
];

/// Reads pytest's output. `wanted` are the node ids this run asked for; only
/// those are matched (and reported) in summary lines.
pub fn parse(output: &str, wanted: &[String]) -> Report {
    let mut keys: HashMap<&str, &str> = HashMap::new();
    for id in wanted {
        keys.insert(id.as_str(), id.as_str());
        // pytest prints `tests/x.py::t` for an argument `./tests/x.py::t`.
        if let Some(stripped) = id.strip_prefix("./") {
            keys.entry(stripped).or_insert(id.as_str());
        }
    }

    let mut report = Report::default();
    let mut in_summary = false;
    for raw in output.split('\n') {
        let clean = strip_ansi(raw);
        let line = clean.trim_end();
        if is_separator(line) {
            if line.contains(SUMMARY_TITLE) {
                in_summary = true;
                report.has_summary = true;
                report.ran_pytest = true;
            } else if is_stats_line(line.trim_matches(|c| c == '=' || c == ' ')) {
                note_stats(&mut report, line);
            }
            continue;
        }
        if is_stats_line(line) {
            note_stats(&mut report, line);
        }
        if line.contains("test session starts") || is_collected_line(line) {
            report.ran_pytest = true;
        }
        if let Some(nf) = not_found(line) {
            report.not_found.push(nf);
            continue;
        }
        if line.contains("unrecognized arguments:") && line.contains("--no-fold-skipped") {
            report.rejected_no_fold_skipped = true;
        }
        if in_summary {
            summary_line(&mut report, line, &keys);
        }
    }
    report
}

/// Handles one line of the short test summary.
fn summary_line(report: &mut Report, line: &str, keys: &HashMap<&str, &str>) {
    let Some((outcome, rest)) = WORDS.iter().find_map(|(word, outcome)| {
        line.strip_prefix(word)
            .and_then(|r| r.strip_prefix(' '))
            .map(|r| (*outcome, r))
    }) else {
        return;
    };
    let matched = match_id(rest, keys).or_else(|| {
        // pytest >= 8: `XFAIL at setup of <id>` when not in the call phase.
        let after = rest.strip_prefix("at ")?;
        let (_, after) = after.split_once(" of ")?;
        match_id(after, keys)
    });
    // A wanted id naming a module, class or parametrized function stands
    // for the tests under it: it takes the worst of their outcomes.
    let tested = rest
        .strip_prefix("at ")
        .and_then(|r| r.split_once(" of "))
        .map_or(rest, |(_, r)| r);
    for (key, id) in keys {
        let under = tested
            .strip_prefix(key)
            .is_some_and(|after| after.starts_with("::") || after.starts_with('['));
        if under {
            let message = (!outcome.is_pass()).then(|| tested.to_string());
            record(report, id, TestResult::new(outcome, message));
        }
    }
    if let Some((id, message)) = matched {
        record(report, id, TestResult::new(outcome, message));
        return;
    }
    match outcome {
        Outcome::Skipped if is_folded_skip(rest) => report.folded_skips.push(line.to_string()),
        Outcome::Error => {
            let (path, message) = match rest.split_once(" - ") {
                Some((path, message)) => (path, non_empty(message)),
                None => (rest, None),
            };
            if !path.contains("::") && !path.is_empty() {
                report.collection_errors.push((path.to_string(), message));
            }
        }
        // A test nobody asked for (the test command named more tests).
        _ => {}
    }
}

fn record(report: &mut Report, id: &str, result: TestResult) {
    match report.results.get_mut(id) {
        Some(existing) => existing.merge(result),
        None => {
            report.results.insert(id.to_string(), result);
        }
    }
}

/// The longest wanted id that is all of `rest` or is followed by a space in
/// it, with the message after it (` - ` or a space stripped).
fn match_id<'a>(rest: &str, keys: &HashMap<&str, &'a str>) -> Option<(&'a str, Option<String>)> {
    if let Some(id) = keys.get(rest) {
        return Some((id, None));
    }
    rest.char_indices()
        .rev()
        .filter(|&(_, c)| c == ' ')
        .find_map(|(i, _)| keys.get(&rest[..i]).map(|id| (*id, &rest[i..])))
        .map(|(id, after)| {
            let after = after.trim_start();
            let message = after.strip_prefix("- ").unwrap_or(after);
            (id, non_empty(message))
        })
}

fn non_empty(s: &str) -> Option<String> {
    let s = s.trim();
    (!s.is_empty()).then(|| s.to_string())
}

/// `[3] tests/x.py:17: reason`
fn is_folded_skip(rest: &str) -> bool {
    rest.strip_prefix('[')
        .and_then(|r| r.split_once("] "))
        .is_some_and(|(n, _)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// A line pytest's `write_sep("=", ...)` produced: `==== title ====`.
fn is_separator(line: &str) -> bool {
    line.starts_with("==") && line.ends_with("==")
}

/// pytest's final line, e.g. `6 failed, 28 passed, 2 skipped in 0.04s`,
/// `no tests ran in 0.01s`, `3 deselected in 0.02s (0:00:00)`; with `-q` it
/// comes without the `=` frame.
fn is_stats_line(line: &str) -> bool {
    let Some((counts, time)) = line.rsplit_once(" in ") else {
        return false;
    };
    let time_ok = time
        .split(' ')
        .next()
        .and_then(|t| t.strip_suffix('s'))
        .is_some_and(|t| !t.is_empty() && t.parse::<f64>().is_ok());
    if !time_ok {
        return false;
    }
    if counts == "no tests ran" {
        return true;
    }
    counts.split(", ").all(|part| {
        part.split_once(' ').is_some_and(|(n, word)| {
            !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) && is_stats_word(word)
        })
    })
}

fn is_stats_word(word: &str) -> bool {
    matches!(
        word,
        "passed"
            | "failed"
            | "error"
            | "errors"
            | "skipped"
            | "deselected"
            | "xfailed"
            | "xpassed"
            | "warning"
            | "warnings"
            | "rerun"
            | "reruns"
            | "subtests passed"
            | "subtests failed"
            | "subtests skipped"
    )
}

fn note_stats(report: &mut Report, line: &str) {
    report.ran_pytest = true;
    if line.contains("no tests ran") {
        report.no_tests_ran = true;
    }
}

/// `collected 39 items`, `collected 39 items / 1 error`, `collected 1 item`.
fn is_collected_line(line: &str) -> bool {
    line.strip_prefix("collected ")
        .and_then(|r| r.split(' ').next())
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

fn not_found(line: &str) -> Option<NotFound> {
    NOT_FOUND_MARKERS.iter().find_map(|(marker, file_missing)| {
        let at = line.find(marker)?;
        let mut arg = &line[at + marker.len()..];
        // pytest <= 5 may put the explanation on the same line.
        for tail in [" (no name ", " (no match in any of "] {
            if let Some(i) = arg.find(tail) {
                arg = &arg[..i];
            }
        }
        let arg = arg.trim();
        (!arg.is_empty()).then(|| NotFound {
            arg: arg.to_string(),
            file_missing: *file_missing,
        })
    })
}

/// The file part of a node id: everything before the first `::`.
pub fn file_part(id: &str) -> &str {
    id.split_once("::").map_or(id, |(file, _)| file)
}

/// A node id without its parameters: `f.py::C::t[a::b]` -> `f.py::C::t`.
fn without_params(id: &str) -> &str {
    match id.find("::") {
        Some(sep) => match id[sep..].find('[') {
            Some(open) => &id[..sep + open],
            None => id,
        },
        None => id,
    }
}

/// `printed` is `id`, or `id` made absolute (`/repo/` + `id`).
fn same_path(printed: &str, id: &str) -> bool {
    printed == id
        || printed
            .strip_suffix(id)
            .is_some_and(|head| head.ends_with('/'))
}

impl NotFound {
    /// True when this message certainly names `id`.
    pub fn names(&self, id: &str) -> bool {
        let id = id.strip_prefix("./").unwrap_or(id);
        if same_path(&self.arg, id) {
            return true;
        }
        self.file_missing && same_path(file_part(&self.arg), file_part(id))
    }

    /// True when this message may name `id`: pytest >= 7 prints a missing
    /// parametrized id without its parameters.
    pub fn may_name(&self, id: &str) -> bool {
        let id = id.strip_prefix("./").unwrap_or(id);
        self.names(id) || same_path(&self.arg, without_params(id))
    }
}

/// Removes ANSI escape sequences (CSI `ESC [ ... final`, OSC `ESC ] ... BEL`
/// or `ESC ] ... ESC \`, and two-byte escapes).
pub fn strip_ansi(s: &str) -> String {
    if !s.contains('\u{1b}') {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\u{1b}' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('[') => {
                for c in chars.by_ref() {
                    if ('\u{40}'..='\u{7e}').contains(&c) {
                        break;
                    }
                }
            }
            Some(']') => {
                while let Some(c) = chars.next() {
                    if c == '\u{7}' {
                        break;
                    }
                    if c == '\u{1b}' && chars.peek() == Some(&'\\') {
                        chars.next();
                        break;
                    }
                }
            }
            // Character set designation: `ESC ( B`.
            Some('(' | ')' | '*' | '+') => {
                chars.next();
            }
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    fn outcome(report: &Report, id: &str) -> Option<Outcome> {
        report.results.get(id).map(|r| r.outcome)
    }

    fn message(report: &Report, id: &str) -> Option<String> {
        report.results.get(id).and_then(|r| r.message.clone())
    }

    const SEP: &str =
        "=========================== short test summary info ============================";

    fn summary(lines: &[&str]) -> String {
        let mut out = String::from(
            "============================= test session starts ==============================\n\
             collected 3 items\n\ntests/test_a.py .F.  [100%]\n\n",
        );
        out.push_str(SEP);
        out.push('\n');
        for l in lines {
            out.push_str(l);
            out.push('\n');
        }
        out.push_str(
            "========================= 1 failed, 2 passed in 0.05s ==========================\n",
        );
        out
    }

    #[test]
    fn plain_outcomes() {
        let wanted = ids(&[
            "tests/test_a.py::test_pass",
            "tests/test_a.py::test_fail",
            "tests/test_a.py::test_err",
            "tests/test_a.py::test_skip",
            "tests/test_a.py::test_xfail",
            "tests/test_a.py::test_xpass",
        ]);
        let out = summary(&[
            "FAILED tests/test_a.py::test_fail - AssertionError: one is not two",
            "ERROR tests/test_a.py::test_err - RuntimeError: fixture exploded",
            "SKIPPED tests/test_a.py::test_skip - Skipped: not today",
            "XFAIL tests/test_a.py::test_xfail - known bug",
            "XPASS tests/test_a.py::test_xpass - flaky fixed",
            "PASSED tests/test_a.py::test_pass",
        ]);
        let r = parse(&out, &wanted);
        assert!(r.has_summary && r.ran_pytest && !r.no_tests_ran);
        assert_eq!(
            outcome(&r, "tests/test_a.py::test_pass"),
            Some(Outcome::Passed)
        );
        assert_eq!(
            outcome(&r, "tests/test_a.py::test_fail"),
            Some(Outcome::Failed)
        );
        assert_eq!(
            message(&r, "tests/test_a.py::test_fail").as_deref(),
            Some("AssertionError: one is not two")
        );
        assert_eq!(
            outcome(&r, "tests/test_a.py::test_err"),
            Some(Outcome::Error)
        );
        assert_eq!(
            outcome(&r, "tests/test_a.py::test_skip"),
            Some(Outcome::Skipped)
        );
        assert_eq!(
            message(&r, "tests/test_a.py::test_skip").as_deref(),
            Some("Skipped: not today")
        );
        assert_eq!(
            outcome(&r, "tests/test_a.py::test_xfail"),
            Some(Outcome::XFailed)
        );
        assert_eq!(
            outcome(&r, "tests/test_a.py::test_xpass"),
            Some(Outcome::XPassed)
        );
        assert_eq!(message(&r, "tests/test_a.py::test_pass"), None);
    }

    #[test]
    fn parametrized_ids_with_spaces_dashes_brackets_and_quotes() {
        let wanted = ids(&[
            "t.py::test_p[a b]",
            "t.py::test_p[a - b]",
            "t.py::test_p[a-b c]",
            "t.py::test_p[[x]]",
            "t.py::test_p[quote'single]",
            "t.py::test_p[quote\"double]",
            "t.py::test_p[]",
            "t.py::test_p[a::b]",
            "t.py::test_p[\\xe9]",
            "t.py::test_p[\\u65e5\\u672c]",
            "t.py::test_p[new\\nline]",
            "t.py::test_nested[x y-1]",
            "t.py::test_p[a]",
        ]);
        let out = summary(&[
            "FAILED t.py::test_p[a - b] - AssertionError: assert 'a - b' != 'a - b'",
            "FAILED t.py::test_p[a b] - x - y",
            "PASSED t.py::test_p[a-b c]",
            "PASSED t.py::test_p[[x]]",
            "PASSED t.py::test_p[quote'single]",
            "PASSED t.py::test_p[quote\"double]",
            "PASSED t.py::test_p[]",
            "PASSED t.py::test_p[a::b]",
            "PASSED t.py::test_p[\\xe9]",
            "PASSED t.py::test_p[\\u65e5\\u672c]",
            "PASSED t.py::test_p[new\\nline]",
            "PASSED t.py::test_nested[x y-1]",
        ]);
        let r = parse(&out, &wanted);
        assert_eq!(outcome(&r, "t.py::test_p[a - b]"), Some(Outcome::Failed));
        assert_eq!(
            message(&r, "t.py::test_p[a - b]").as_deref(),
            Some("AssertionError: assert 'a - b' != 'a - b'")
        );
        assert_eq!(outcome(&r, "t.py::test_p[a b]"), Some(Outcome::Failed));
        assert_eq!(message(&r, "t.py::test_p[a b]").as_deref(), Some("x - y"));
        for id in &wanted[2..12] {
            assert_eq!(outcome(&r, id), Some(Outcome::Passed), "{id}");
        }
        // A prefix of a reported id is not that id.
        assert_eq!(outcome(&r, "t.py::test_p[a]"), None);
    }

    #[test]
    fn real_unicode_in_ids() {
        // With `disable_test_id_escaping_and_forfeit_all_rights_to_community_support`
        // pytest prints ids unescaped.
        let wanted = ids(&["t.py::test_u[日本 語]", "t.py::test_u[é-ß]"]);
        let out = summary(&[
            "FAILED t.py::test_u[日本 語] - assert '日本' == 'x'",
            "PASSED t.py::test_u[é-ß]",
        ]);
        let r = parse(&out, &wanted);
        assert_eq!(outcome(&r, "t.py::test_u[日本 語]"), Some(Outcome::Failed));
        assert_eq!(
            message(&r, "t.py::test_u[日本 語]").as_deref(),
            Some("assert '日本' == 'x'")
        );
        assert_eq!(outcome(&r, "t.py::test_u[é-ß]"), Some(Outcome::Passed));
    }

    #[test]
    fn longest_wanted_id_wins() {
        // Both are valid wanted ids; the line is about the longer one.
        let wanted = ids(&["t.py::test_p[a", "t.py::test_p[a b]"]);
        let r = parse(&summary(&["PASSED t.py::test_p[a b]"]), &wanted);
        assert_eq!(outcome(&r, "t.py::test_p[a b]"), Some(Outcome::Passed));
        assert_eq!(outcome(&r, "t.py::test_p[a"), None);
    }

    #[test]
    fn classes_and_nested_classes() {
        let wanted = ids(&[
            "tests/test_a.py::TestClass::test_method",
            "tests/test_a.py::TestClass::test_method_param[1]",
            "tests/test_a.py::TestClass::TestInner::test_inner",
        ]);
        let out = summary(&[
            "FAILED tests/test_a.py::TestClass::test_method_param[1] - assert 1 == 0",
            "PASSED tests/test_a.py::TestClass::test_method",
            "PASSED tests/test_a.py::TestClass::TestInner::test_inner",
        ]);
        let r = parse(&out, &wanted);
        assert_eq!(outcome(&r, &wanted[0]), Some(Outcome::Passed));
        assert_eq!(outcome(&r, &wanted[1]), Some(Outcome::Failed));
        assert_eq!(outcome(&r, &wanted[2]), Some(Outcome::Passed));
    }

    #[test]
    fn ids_of_modules_classes_and_functions_stand_for_their_tests() {
        let wanted = ids(&[
            "t.py::TestA",
            "t.py::test_p",
            "u.py",
            "t.py::test",
            "t.py::TestA::test_1",
        ]);
        let out = summary(&[
            "FAILED t.py::test_p[2] - assert 2 == 1",
            "PASSED t.py::TestA::test_1",
            "PASSED t.py::TestA::test_2[x y]",
            "PASSED t.py::test_p[1]",
            "PASSED u.py::test_a",
            "PASSED u.py::C::test_b",
            "PASSED t.py::test_other",
        ]);
        let r = parse(&out, &wanted);
        assert_eq!(outcome(&r, "t.py::TestA"), Some(Outcome::Passed));
        assert_eq!(outcome(&r, "t.py::TestA::test_1"), Some(Outcome::Passed));
        assert_eq!(outcome(&r, "t.py::test_p"), Some(Outcome::Failed));
        assert_eq!(
            message(&r, "t.py::test_p").as_deref(),
            Some("t.py::test_p[2] - assert 2 == 1")
        );
        assert_eq!(outcome(&r, "u.py"), Some(Outcome::Passed));
        // `test` is not a parent of `test_other`.
        assert_eq!(outcome(&r, "t.py::test"), None);
    }

    #[test]
    fn teardown_error_after_pass_is_an_error() {
        let wanted = ids(&["t.py::test_td"]);
        let out = summary(&[
            "ERROR t.py::test_td - RuntimeError: teardown exploded",
            "PASSED t.py::test_td",
        ]);
        let r = parse(&out, &wanted);
        assert_eq!(outcome(&r, "t.py::test_td"), Some(Outcome::Error));
        assert_eq!(
            message(&r, "t.py::test_td").as_deref(),
            Some("RuntimeError: teardown exploded")
        );
        // Order does not matter; a failure beats an error.
        let out = summary(&[
            "PASSED t.py::test_td",
            "ERROR t.py::test_td",
            "FAILED t.py::test_td - boom",
        ]);
        let r = parse(&out, &wanted);
        assert_eq!(outcome(&r, "t.py::test_td"), Some(Outcome::Failed));
    }

    #[test]
    fn collection_errors_and_folded_skips() {
        let wanted = ids(&["tests/sub/test_broken.py::test_never", "tests/x.py::test_s"]);
        let out = summary(&[
            "ERROR tests/sub/test_broken.py",
            "ERROR tests/sub dir/test_other.py - ModuleNotFoundError: No module named 'nope'",
            "SKIPPED [1] tests/x.py:17: not today",
            "SKIPPED [2] tests/x.py: module skipped",
        ]);
        let r = parse(&out, &wanted);
        assert!(r.results.is_empty());
        assert_eq!(
            r.collection_errors,
            vec![
                ("tests/sub/test_broken.py".to_string(), None),
                (
                    "tests/sub dir/test_other.py".to_string(),
                    Some("ModuleNotFoundError: No module named 'nope'".to_string())
                ),
            ]
        );
        assert_eq!(r.folded_skips.len(), 2);
    }

    #[test]
    fn old_pytest_xfail_and_xpass_shapes() {
        // pytest 6: reason on the next line; pytest 6/7: XPASS reason after a space;
        // pytest 8+: `XFAIL at setup of <id>`.
        let wanted = ids(&["t.py::test_xfail", "t.py::test_xpass[a b]", "t.py::test_xs"]);
        let out = summary(&[
            "XFAIL t.py::test_xfail",
            "  known bug",
            "XPASS t.py::test_xpass[a b] flaky fixed",
            "XFAIL at setup of t.py::test_xs - reason",
        ]);
        let r = parse(&out, &wanted);
        assert_eq!(outcome(&r, "t.py::test_xfail"), Some(Outcome::XFailed));
        assert_eq!(outcome(&r, "t.py::test_xpass[a b]"), Some(Outcome::XPassed));
        assert_eq!(
            message(&r, "t.py::test_xpass[a b]").as_deref(),
            Some("flaky fixed")
        );
        assert_eq!(outcome(&r, "t.py::test_xs"), Some(Outcome::XFailed));
    }

    #[test]
    fn ansi_colour_is_ignored() {
        let wanted = ids(&[
            "tests/test_a.py::test_fail",
            "tests/test_a.py::test_param[a b]",
        ]);
        let out = "\u{1b}[1m============ test session starts ============\u{1b}[0m\n\
            \u{1b}[31mF\u{1b}[0m\u{1b}[32m.\u{1b}[0m\n\
            \u{1b}[36m\u{1b}[1m=========================== short test summary info ============================\u{1b}[0m\n\
            \u{1b}[31mFAILED\u{1b}[0m tests/test_a.py::\u{1b}[1mtest_fail\u{1b}[0m - AssertionError: one is not two\n\
            \u{1b}[32mPASSED\u{1b}[0m tests/test_a.py::\u{1b}[1mtest_param[a b]\u{1b}[0m\n\
            \u{1b}[31m========================= \u{1b}[31m\u{1b}[1m1 failed\u{1b}[0m, \u{1b}[32m1 passed\u{1b}[0m\u{1b}[31m in 0.01s\u{1b}[0m\u{1b}[31m =========================\u{1b}[0m\n";
        let r = parse(out, &wanted);
        assert_eq!(outcome(&r, &wanted[0]), Some(Outcome::Failed));
        assert_eq!(
            message(&r, &wanted[0]).as_deref(),
            Some("AssertionError: one is not two")
        );
        assert_eq!(outcome(&r, &wanted[1]), Some(Outcome::Passed));
        assert!(r.has_summary && r.ran_pytest);
    }

    #[test]
    fn lines_before_the_summary_do_not_count() {
        // Output a test printed (capture off) that looks like summary lines.
        let wanted = ids(&["t.py::test_a", "t.py::test_b"]);
        let out = format!(
            "PASSED t.py::test_a\nFAILED t.py::test_b - fake\n{SEP}\nFAILED t.py::test_a - real\n\
             === 1 failed in 0.01s ===\n"
        );
        let r = parse(&out, &wanted);
        assert_eq!(outcome(&r, "t.py::test_a"), Some(Outcome::Failed));
        assert_eq!(outcome(&r, "t.py::test_b"), None);
    }

    #[test]
    fn crlf_and_trailing_spaces() {
        let wanted = ids(&["t.py::test_a", "t.py::test_b"]);
        let out = format!("{SEP}\r\nPASSED t.py::test_a  \r\nFAILED t.py::test_b - boom\r\n");
        let r = parse(&out, &wanted);
        assert_eq!(outcome(&r, "t.py::test_a"), Some(Outcome::Passed));
        assert_eq!(message(&r, "t.py::test_b").as_deref(), Some("boom"));
    }

    #[test]
    fn dot_slash_ids_match_what_pytest_prints() {
        let wanted = ids(&["./t.py::test_a"]);
        let r = parse(&format!("{SEP}\nPASSED t.py::test_a\n"), &wanted);
        assert_eq!(outcome(&r, "./t.py::test_a"), Some(Outcome::Passed));
    }

    #[test]
    fn unwanted_tests_are_ignored() {
        let wanted = ids(&["t.py::test_a"]);
        let r = parse(
            &format!("{SEP}\nPASSED t.py::test_a\nFAILED t.py::test_z - x\n"),
            &wanted,
        );
        assert_eq!(r.results.len(), 1);
        assert!(r.collection_errors.is_empty());
    }

    #[test]
    fn stats_lines() {
        for line in [
            "6 failed, 28 passed, 2 skipped, 1 xfailed, 1 xpassed, 2 errors in 0.04s",
            "no tests ran in 0.01s",
            "1 passed, 3 warnings in 123.45s (0:02:03)",
            "3 deselected in 0.02s",
        ] {
            assert!(is_stats_line(line), "{line}");
        }
        for line in [
            "tests run in 3s",
            "No module named pytest",
            "1 passed",
            "PASSED t.py::test in 1s",
            "x passed in 0.1s",
        ] {
            assert!(!is_stats_line(line), "{line}");
        }
        let r = parse(
            "============================ no tests ran in 0.01s =============================\n",
            &[],
        );
        assert!(r.ran_pytest && r.no_tests_ran && !r.has_summary);
        let r = parse("2 passed in 0.01s\n", &[]);
        assert!(r.ran_pytest && !r.no_tests_ran);
        let r = parse("/usr/bin/python3: No module named pytest\n", &[]);
        assert!(!r.ran_pytest);
    }

    #[test]
    fn not_found_messages() {
        let out = "ERROR: not found: /repo/tests/test_a.py::test_nope\n\
            (no match in any of [<Module test_a.py>])\n\n\
            ERROR: not found: /repo/tests/test_a.py::test_param\n\
            ERROR: found no collectors for /repo/tests/sub/test_broken.py::test_never\n\
            ERROR: file or directory not found: tests/nofile.py::test_x\n\
            ERROR: not found: /repo/t.py::test_p[a::b] (no name '/repo/t.py::test_p[a::b]' in any of [<Module t.py>])\n";
        let r = parse(out, &[]);
        assert_eq!(r.not_found.len(), 5);
        assert!(r.not_found[0].names("tests/test_a.py::test_nope"));
        assert!(!r.not_found[0].names("tests/test_a.py::test_no"));
        assert!(!r.not_found[0].names("a.py::test_nope"));
        assert!(!r.not_found[1].names("tests/test_a.py::test_param[zzz]"));
        assert!(r.not_found[1].may_name("tests/test_a.py::test_param[zzz]"));
        assert!(!r.not_found[1].may_name("tests/test_a.py::test_params[zzz]"));
        assert!(r.not_found[2].names("tests/sub/test_broken.py::test_never"));
        assert!(r.not_found[3].file_missing);
        assert!(r.not_found[3].names("tests/nofile.py::test_y"));
        assert!(!r.not_found[3].names("tests/test_a.py::test_x"));
        assert_eq!(r.not_found[4].arg, "/repo/t.py::test_p[a::b]");
        assert!(r.not_found[4].names("t.py::test_p[a::b]"));
    }

    #[test]
    fn rejected_flag() {
        let out = "ERROR: usage: __main__.py [options] [file_or_dir] [file_or_dir] [...]\n\
            __main__.py: error: unrecognized arguments: --no-fold-skipped\n  inifile: None\n";
        assert!(parse(out, &[]).rejected_no_fold_skipped);
        let out = "python -m pytest: error: unrecognized arguments: --bogus\n";
        assert!(!parse(out, &[]).rejected_no_fold_skipped);
    }

    #[test]
    fn strip_ansi_sequences() {
        assert_eq!(strip_ansi("\u{1b}[1;31mred\u{1b}[0m plain"), "red plain");
        assert_eq!(strip_ansi("\u{1b}]0;title\u{7}x\u{1b}]2;t\u{1b}\\y"), "xy");
        assert_eq!(strip_ansi("a\u{1b}(Bb"), "ab");
        assert_eq!(strip_ansi("日本\u{1b}[0m語"), "日本語");
    }

    #[test]
    fn file_part_and_params() {
        assert_eq!(file_part("a/b.py::C::t[x::y]"), "a/b.py");
        assert_eq!(file_part("a/b.py"), "a/b.py");
        assert_eq!(without_params("a/b.py::C::t[x::y]"), "a/b.py::C::t");
        assert_eq!(without_params("a/b[1].py::t"), "a/b[1].py::t");
        assert_eq!(without_params("a/b.py"), "a/b.py");
    }
}
