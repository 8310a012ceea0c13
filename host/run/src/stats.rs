//! The figures of a set of trajectories: how they ended, their rewards,
//! model calls, tokens, cost, durations and tool calls.
//!
//! One computation ([`Tally`]) serves `plinth stats`, the summary of a
//! `plinth report` page and the `summary.json` a run leaves beside its
//! output, so the three never disagree. Records are tallied one at a time: a
//! run's records need not fit in memory, only one reward and one duration per
//! trajectory are kept (for the histograms and percentiles).

use std::collections::BTreeMap;
use std::fmt;
use std::io::BufReader;
use std::path::{Path, PathBuf};

use serde::Serialize;

use plinth_record::trajectory::{ExitStatus, RecordError, Trajectory, Usage, read_records};

/// Bars of every histogram.
const BINS: usize = 10;

/// Accumulates the figures of trajectories as they come.
#[derive(Debug, Default, Clone)]
pub struct Tally {
    by_status: BTreeMap<ExitStatus, usize>,
    api_calls: u64,
    usage: Usage,
    cost: f64,
    /// One per scored trajectory.
    rewards: Vec<f64>,
    /// One per trajectory.
    durations: Vec<f64>,
    tools: BTreeMap<String, u64>,
}

impl Tally {
    pub fn add(&mut self, t: &Trajectory) {
        *self.by_status.entry(t.exit_status).or_default() += 1;
        self.api_calls += u64::from(t.api_calls);
        self.usage += t.usage;
        self.cost += t.cost;
        if let Some(score) = &t.score {
            self.rewards.push(score.reward);
        }
        self.durations.push(t.duration_secs);
        for call in t.messages.iter().flat_map(|m| &m.tool_calls) {
            *self.tools.entry(call.function.name.clone()).or_default() += 1;
        }
    }

    pub fn stats(&self) -> Stats {
        let trajectories = self.durations.len();
        let mean = |total: f64| {
            if trajectories == 0 {
                0.0
            } else {
                total / trajectories as f64
            }
        };
        Stats {
            trajectories,
            by_status: self.by_status.clone(),
            reward: Rewards::of(&self.rewards),
            api_calls: Sum {
                total: self.api_calls,
                mean: mean(self.api_calls as f64),
            },
            usage: self.usage,
            cost: Sum {
                total: self.cost,
                mean: mean(self.cost),
            },
            duration_secs: Durations::of(&self.durations),
            tools: self.tools.clone(),
        }
    }
}

/// What [`Tally::stats`] found; its JSON is `plinth stats --json` and the
/// figures of a run's `summary.json`.
#[derive(Debug, Default, Clone, PartialEq, Serialize)]
pub struct Stats {
    pub trajectories: usize,
    pub by_status: BTreeMap<ExitStatus, usize>,
    /// Over the scored trajectories; `None` when none was scored (a mean of
    /// nothing is not a reward of 0).
    pub reward: Option<Rewards>,
    pub api_calls: Sum<u64>,
    /// Tokens summed over every trajectory.
    pub usage: Usage,
    /// Dollars.
    pub cost: Sum<f64>,
    pub duration_secs: Durations,
    /// Calls per tool name, over every assistant turn.
    pub tools: BTreeMap<String, u64>,
}

/// A total and its mean per trajectory.
#[derive(Debug, Default, Clone, Copy, PartialEq, Serialize)]
pub struct Sum<T> {
    pub total: T,
    pub mean: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Rewards {
    pub scored: usize,
    pub mean: f64,
    pub min: f64,
    pub max: f64,
    /// Over `[min(0, min), max(1, max)]`, so rewards in the usual 0..1 range
    /// always fall in the same ten bars.
    pub histogram: Vec<Bin>,
}

impl Rewards {
    fn of(rewards: &[f64]) -> Option<Self> {
        let min = rewards.iter().copied().reduce(f64::min)?;
        let max = rewards.iter().copied().reduce(f64::max)?;
        Some(Self {
            scored: rewards.len(),
            mean: rewards.iter().sum::<f64>() / rewards.len() as f64,
            min,
            max,
            histogram: histogram(rewards, min.min(0.0), max.max(1.0)),
        })
    }
}

#[derive(Debug, Default, Clone, PartialEq, Serialize)]
pub struct Durations {
    pub total: f64,
    pub mean: f64,
    /// Percentiles by nearest rank: a duration some trajectory really took.
    pub p50: f64,
    pub p90: f64,
    pub max: f64,
    /// Over `[0, max]`.
    pub histogram: Vec<Bin>,
}

impl Durations {
    fn of(durations: &[f64]) -> Self {
        let mut sorted = durations.to_vec();
        sorted.sort_by(f64::total_cmp);
        let Some(&max) = sorted.last() else {
            return Self::default();
        };
        let total = sorted.iter().sum::<f64>();
        Self {
            total,
            mean: total / sorted.len() as f64,
            p50: percentile(&sorted, 50),
            p90: percentile(&sorted, 90),
            max,
            histogram: histogram(&sorted, 0.0, max),
        }
    }
}

/// One bar of a histogram: the values in `[from, to)` (the last bar
/// includes `to`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Bin {
    pub from: f64,
    pub to: f64,
    pub count: usize,
}

