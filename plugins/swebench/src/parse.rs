//! The harness's Python log parsers (`log_parsers/python.py` of 4.1.0) and
//! `get_logs_eval`, with their quirks: a pytest id is the second whitespace-separated word
//! of its line (an id with a space is cut there, and the published test lists are cut
//! the same way), Django names a test by its docstring when it has one, lines are split
//! and stripped with Python's notion of whitespace.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::OnceLock;

use plinth_pyjson::{py_isspace, py_strip};
use serde::{Deserialize, Serialize};

use crate::pychar::DECIMAL;
use crate::spec::harness;

/// A status as the parsers write it. The five are `TestStatus`'s values; a parser can
/// also store another word (pytest's `ERROR:` line keys `file` with `ERROR:`; pytest_v2
/// stores any second word of a line that ends in a status), which grading counts as
/// neither passing nor failing.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TestStatus {
    Failed,
    Passed,
    Skipped,
    Error,
    Xfail,
    Other(String),
}

impl TestStatus {
    /// The five statuses, in `TestStatus`'s order (the order `startswith` tries them).
    const KNOWN: [TestStatus; 5] = [
        TestStatus::Failed,
        TestStatus::Passed,
        TestStatus::Skipped,
        TestStatus::Error,
        TestStatus::Xfail,
    ];

    pub fn as_str(&self) -> &str {
        match self {
            TestStatus::Failed => "FAILED",
            TestStatus::Passed => "PASSED",
            TestStatus::Skipped => "SKIPPED",
            TestStatus::Error => "ERROR",
            TestStatus::Xfail => "XFAIL",
            TestStatus::Other(word) => word,
        }
    }

    /// The status a parser stored as text.
    pub fn from_word(word: &str) -> Self {
        Self::KNOWN
            .into_iter()
            .find(|s| s.as_str() == word)
            .unwrap_or_else(|| TestStatus::Other(word.to_string()))
    }

    /// `test_passed`: PASSED or XFAIL.
    pub fn passes(&self) -> bool {
        matches!(self, TestStatus::Passed | TestStatus::Xfail)
    }

    /// `test_failed` for a test that is in the map: FAILED or ERROR.
    pub fn fails(&self) -> bool {
        matches!(self, TestStatus::Failed | TestStatus::Error)
    }
}

impl fmt::Display for TestStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for TestStatus {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for TestStatus {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(|w| TestStatus::from_word(&w))
    }
}

/// Test name -> status, as a parser returns it.
pub type StatusMap = BTreeMap<String, TestStatus>;

/// The log formats of the Python repositories (`MAP_REPO_TO_PARSER`, by the function each
/// repository's entry is an alias of).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Parser {
    Pytest,
    PytestOptions,
    Django,
    PytestV2,
    Seaborn,
    Sympy,
    Matplotlib,
}

impl Parser {
    pub const ALL: [Parser; 7] = [
        Parser::Pytest,
        Parser::PytestOptions,
        Parser::Django,
        Parser::PytestV2,
        Parser::Seaborn,
        Parser::Sympy,
        Parser::Matplotlib,
    ];

    /// The name `make_data.py` writes (the function name without `parse_log_`).
    pub fn name(self) -> &'static str {
        match self {
            Parser::Pytest => "pytest",
            Parser::PytestOptions => "pytest_options",
            Parser::Django => "django",
            Parser::PytestV2 => "pytest_v2",
            Parser::Seaborn => "seaborn",
            Parser::Sympy => "sympy",
            Parser::Matplotlib => "matplotlib",
        }
    }

    /// The parser's function.
    pub fn function(self) -> ParseFn {
        match self {
            Parser::Pytest => pytest,
            Parser::PytestOptions => pytest_options,
            Parser::Django => django,
            Parser::PytestV2 => pytest_v2,
            Parser::Seaborn => seaborn,
            Parser::Sympy => sympy,
            Parser::Matplotlib => matplotlib,
        }
    }
}

/// A parser: a log in, its status map out.
pub type ParseFn = fn(&str) -> Result<StatusMap, ParseError>;

