//! The verifier's reward, read as Harbor's `Verifier.verify` reads it
//! (harbor 0.26, `harbor/verifier/verifier.py`).
//!
//! `tests/test.sh` writes `/logs/verifier/reward.json` (named rewards) or
//! `/logs/verifier/reward.txt` (one number); the caller copies the container's
//! `/logs/verifier` to a host directory and calls [`Reward::read`] on it.
//! Harbor's rules:
//!
//! - `reward.json` wins when both exist;
//! - an empty file (0 bytes) is an error, not a 0;
//! - `reward.txt` is parsed by Python's `float()` (surrounding whitespace,
//!   `_` between digits, `1e3`, `.5` are fine), and must be finite; it is the
//!   reward named `reward`;
//! - `reward.json` must be a JSON object whose values are all numbers (JSON
//!   `true`/`false` pass, as Python's `isinstance(True, int)` does, and become
//!   1.0 / 0.0 as pydantic's `float | int` makes them), finite; `{}` is
//!   accepted and has no rewards;
//! - text that is not UTF-8 is unparsable, like any other garbage.
//!
//! Each failure is a [`RewardError`] naming the file: a broken verifier must
//! never be recorded as a reward of 0.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use serde_json::Value;

/// The file `test.sh` writes one number to.
pub const REWARD_TXT: &str = "reward.txt";
/// The file `test.sh` writes named rewards to.
pub const REWARD_JSON: &str = "reward.json";
/// The name Harbor gives the number in `reward.txt`.
pub const DEFAULT_REWARD_NAME: &str = "reward";

/// One reward value: Harbor keeps JSON integers as integers (`1`, not `1.0`,
/// in its `result.json`), so the distinction is kept.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
#[serde(untagged)]
pub enum RewardValue {
    Int(i64),
    Float(f64),
}

impl RewardValue {
    pub fn as_f64(self) -> f64 {
        match self {
            // Rewards are small numbers; a huge integer loses low digits as in Python's float().
            #[allow(clippy::cast_precision_loss)]
            RewardValue::Int(i) => i as f64,
            RewardValue::Float(f) => f,
        }
    }
}

impl fmt::Display for RewardValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RewardValue::Int(i) => write!(f, "{i}"),
            RewardValue::Float(x) => write!(f, "{x:?}"),
        }
    }
}

/// Which file a reward came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RewardSource {
    Text,
    Json,
}

/// The rewards of one verifier run, in the order the file gives them.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Reward {
    pub source: RewardSource,
    pub rewards: Vec<(String, RewardValue)>,
}

/// Why no reward could be read.
#[derive(Debug, thiserror::Error)]
pub enum RewardError {
    #[error("no reward file: the verifier wrote neither {} nor {}", .txt.display(), .json.display())]
    Missing { txt: PathBuf, json: PathBuf },
    #[error("reward file {} is empty", .0.display())]
    Empty(PathBuf),
    #[error("reading reward file {}: {source}", .path.display())]
    Io { path: PathBuf, source: io::Error },
    #[error("reward file {} is not a reward: {reason}", .path.display())]
    Garbage { path: PathBuf, reason: String },
}

impl Reward {
    /// Reads the reward in `verifier_dir` (the host copy of the container's
    /// `/logs/verifier`).
    pub fn read(verifier_dir: &Path) -> Result<Reward, RewardError> {
        let json = verifier_dir.join(REWARD_JSON);
        let txt = verifier_dir.join(REWARD_TXT);
        // Python's Path.exists(): anything there, a directory included (which then fails to read).
        if json.exists() {
            let text = read(&json)?;
            parse_json(&text).map_err(|reason| RewardError::Garbage { path: json, reason })
        } else if txt.exists() {
            let text = read(&txt)?;
            parse_text(&text).map_err(|reason| RewardError::Garbage { path: txt, reason })
        } else {
            Err(RewardError::Missing { txt, json })
        }
    }

    /// The reward Harbor's single-number convention reads: the one named
    /// `reward`, if any.
    pub fn main(&self) -> Option<RewardValue> {
        self.rewards
            .iter()
            .find(|(name, _)| name == DEFAULT_REWARD_NAME)
            .map(|(_, v)| *v)
    }
}