/// The nearest-rank `p`th percentile of `sorted` (not empty): the smallest
/// value with at least p% of the values at or below it.
fn percentile(sorted: &[f64], p: usize) -> f64 {
    let rank = (p * sorted.len()).div_ceil(100).max(1);
    sorted[rank - 1]
}

/// [`BINS`] equal bars over `[lo, hi]`, or one bar when the range is empty.
fn histogram(values: &[f64], lo: f64, hi: f64) -> Vec<Bin> {
    if hi <= lo {
        return vec![Bin {
            from: lo,
            to: hi,
            count: values.len(),
        }];
    }
    // Bounds as lo + span * i / BINS, not lo + i * width: 0.3, not
    // 0.30000000000000004.
    let bound = |i: usize| lo + (hi - lo) * i as f64 / BINS as f64;
    let mut bins: Vec<Bin> = (0..BINS)
        .map(|i| Bin {
            from: bound(i),
            to: bound(i + 1),
            count: 0,
        })
        .collect();
    for &value in values {
        // The epsilon puts 0.3 in [0.3, 0.4) although 0.3 / 0.1 is
        // 2.9999999999999996.
        let position = ((value - lo) / (hi - lo) * BINS as f64 + 1e-9).floor();
        let index = if position.is_nan() || position < 0.0 {
            0
        } else {
            (position as usize).min(BINS - 1)
        };
        bins[index].count += 1;
    }
    bins
}

/// The plain-text summary `plinth stats` prints: aligned columns, no colour.
impl fmt::Display for Stats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.trajectories;
        writeln!(f, "trajectories   {n}")?;
        let share = |count: usize| 100.0 * count as f64 / n.max(1) as f64;
        if !self.by_status.is_empty() {
            writeln!(f, "\nexit status            count")?;
            for (status, &count) in &self.by_status {
                writeln!(
                    f,
                    "  {:<20} {count:>6} {:>6.1}%",
                    status.as_str(),
                    share(count)
                )?;
            }
        }
        match &self.reward {
            None => writeln!(f, "\nreward         none scored")?,
            Some(r) => {
                writeln!(
                    f,
                    "\nreward         mean {:.3} over {} scored (min {}, max {})",
                    r.mean, r.scored, r.min, r.max
                )?;
                write_histogram(f, &r.histogram, |v| format!("{v:.2}"))?;
            }
        }
        let d = &self.duration_secs;
        writeln!(
            f,
            "\napi calls      {} (mean {:.2})",
            self.api_calls.total, self.api_calls.mean
        )?;
        writeln!(
            f,
            "tokens         {} prompt, {} completion",
            self.usage.prompt_tokens, self.usage.completion_tokens
        )?;
        writeln!(
            f,
            "cost           ${:.4} (mean ${:.4})",
            self.cost.total, self.cost.mean
        )?;
        writeln!(
            f,
            "duration       p50 {:.1}s, p90 {:.1}s, max {:.1}s (mean {:.1}s, total {:.1}s)",
            d.p50, d.p90, d.max, d.mean, d.total
        )?;
        if n > 0 {
            write_histogram(f, &d.histogram, |v| format!("{v:.1}s"))?;
        }
        if !self.tools.is_empty() {
            let width = self.tools.keys().map(String::len).max().unwrap_or(0).max(4);
            writeln!(f, "\n{:<width$}   calls", "tool", width = width + 2)?;
            for (name, calls) in &self.tools {
                writeln!(f, "  {name:<width$} {calls:>7}")?;
            }
        }
        Ok(())
    }
}

/// The bars of a histogram that hold something, one line each.
fn write_histogram(
    f: &mut fmt::Formatter<'_>,
    bins: &[Bin],
    label: impl Fn(f64) -> String,
) -> fmt::Result {
    let most = bins.iter().map(|b| b.count).max().unwrap_or(0).max(1);
    for bin in bins.iter().filter(|b| b.count > 0) {
        let range = format!("{} - {}", label(bin.from), label(bin.to));
        let bar = "#".repeat((bin.count * 30).div_ceil(most));
        writeln!(f, "  {range:<20} {:>6} {bar}", bin.count)?;
    }
    Ok(())
}

