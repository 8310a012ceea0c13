//! Task rows: what one trajectory is asked to do.
//!
//! A JSONL line is an object with `prompt` (or `task`, or
//! `problem_statement`), an optional `id`, and any other fields (for
//! templates, sandboxes and scorers). A line that is not JSON at all is a
//! prompt by itself, as in Hermes' runner.

use serde_json::{Map, Value};

#[derive(Debug, Clone)]
pub struct Task {
    /// 0-based position in the input (the line's number minus one, counting
    /// blank lines, so it always points back at the right line).
    pub index: u64,
    pub id: String,
    /// Which of the task's `--group-size` rollouts this is (0 without groups).
    pub rollout: u32,
    pub prompt: String,
    /// The row as given; `{"prompt": ...}` for a raw line or `--task`.
    pub row: Map<String, Value>,
}

/// A line that cannot become a task.
#[derive(Debug, Clone, thiserror::Error)]
#[error("line {line}: {reason}")]
pub struct BadLine {
    pub line: u64,
    pub reason: String,
}

impl Task {
    /// A single task given on the command line.
    pub fn single(prompt: &str) -> Self {
        let mut row = Map::new();
        row.insert("prompt".into(), prompt.into());
        Self {
            index: 0,
            id: "task-0".into(),
            rollout: 0,
            prompt: prompt.to_string(),
            row,
        }
    }

    /// Parses line `index` (0-based) of a prompts file. `Ok(None)` for a blank line.
    pub fn parse_line(index: u64, line: &str) -> Result<Option<Self>, BadLine> {
        let bad = |reason: String| BadLine {
            line: index + 1,
            reason,
        };
        let text = line.trim();
        if text.is_empty() {
            return Ok(None);
        }
        let row = if text.starts_with('{') {
            match serde_json::from_str::<Value>(text) {
                Ok(Value::Object(row)) => row,
                Ok(_) => unreachable!("text starting with '{{' parses only as an object"),
                Err(e) => return Err(bad(format!("invalid JSON: {e}"))),
            }
        } else {
            let mut row = Map::new();
            row.insert("prompt".into(), text.into());
            row
        };
        let prompt = ["prompt", "task", "problem_statement"]
            .iter()
            .find_map(|key| row.get(*key))
            .ok_or_else(|| bad("no `prompt`, `task` or `problem_statement` field".into()))?;
        let prompt = match prompt {
            Value::String(s) if !s.trim().is_empty() => s.clone(),
            Value::String(_) => return Err(bad("the prompt is empty".into())),
            other => return Err(bad(format!("the prompt must be a string, not {other}"))),
        };
        let id = match row.get("id").or_else(|| row.get("instance_id")) {
            Some(Value::String(s)) if !s.is_empty() => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            _ => format!("task-{index}"),
        };
        Ok(Some(Self {
            index,
            id,
            rollout: 0,
            prompt,
            row,
        }))
    }

    /// The container image the row asks for: `image`, or the names
    /// SWE-smith (`image_name`) and other SWE datasets (`docker_image`) use.
    pub fn image(&self) -> Option<&str> {
        ["image", "image_name", "docker_image"]
            .iter()
            .find_map(|key| self.field(key).filter(|image| !image.trim().is_empty()))
    }

    /// A row field holding a command or a list of commands (none when absent
    /// or of another type).
    pub fn commands(&self, key: &str) -> Vec<String> {
        match self.row.get(key) {
            Some(Value::String(s)) if !s.trim().is_empty() => vec![s.clone()],
            Some(Value::Array(list)) => list
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect(),
            _ => Vec::new(),
        }
    }

    /// Every task of a prompts file, and its bad lines (each named by line
    /// number; the good lines still count). Only reading the file can fail.
    pub fn read_file(path: &std::path::Path) -> std::io::Result<(Vec<Self>, Vec<BadLine>)> {
        use std::io::BufRead;
        let file = std::io::BufReader::new(std::fs::File::open(path)?);
        let (mut tasks, mut bad) = (Vec::new(), Vec::new());
        for (index, line) in file.split(b'\n').enumerate() {
            let parsed = match String::from_utf8(line?) {
                Ok(line) => Self::parse_line(index as u64, &line),
                Err(_) => Err(BadLine {
                    line: index as u64 + 1,
                    reason: "not valid UTF-8".into(),
                }),
            };
            match parsed {
                Ok(Some(task)) => tasks.push(task),
                Ok(None) => {}
                Err(e) => bad.push(e),
            }
        }
        Ok((tasks, bad))
    }

    /// A string field of the row, if present.
    pub fn field(&self, key: &str) -> Option<&str> {
        self.row.get(key).and_then(Value::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_raw_lines_and_bad_lines() {
        let t = Task::parse_line(0, r#"{"id": "a", "prompt": "do it", "image": "x"}"#)
            .unwrap()
            .unwrap();
        assert_eq!((t.id.as_str(), t.prompt.as_str()), ("a", "do it"));
        assert_eq!(t.field("image"), Some("x"));
        assert_eq!(t.image(), Some("x"));
        let t = Task::parse_line(
            0,
            r#"{"instance_id": "o__r-1", "problem_statement": "p", "image_name": "swesmith.x"}"#,
        )
        .unwrap()
        .unwrap();
        assert_eq!((t.id.as_str(), t.image()), ("o__r-1", Some("swesmith.x")));

        let t = Task::parse_line(4, r#"{"task": "other key"}"#)
            .unwrap()
            .unwrap();
        assert_eq!((t.id.as_str(), t.prompt.as_str()), ("task-4", "other key"));

        let t = Task::parse_line(1, "just some words").unwrap().unwrap();
        assert_eq!(t.prompt, "just some words");

        assert!(Task::parse_line(2, "   ").unwrap().is_none());

        let err = Task::parse_line(6, r#"{"prompt": "unterminated"#).unwrap_err();
        assert_eq!(err.line, 7);
        assert!(err.to_string().starts_with("line 7: invalid JSON"), "{err}");
        let err = Task::parse_line(0, r#"{"id": "x"}"#).unwrap_err();
        assert!(err.reason.contains("no `prompt`"), "{err}");
        let err = Task::parse_line(0, r#"{"prompt": "  "}"#).unwrap_err();
        assert!(err.reason.contains("empty"), "{err}");
    }
}