/// The file's text: empty is its own error; bytes that are not UTF-8 are
/// garbage (Python's `read_text` raises a `ValueError` inside Harbor's `try`).
fn read(path: &Path) -> Result<String, RewardError> {
    let bytes = std::fs::read(path).map_err(|source| RewardError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    if bytes.is_empty() {
        return Err(RewardError::Empty(path.to_path_buf()));
    }
    String::from_utf8(bytes).map_err(|e| RewardError::Garbage {
        path: path.to_path_buf(),
        reason: format!("not UTF-8 text ({e})"),
    })
}

fn parse_text(text: &str) -> Result<Reward, String> {
    let value = python_float(text).ok_or_else(|| format!("{text:?} is not a number"))?;
    if !value.is_finite() {
        return Err(format!("non-finite reward {value}"));
    }
    Ok(Reward {
        source: RewardSource::Text,
        rewards: vec![(DEFAULT_REWARD_NAME.to_string(), RewardValue::Float(value))],
    })
}

fn parse_json(text: &str) -> Result<Reward, String> {
    let value: Value = serde_json::from_str(text).map_err(|e| format!("not valid JSON: {e}"))?;
    let Value::Object(map) = value else {
        return Err(match value {
            Value::Number(_) => "a JSON number, not an object of named rewards".to_string(),
            other => format!("non-numeric reward {other}"),
        });
    };
    let mut rewards = Vec::with_capacity(map.len());
    for (name, v) in map {
        let reward = match &v {
            Value::Bool(b) => RewardValue::Float(if *b { 1.0 } else { 0.0 }),
            Value::Number(n) => match (n.as_i64(), n.as_f64()) {
                (Some(i), _) if !n.is_f64() => RewardValue::Int(i),
                (_, Some(f)) if f.is_finite() => RewardValue::Float(f),
                _ => return Err(format!("non-finite reward {n} for {name:?}")),
            },
            other => return Err(format!("non-numeric reward {other} for {name:?}")),
        };
        rewards.push((name, reward));
    }
    Ok(Reward {
        source: RewardSource::Json,
        rewards,
    })
}

/// Python's `float(text)` for a `str`: surrounding Unicode whitespace stripped
/// (`float` strips what Unicode calls White_Space; unlike `str.strip` it keeps
/// the separators U+001C..U+001F, and then fails on them), an
/// optional sign, then `inf` / `infinity` / `nan` in any case, or a decimal
/// with optional fraction and exponent in which single `_` may separate
/// digits. None when Python would raise `ValueError`. (Python also accepts
/// non-ASCII decimal digits such as `١`; this does not.)
pub(crate) fn python_float(text: &str) -> Option<f64> {
    let s = text.trim_matches(char::is_whitespace);
    let (sign, body) = match s.as_bytes().first() {
        Some(b'+') => (1.0, &s[1..]),
        Some(b'-') => (-1.0, &s[1..]),
        _ => (1.0, s),
    };
    match body.to_ascii_lowercase().as_str() {
        "inf" | "infinity" => return Some(sign * f64::INFINITY),
        "nan" => return Some(f64::NAN),
        _ => {}
    }
    let mut cleaned = String::with_capacity(body.len());
    let bytes = body.as_bytes();
    let mut mantissa_digits = 0;
    let mut i = 0;
    // Digits with single underscores between them; returns how many digits.
    let digits = |i: &mut usize, out: &mut String| -> Option<usize> {
        let mut n = 0;
        while *i < bytes.len() {
            match bytes[*i] {
                b'0'..=b'9' => {
                    out.push(char::from(bytes[*i]));
                    n += 1;
                }
                b'_' if n > 0 && bytes.get(*i + 1).is_some_and(u8::is_ascii_digit) => {}
                b'_' => return None,
                _ => break,
            }
            *i += 1;
        }
        Some(n)
    };
    mantissa_digits += digits(&mut i, &mut cleaned)?;
    if bytes.get(i) == Some(&b'.') {
        cleaned.push('.');
        i += 1;
        mantissa_digits += digits(&mut i, &mut cleaned)?;
    }
    if mantissa_digits == 0 {
        return None;
    }
    if matches!(bytes.get(i), Some(b'e' | b'E')) {
        cleaned.push('e');
        i += 1;
        if let Some(&c @ (b'+' | b'-')) = bytes.get(i) {
            cleaned.push(char::from(c));
            i += 1;
        }
        if digits(&mut i, &mut cleaned)? == 0 {
            return None;
        }
    }
    if i != bytes.len() {
        return None;
    }
    // Rust's parse is correctly rounded, as CPython's is.
    cleaned.parse::<f64>().ok().map(|x| sign * x)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_float_grammar() {
        for (text, want) in [
            ("1", Some(1.0)),
            (" 0.5\n", Some(0.5)),
            ("\u{a0}1\u{3000}", Some(1.0)),
            ("\u{1f}1", None),
            ("1_000.0_1", Some(1000.01)),
            (".5", Some(0.5)),
            ("5.", Some(5.0)),
            ("-1e-3", Some(-0.001)),
            ("+1E+3", Some(1000.0)),
            ("1__0", None),
            ("_1", None),
            ("1_", None),
            ("1._5", None),
            ("1e", None),
            (".", None),
            ("", None),
            ("0x10", None),
            ("1.0.0", None),
            ("\u{feff}1", None),
        ] {
            assert_eq!(python_float(text), want, "{text:?}");
        }
        assert_eq!(python_float("-Infinity"), Some(f64::NEG_INFINITY));
        assert!(python_float("nan").is_some_and(f64::is_nan));
    }
}