/// A run file that could not be read.
#[derive(Debug, thiserror::Error)]
pub enum RunFileError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{path}: no canonical trajectory records, {bad} bad line(s) (is it a `--format canonical` output?)"
    )]
    NoRecords { path: PathBuf, bad: usize },
}

/// A line of a run file that held no record, skipped.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SkippedLine {
    pub line: usize,
    pub reason: String,
}

/// Calls `each` with every canonical record of the JSONL file at `path` (a
/// run's output or a checkpoint journal), stopping at its first error. A bad
/// line (most often the torn last line of a run that was killed mid-append)
/// is logged as a warning naming the file and line, skipped, and returned:
/// one bad line must not hide the rest of a run. A file with bad lines and no
/// record at all is an error, as it is surely not a canonical file.
pub fn each_record<E: From<RunFileError>>(
    path: &Path,
    mut each: impl FnMut(Trajectory) -> Result<(), E>,
) -> Result<Vec<SkippedLine>, E> {
    let io = |source| RunFileError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let (mut records, mut skipped) = (0usize, Vec::new());
    for record in read_records(BufReader::new(file)) {
        match record {
            Ok((_, trajectory)) => {
                records += 1;
                each(trajectory)?;
            }
            Err(RecordError::Read(e)) => return Err(io(e).into()),
            Err(RecordError::Bad(line, reason)) => {
                tracing::warn!("{}:{line}: {reason}; line skipped", path.display());
                skipped.push(SkippedLine { line, reason });
            }
        }
    }
    if records == 0 && !skipped.is_empty() {
        return Err(RunFileError::NoRecords {
            path: path.to_path_buf(),
            bad: skipped.len(),
        }
        .into());
    }
    Ok(skipped)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use plinth_record::trajectory::SCHEMA;

    /// A record with what the figures read; `calls` are tool names called
    /// in one assistant turn each.
    fn record(status: &str, reward: Option<f64>, duration: f64, calls: &[&str]) -> Trajectory {
        let messages: Vec<_> = calls
            .iter()
            .enumerate()
            .map(|(i, name)| {
                json!({"role": "assistant", "content": null, "tool_calls": [
                    {"id": format!("c{i}"), "type": "function",
                     "function": {"name": name, "arguments": "{}"}}]})
            })
            .collect();
        serde_json::from_value(json!({
            "schema": SCHEMA, "id": "t", "input_index": 0, "task": {},
            "messages": messages, "tools": [], "exit_status": status,
            "model": "m", "sandbox": "local", "api_calls": calls.len() + 1,
            "usage": {"prompt_tokens": 100, "completion_tokens": 10},
            "cost": 0.25, "started_at": "2026-11-21T00:00:00Z",
            "duration_secs": duration, "plinth_version": "0",
            "score": reward.map(|r| json!({"reward": r})),
        }))
        .unwrap()
    }

    fn tally(records: &[Trajectory]) -> Stats {
        let mut tally = Tally::default();
        for record in records {
            tally.add(record);
        }
        tally.stats()
    }

    #[test]
    fn figures_of_a_small_run() {
        let stats = tally(&[
            record("Submitted", Some(1.0), 4.0, &["terminal", "terminal"]),
            record("Submitted", Some(0.3), 1.0, &["terminal"]),
            record("LimitsExceeded", Some(0.0), 10.0, &["terminal", "edit"]),
            record("ModelError", None, 2.0, &[]),
            record("Finished", Some(1.0), 3.0, &[]),
        ]);
        assert_eq!(stats.trajectories, 5);
        assert_eq!(
            stats.by_status,
            BTreeMap::from([
                (ExitStatus::Submitted, 2),
                (ExitStatus::Finished, 1),
                (ExitStatus::LimitsExceeded, 1),
                (ExitStatus::ModelError, 1),
            ])
        );
        // api_calls: 3 + 2 + 3 + 1 + 1.
        assert_eq!(
            stats.api_calls,
            Sum {
                total: 10,
                mean: 2.0
            }
        );
        assert_eq!(stats.usage.prompt_tokens, 500);
        assert_eq!(stats.usage.completion_tokens, 50);
        assert_eq!(
            stats.cost,
            Sum {
                total: 1.25,
                mean: 0.25
            }
        );
        assert_eq!(
            stats.tools,
            BTreeMap::from([("edit".to_string(), 1), ("terminal".to_string(), 4)])
        );

        // Rewards 1, 0.3, 0, 1 (the model error has none): mean 2.3 / 4.
        let reward = stats.reward.unwrap();
        assert_eq!((reward.scored, reward.min, reward.max), (4, 0.0, 1.0));
        assert!((reward.mean - 0.575).abs() < 1e-12, "{}", reward.mean);
        let counts: Vec<usize> = reward.histogram.iter().map(|b| b.count).collect();
        assert_eq!(counts, [1, 0, 0, 1, 0, 0, 0, 0, 0, 2]);
        assert_eq!(
            (reward.histogram[3].from, reward.histogram[3].to),
            (0.3, 0.4)
        );
        assert_eq!(reward.histogram[9].to, 1.0);

        // Durations sorted: 1, 2, 3, 4, 10. p50: rank ceil(2.5) = 3 -> 3;
        // p90: rank ceil(4.5) = 5 -> 10.
        let d = &stats.duration_secs;
        assert_eq!(
            (d.total, d.mean, d.p50, d.p90, d.max),
            (20.0, 4.0, 3.0, 10.0, 10.0)
        );
        // Bars of 1 s over [0, 10]: 1, 2, 3 and 4 in their own, 10 in the last.
        let counts: Vec<usize> = d.histogram.iter().map(|b| b.count).collect();
        assert_eq!(counts, [0, 1, 1, 1, 1, 0, 0, 0, 0, 1]);
    }

    #[test]
    fn nothing_scored_is_no_reward_and_no_run_is_zeros() {
        let stats = tally(&[record("InfrastructureError", None, 0.0, &[])]);
        assert_eq!(stats.reward, None);
        // Every duration 0: one bar holding it.
        assert_eq!(
            stats.duration_secs.histogram,
            [Bin {
                from: 0.0,
                to: 0.0,
                count: 1
            }]
        );
        let json = serde_json::to_value(&stats).unwrap();
        assert_eq!(json["reward"], serde_json::Value::Null);
        assert_eq!(json["by_status"], json!({"InfrastructureError": 1}));

        let empty = tally(&[]);
        assert_eq!(empty.trajectories, 0);
        assert_eq!(empty.cost.mean, 0.0);
        assert_eq!(empty.duration_secs, Durations::default());
        assert!(empty.to_string().contains("none scored"));
    }

    #[test]
    fn rewards_outside_zero_to_one_widen_the_histogram() {
        let stats = tally(&[
            record("Submitted", Some(-1.0), 1.0, &[]),
            record("Submitted", Some(3.0), 1.0, &[]),
        ]);
        let bins = stats.reward.unwrap().histogram;
        assert_eq!((bins[0].from, bins[9].to), (-1.0, 3.0));
        assert_eq!((bins[0].count, bins[9].count), (1, 1));
    }

    #[test]
    fn percentiles_by_nearest_rank() {
        let sorted: Vec<f64> = (1..=20).map(f64::from).collect();
        assert_eq!(percentile(&sorted, 50), 10.0);
        assert_eq!(percentile(&sorted, 90), 18.0);
        assert_eq!(percentile(&sorted[..1], 50), 1.0);
        assert_eq!(percentile(&sorted[..1], 90), 1.0);
    }

    #[test]
    fn the_text_is_aligned_columns() {
        let stats = tally(&[
            record("Submitted", Some(1.0), 4.0, &["terminal"]),
            record("ModelError", None, 2.0, &[]),
        ]);
        let text = stats.to_string();
        assert!(
            text.contains("  Submitted                 1   50.0%\n"),
            "{text}"
        );
        assert!(
            text.contains("  ModelError                1   50.0%\n"),
            "{text}"
        );
        assert!(
            text.contains("reward         mean 1.000 over 1 scored"),
            "{text}"
        );
        assert!(
            text.contains("duration       p50 2.0s, p90 4.0s, max 4.0s"),
            "{text}"
        );
        assert!(text.contains("  terminal       1\n"), "{text}");
    }

    #[test]
    fn a_torn_last_line_is_skipped_and_a_file_of_bad_lines_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let good = serde_json::to_string(&record("Submitted", Some(1.0), 1.0, &[])).unwrap();
        let path = dir.path().join("run.jsonl");
        std::fs::write(&path, format!("{good}\n{good}\n{}", &good[..20])).unwrap();
        let mut seen = 0;
        let skipped = each_record::<RunFileError>(&path, |_| {
            seen += 1;
            Ok(())
        })
        .unwrap();
        assert_eq!(seen, 2);
        assert_eq!(skipped.len(), 1);
        assert_eq!(skipped[0].line, 3);

        std::fs::write(&path, "{\"not\": \"a record\"}\n").unwrap();
        let error = each_record::<RunFileError>(&path, |_| Ok(()))
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("no canonical trajectory records, 1 bad line"),
            "{error}"
        );
    }
}
