//! `plinth report`: a run's canonical records as one self-contained HTML
//! page (`page.html`: its CSS and JavaScript inline, no network needed to view
//! it). The page shows the run's figures ([`crate::stats`], computed here
//! and embedded, so the page and `plinth stats` agree) as SVG charts its
//! script draws, a sortable, filterable table of trajectories, and each
//! trajectory's conversation, patch and per-test outcomes.
//!
//! How a large run (10,000 trajectories) stays fast, to write and to open:
//! - Records are streamed: read, tallied and written one at a time, so
//!   writing a report holds one record in memory, not the run.
//! - Each record is its own `<script type="application/json">` element,
//!   which the browser does not parse as JSON; the page parses a record only
//!   when its trajectory is opened. What the page parses on load is one small
//!   row per trajectory (the table's columns) and the figures.
//! - The table renders one page of rows at a time.
//! - The records' `tools` (the same specs in every record of a run) are
//!   left out.
//!
//! The page's state (text filter, exit status, sort, page, open trajectory)
//! lives in the URL's fragment (`report.html#status=ModelError&q=timeout`), so
//! a view can be linked to, and tests drive the page without clicking.

use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::stats::{RunFileError, SkippedLine, Stats, Tally, each_record};
use plinth_record::trajectory::{ExitStatus, Trajectory};

/// The page; the data goes where [`DATA`] is, before the page's script.
const PAGE: &str = include_str!("page.html");
const DATA: &str = "<!--plinth:data-->";
/// Error texts in the table are cut to this many characters (a trajectory's
/// page shows them whole).
const ERROR_CHARS: usize = 300;
/// Skipped lines listed on the page; more are counted.
const SKIPPED_SHOWN: usize = 100;

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error(transparent)]
    Run(#[from] RunFileError),
    #[error("cannot write {path}: {source}")]
    Write { path: PathBuf, source: io::Error },
}

/// What a written report holds.
#[derive(Debug)]
pub struct Report {
    pub stats: Stats,
    /// Lines of the run file that held no record (each already logged).
    pub skipped: Vec<SkippedLine>,
}

/// A trajectory's row in the table: the columns, and what the text filter
/// searches.
#[derive(Serialize)]
struct Row {
    id: String,
    status: ExitStatus,
    reward: Option<f64>,
    api_calls: u32,
    cost: f64,
    duration: f64,
    prompt_tokens: u64,
    completion_tokens: u64,
    model: String,
    error: Option<String>,
    /// The rollout within its group (`--group-size`): rollouts share an id.
    rollout: Option<u32>,
}

impl Row {
    fn of(t: &Trajectory) -> Self {
        Self {
            id: t.id.clone(),
            status: t.exit_status,
            reward: t.score.as_ref().map(|s| s.reward),
            api_calls: t.api_calls,
            cost: t.cost,
            duration: t.duration_secs,
            prompt_tokens: t.usage.prompt_tokens,
            completion_tokens: t.usage.completion_tokens,
            model: t.model.clone(),
            error: t
                .error
                .as_ref()
                .map(|e| e.chars().take(ERROR_CHARS).collect()),
            rollout: t.group.as_ref().map(|g| g.rollout),
        }
    }
}

/// Where the records came from, and what could not be read.
#[derive(Serialize)]
struct Meta<'a> {
    source: String,
    plinth_version: &'static str,
    skipped: &'a [SkippedLine],
    skipped_total: usize,
}

/// Writes the report of the canonical JSONL run file `input` to `output`,
/// whole or not at all (a temporary file renamed into place). Bad lines are
/// skipped with a warning, see [`each_record`].
pub fn write_report(input: &Path, output: &Path) -> Result<Report, ReportError> {
    let failed = |source| ReportError::Write {
        path: output.to_path_buf(),
        source,
    };
    let (head, tail) = PAGE
        .split_once(DATA)
        .expect("page.html marks where its data goes");
    let dir = output
        .parent()
        .filter(|dir| !dir.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut file = tempfile::NamedTempFile::new_in(dir).map_err(failed)?;
    let mut out = BufWriter::new(file.as_file_mut());
    out.write_all(head.as_bytes()).map_err(failed)?;

    let mut tally = Tally::default();
    let mut rows = Vec::new();
    let skipped = each_record(input, |mut t| {
        tally.add(&t);
        t.tools = Vec::new();
        json_script(&mut out, &format!("r{}", rows.len()), &t).map_err(failed)?;
        rows.push(Row::of(&t));
        Ok::<_, ReportError>(())
    })?;
    let stats = tally.stats();
    let meta = Meta {
        source: input.display().to_string(),
        plinth_version: env!("CARGO_PKG_VERSION"),
        skipped: &skipped[..skipped.len().min(SKIPPED_SHOWN)],
        skipped_total: skipped.len(),
    };
    json_script(&mut out, "data-rows", &rows)
        .and_then(|()| json_script(&mut out, "data-stats", &stats))
        .and_then(|()| json_script(&mut out, "data-meta", &meta))
        .and_then(|()| out.write_all(tail.as_bytes()))
        .and_then(|()| out.flush())
        .map_err(failed)?;
    drop(out);
    file.persist(output).map_err(|e| failed(e.error))?;
    Ok(Report { stats, skipped })
}

/// `value` as a JSON data block the page reads by `id`.
fn json_script(out: &mut impl Write, id: &str, value: &impl Serialize) -> io::Result<()> {
    write!(out, "<script type=\"application/json\" id=\"{id}\">")?;
    serde_json::to_writer(ScriptSafe(&mut *out), value)?;
    out.write_all(b"</script>\n")
}

/// Writes JSON with every `<` as `\u003c`, so that no string in a record
/// (`</script>`, `<!--`) can end or change the script element it sits in.
/// In JSON a `<` only occurs inside strings, where the escape means the same;
/// as ASCII it is never part of a multi-byte UTF-8 character.
struct ScriptSafe<W>(W);

impl<W: Write> Write for ScriptSafe<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut parts = buf.split(|&b| b == b'<');
        if let Some(first) = parts.next() {
            self.0.write_all(first)?;
        }
        for part in parts {
            self.0.write_all(b"\\u003c")?;
            self.0.write_all(part)?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_in_a_script_cannot_close_it() {
        let mut out = Vec::new();
        let value = serde_json::json!({"text": "</script><!-- <b>"});
        json_script(&mut out, "x", &value).unwrap();
        let html = String::from_utf8(out).unwrap();
        assert_eq!(
            html,
            "<script type=\"application/json\" id=\"x\">\
             {\"text\":\"\\u003c/script>\\u003c!-- \\u003cb>\"}</script>\n"
        );
        let json = html
            .trim_start_matches("<script type=\"application/json\" id=\"x\">")
            .trim_end_matches("</script>\n");
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(json).unwrap(),
            value
        );
    }

    #[test]
    fn the_page_has_one_data_marker_and_no_network() {
        assert_eq!(PAGE.matches(DATA).count(), 1);
        for remote in ["http://", "https://", "//cdn", "@import", "<link"] {
            assert!(!PAGE.contains(remote), "page.html refers to {remote}");
        }
    }
}