/// Where the harness's parser itself raises on a log (it indexes a word a line lacks);
/// the harness then has no report for the instance, which counts as unresolved.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("the harness's {parser} parser raises IndexError on the log line {line:?}")]
pub struct ParseError {
    pub parser: &'static str,
    pub line: String,
}

/// Python's `str.split()` with no argument.
fn words(line: &str) -> Vec<&str> {
    line.split(py_isspace).filter(|w| !w.is_empty()).collect()
}

/// The status the line starts with, as `any(line.startswith(x.value) for x in TestStatus)`.
fn starts_with_status(line: &str) -> bool {
    TestStatus::KNOWN
        .iter()
        .any(|s| line.starts_with(s.as_str()))
}

/// The body `parse_log_pytest`, `parse_log_matplotlib` and (per line) `pytest_v2` share:
/// a line starting with a status keys its second word with its first, FAILED lines with
/// ` - ` made a space first.
fn pytest_line(line: &str, map: &mut StatusMap, key: impl Fn(&str) -> String) {
    if !starts_with_status(line) {
        return;
    }
    let line = if line.starts_with("FAILED") {
        line.replace(" - ", " ")
    } else {
        line.to_string()
    };
    let words = words(&line);
    if words.len() <= 1 {
        return;
    }
    map.insert(key(words[1]), TestStatus::from_word(words[0]));
}

/// `parse_log_pytest` (pytest-dev/pytest, sqlfluff, xarray, flask, astroid, marshmallow,
/// pvlib, pyvista).
pub fn pytest(log: &str) -> Result<StatusMap, ParseError> {
    let mut map = StatusMap::new();
    for line in log.split('\n') {
        pytest_line(line, &mut map, str::to_string);
    }
    Ok(map)
}

/// `parse_log_matplotlib`: pytest's, after `MouseButton.LEFT` -> `1` and `.RIGHT` -> `3`.
pub fn matplotlib(log: &str) -> Result<StatusMap, ParseError> {
    let mut map = StatusMap::new();
    for line in log.split('\n') {
        let line = line
            .replace("MouseButton.LEFT", "1")
            .replace("MouseButton.RIGHT", "3");
        pytest_line(&line, &mut map, str::to_string);
    }
    Ok(map)
}

/// `parse_log_pytest_options` (requests, pylint, pydicom): an id with `[options]` keeps,
/// of an option that is a path, only its last component.
pub fn pytest_options(log: &str) -> Result<StatusMap, ParseError> {
    let mut map = StatusMap::new();
    for line in log.split('\n') {
        pytest_line(line, &mut map, option_key);
    }
    Ok(map)
}

/// `(.*?)\[(.*)\]` searched in an id: the text before the first `[`, the text up to the
/// last `]` after it; what follows the last `]` is dropped.
fn option_key(id: &str) -> String {
    let Some(open) = id.find('[') else {
        return id.to_string();
    };
    let Some(close) = id.rfind(']').filter(|c| *c > open) else {
        return id.to_string();
    };
    let (main, option) = (&id[..open], &id[open + 1..close]);
    if option.starts_with('/') && !option.starts_with("//") && !option.contains('*') {
        let last = option.rsplit('/').next().unwrap_or(option);
        format!("{main}[/{last}]")
    } else {
        format!("{main}[{option}]")
    }
}

/// `parse_log_pytest_v2` (astropy, scikit-learn, sphinx): colour codes (`[<digits>m`)
/// and control characters dropped; also a line that ends with a status (pytest's verbose
/// lines) keys its first word with its second.
pub fn pytest_v2(log: &str) -> Result<StatusMap, ParseError> {
    let mut map = StatusMap::new();
    for line in log.split('\n') {
        let line: String = strip_colour_codes(line)
            .chars()
            .filter(|c| !('\u{1}'..='\u{1f}').contains(c))
            .collect();
        if starts_with_status(&line) {
            pytest_line(&line, &mut map, str::to_string);
        } else if TestStatus::KNOWN.iter().any(|s| line.ends_with(s.as_str())) {
            let words = words(&line);
            if words.len() >= 2 {
                map.insert(words[0].to_string(), TestStatus::from_word(words[1]));
            }
        }
    }
    Ok(map)
}

/// `re.sub(r"\[(\d+)m", "", line)`, `\d` being any Unicode decimal digit.
fn strip_colour_codes(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(open) = rest.find('[') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let digits: usize = after
            .chars()
            .take_while(|c| is_decimal(*c))
            .map(char::len_utf8)
            .sum();
        if digits > 0 && after[digits..].starts_with('m') {
            rest = &after[digits + 1..];
        } else {
            out.push('[');
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

fn is_decimal(c: char) -> bool {
    let c = c as u32;
    DECIMAL.iter().any(|&(lo, hi)| (lo..=hi).contains(&c))
}

/// `parse_log_seaborn`.
pub fn seaborn(log: &str) -> Result<StatusMap, ParseError> {
    let mut map = StatusMap::new();
    let second = |line: &str| -> Result<String, ParseError> {
        words(line)
            .get(1)
            .map(|w| w.to_string())
            .ok_or_else(|| ParseError {
                parser: "seaborn",
                line: line.to_string(),
            })
    };
    for line in log.split('\n') {
        if line.starts_with("FAILED") {
            map.insert(second(line)?, TestStatus::Failed);
        } else if line.contains(" PASSED ") {
            if second(line)? == "PASSED" {
                map.insert(words(line)[0].to_string(), TestStatus::Passed);
            }
        } else if line.starts_with("PASSED") {
            map.insert(second(line)?, TestStatus::Passed);
        }
    }
    Ok(map)
}

/// `parse_log_sympy`: failure headers (`(_*) (.*)\.py:(.*) (_*)`) are FAILED, then
/// `test_…` lines ending in ` E`, ` F` or ` ok`.
pub fn sympy(log: &str) -> Result<StatusMap, ParseError> {
    let mut map = StatusMap::new();
    for line in log.split('\n') {
        if let Some(name) = sympy_failure_header(line) {
            map.insert(name, TestStatus::Failed);
        }
    }
    for line in log.split('\n') {
        let line = py_strip(line);
        if !line.starts_with("test_") {
            continue;
        }
        let status = if line.ends_with(" E") {
            TestStatus::Error
        } else if line.ends_with(" F") {
            TestStatus::Failed
        } else if line.ends_with(" ok") {
            TestStatus::Passed
        } else {
            continue;
        };
        map.insert(words(line)[0].to_string(), status);
    }
    Ok(map)
}

/// `re.findall(r"(_*) (.*)\.py:(.*) (_*)", log)` within one line (no part of the pattern
/// matches a newline): the match starts at the line's first space (after the underscores
/// before it); group 2 runs to the last `.py:` that a space follows, group 3 to the last
/// space. One match at most per line: nothing after the last space can start another.
fn sympy_failure_header(line: &str) -> Option<String> {
    let space = line.find(' ')?;
    let rest = &line[space + 1..];
    let last_space = rest.rfind(' ')?;
    let py = rest[..last_space].rfind(".py:")?;
    Some(format!(
        "{}.py:{}",
        &rest[..py],
        &rest[py + ".py:".len()..last_space]
    ))
}

/// `parse_log_django`.
pub fn django(log: &str) -> Result<StatusMap, ParseError> {
    const PASS_SUFFIXES: [&str; 3] = [" ... ok", " ... OK", " ...  OK"];
    let mut map = StatusMap::new();
    let mut prev_test: Option<String> = None;
    let second = |line: &str| -> Result<String, ParseError> {
        words(line)
            .get(1)
            .map(|w| w.to_string())
            .ok_or_else(|| ParseError {
                parser: "django",
                line: line.to_string(),
            })
    };
    for line in log.split('\n') {
        let mut line = py_strip(line).to_string();
        if line.contains("--version is equivalent to version") {
            map.insert(
                "--version is equivalent to version".into(),
                TestStatus::Passed,
            );
        }
        if let Some((before, _)) = line.split_once(" ... ") {
            prev_test = Some(before.to_string());
        }
        for suffix in PASS_SUFFIXES {
            if line.ends_with(suffix) {
                // The harness's fix for django__django-7188, where a migration's output
                // runs into the test's line.
                if py_strip(&line)
                    .starts_with("Applying sites.0002_alter_domain_unique...test_no_migrations")
                {
                    let after = line.split_once("...").map_or(line.as_str(), |(_, a)| a);
                    line = py_strip(after).to_string();
                }
                let test = line.rsplit_once(suffix).map_or(line.as_str(), |(t, _)| t);
                map.insert(test.to_string(), TestStatus::Passed);
                break;
            }
        }
        if let Some((test, _)) = line.split_once(" ... skipped") {
            map.insert(test.to_string(), TestStatus::Skipped);
        }
        if line.ends_with(" ... FAIL") {
            let test = line.split_once(" ... FAIL").map_or("", |(t, _)| t);
            map.insert(test.to_string(), TestStatus::Failed);
        }
        if line.starts_with("FAIL:") {
            map.insert(second(&line)?, TestStatus::Failed);
        }
        if line.ends_with(" ... ERROR") {
            let test = line.split_once(" ... ERROR").map_or("", |(t, _)| t);
            map.insert(test.to_string(), TestStatus::Error);
        }
        if line.starts_with("ERROR:") {
            map.insert(second(&line)?, TestStatus::Error);
        }
        if let Some(prev) = &prev_test
            && line.starts_with("ok")
        {
            map.insert(prev.clone(), TestStatus::Passed);
        }
    }
    for pattern in django_patterns() {
        for caps in pattern.captures_iter(log) {
            if let Some(name) = caps.get(1) {
                map.insert(name.as_str().to_string(), TestStatus::Passed);
            }
        }
    }
    Ok(map)
}

/// The three multi-line patterns of `parse_log_django` (`re.MULTILINE`), their `\s`
/// spelled as Python's whitespace.
fn django_patterns() -> &'static [regex_lite::Regex; 3] {
    static PATTERNS: OnceLock<[regex_lite::Regex; 3]> = OnceLock::new();
    PATTERNS.get_or_init(|| {
        const S: &str = r"[\t\n\x0B\x0C\r\x1C-\x20\x{85}\x{A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000}]";
        let compile = |p: String| {
            regex_lite::Regex::new(&format!("(?m){p}")).expect("the patterns are fixed")
        };
        [
            compile(format!(
                r"^(.*?){S}\.\.\.{S}Testing against Django installed in ((?s:.*?)) silenced\)\.\nok$"
            )),
            compile(format!(
                r"^(.*?){S}\.\.\.{S}Internal Server Error: /(.*)/\nok$"
            )),
            compile(format!(
                r"^(.*?){S}\.\.\.{S}System check identified no issues \(0 silenced\)\nok$"
            )),
        ]
    })
}

/// What `get_logs_eval` makes of a log: the status map and whether the patch applied.
#[derive(Debug, Clone, PartialEq)]
pub struct LogEval {
    pub status_map: StatusMap,
    /// False when the log holds one of the harness's failure markers or lacks the
    /// start/end markers (the map is then empty).
    pub found: bool,
}

/// Python's universal newlines (`open(path)` in text mode): `\r\n` and `\r` read as `\n`.
pub fn universal_newlines(text: &str) -> String {
    text.replace("\r\n", "\n").replace('\r', "\n")
}

/// `get_logs_eval` on the text of a log file as written to disk: any failure marker, or a
/// missing start or end marker, is "not found"; else the section between the first start
/// marker and the first end marker after it is parsed, and the whole log when that gives
/// nothing.
pub fn log_eval(file_text: &str, parse: ParseFn) -> Result<LogEval, ParseError> {
    let content = universal_newlines(file_text);
    let markers = &harness().markers;
    let bad = [
        &markers.apply_patch_fail,
        &markers.reset_failed,
        &markers.tests_error,
        &markers.tests_timeout,
    ];
    let not_found = LogEval {
        status_map: StatusMap::new(),
        found: false,
    };
    if bad.iter().any(|m| content.contains(m.as_str())) {
        return Ok(not_found);
    }
    let (start, end) = (&markers.start_test_output, &markers.end_test_output);
    if !(content.contains(start.as_str()) && content.contains(end.as_str())) {
        return Ok(not_found);
    }
    let section = test_section(&content, start, end);
    let mut status_map = parse(section)?;
    if status_map.is_empty() {
        status_map = parse(&content)?;
    }
    Ok(LogEval {
        status_map,
        found: true,
    })
}

/// `content.split(START)[1].split(END)[0]`: between the first and the second start marker,
/// up to the first end marker.
pub fn test_section<'a>(content: &'a str, start: &str, end: &str) -> &'a str {
    let Some(at) = content.find(start) else {
        return "";
    };
    let after = &content[at + start.len()..];
    let after = after.find(start).map_or(after, |next| &after[..next]);
    after.find(end).map_or(after, |stop| &after[..stop])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pychar::WHITESPACE;

    #[test]
    fn python_whitespace_is_pyjsons() {
        for cp in 0..0x11_0000u32 {
            let Some(c) = char::from_u32(cp) else {
                continue;
            };
            let python = WHITESPACE.iter().any(|&(lo, hi)| (lo..=hi).contains(&cp));
            assert_eq!(py_isspace(c), python, "U+{cp:04X}");
        }
    }

    #[test]
    fn pytest_ids_are_the_second_word() {
        let log = "PASSED tests/a.py::test_x[a b]\nFAILED tests/a.py::t - assert 0\nERROR: file not found: x\nXPASS tests/a.py::u";
        let map = pytest(log).unwrap();
        assert_eq!(map["tests/a.py::test_x[a"], TestStatus::Passed);
        assert_eq!(map["tests/a.py::t"], TestStatus::Failed);
        assert_eq!(map["file"], TestStatus::Other("ERROR:".into()));
        assert_eq!(map.len(), 3);
    }

    #[test]
    fn options_keep_a_paths_last_part() {
        assert_eq!(option_key("t.py::f[/a/b/c.txt]"), "t.py::f[/c.txt]");
        assert_eq!(option_key("t.py::f[//a/b]"), "t.py::f[//a/b]");
        assert_eq!(option_key("t.py::f[x]]y"), "t.py::f[x]]");
        assert_eq!(option_key("t.py::f]["), "t.py::f][");
    }

    #[test]
    fn colour_codes_and_controls_go() {
        assert_eq!(
            strip_colour_codes("\x1b[32mPASSED\x1b[0m x"),
            "\x1bPASSED\x1b x"
        );
        assert_eq!(strip_colour_codes("[m [1x [٣m"), "[m [1x ");
        let map = pytest_v2("\x1b[32mPASSED\x1b[0m a::b\na::c PASSED").unwrap();
        assert_eq!(map["a::b"], TestStatus::Passed);
        assert_eq!(map["a::c"], TestStatus::Passed);
    }

    #[test]
    fn sympy_failure_headers() {
        assert_eq!(
            sympy_failure_header("____ sympy/core/tests/test_x.py:test_y _____").as_deref(),
            Some("sympy/core/tests/test_x.py:test_y")
        );
        assert_eq!(sympy_failure_header("a b.py:c"), None);
        assert_eq!(
            sympy_failure_header("x a.py:b.py:c d e").as_deref(),
            Some("a.py:b.py:c d")
        );
    }

    #[test]
    fn django_reads_docstrings_and_split_lines() {
        let log = "test_a (m.T) ... ok\nDoes it work? ... FAIL\ntest_b (m.T) ... some output\nok\nFAIL: test_c (m.T)";
        let map = django(log).unwrap();
        assert_eq!(map["test_a (m.T)"], TestStatus::Passed);
        assert_eq!(map["Does it work?"], TestStatus::Failed);
        assert_eq!(map["test_b (m.T)"], TestStatus::Passed);
        assert_eq!(map["test_c"], TestStatus::Failed);
        assert!(django("FAIL:").is_err());
    }

    #[test]
    fn the_section_is_between_the_markers() {
        let log = "a\n>>>>> Start Test Output\r\nPASSED x\n>>>>> End Test Output\nPASSED y";
        let eval = log_eval(log, pytest).unwrap();
        assert!(eval.found);
        assert_eq!(eval.status_map.keys().collect::<Vec<_>>(), ["x"]);
        let eval = log_eval("PASSED y\n>>>>> Start Test Output", pytest).unwrap();
        assert!(!eval.found);
    }
}
