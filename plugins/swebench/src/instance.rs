//! A SWE-bench task row: the fields the harness reads to grade it.

use serde_json::{Map, Value};

/// The fields of a row (`SWEbenchInstance`) grading needs.
#[derive(Debug, Clone, PartialEq)]
pub struct Instance {
    pub instance_id: String,
    pub repo: String,
    pub version: String,
    pub base_commit: String,
    pub test_patch: String,
    /// As published: a JSON list, or the text of one (`_from_json_or_obj`).
    pub fail_to_pass: Vec<String>,
    pub pass_to_pass: Vec<String>,
}

/// A row that cannot be graded, naming the field.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum InstanceError {
    #[error("the task row is not a JSON object: {0}")]
    NotAnObject(String),
    #[error("the task row has no `{0}`")]
    Missing(&'static str),
    #[error("the task row's `{field}` {why}")]
    Invalid { field: &'static str, why: String },
}

impl Instance {
    /// Reads a row from JSON text.
    pub fn from_json(text: &str) -> Result<Self, InstanceError> {
        match serde_json::from_str(text) {
            Ok(Value::Object(row)) => Self::from_row(&row),
            Ok(_) => Err(InstanceError::NotAnObject("not an object".into())),
            Err(e) => Err(InstanceError::NotAnObject(e.to_string())),
        }
    }

    /// Reads a row from a JSON object.
    pub fn from_row(row: &Map<String, Value>) -> Result<Self, InstanceError> {
        Ok(Self {
            instance_id: text(row, "instance_id")?,
            repo: text(row, "repo")?,
            version: version(row)?,
            base_commit: text(row, "base_commit")?,
            test_patch: text(row, "test_patch")?,
            fail_to_pass: tests(row, "FAIL_TO_PASS")?,
            pass_to_pass: tests(row, "PASS_TO_PASS")?,
        })
    }
}

fn text(row: &Map<String, Value>, field: &'static str) -> Result<String, InstanceError> {
    match row.get(field) {
        None | Some(Value::Null) => Err(InstanceError::Missing(field)),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(other) => Err(InstanceError::Invalid {
            field,
            why: format!("must be a string, not {other}"),
        }),
    }
}

/// Datasets saved through pandas sometimes hold versions as numbers: `3.0` is read back
/// as "3.0", and a number that lost a digit (`0.2` for "0.20") then fails the spec lookup
/// by name.
fn version(row: &Map<String, Value>) -> Result<String, InstanceError> {
    match row.get("version") {
        Some(Value::Number(n)) => Ok(n.to_string()),
        _ => text(row, "version"),
    }
}

/// `_from_json_or_obj`: absent is an empty list (a validation row); a string is JSON.
fn tests(row: &Map<String, Value>, field: &'static str) -> Result<Vec<String>, InstanceError> {
    let invalid = |why: &str| InstanceError::Invalid {
        field,
        why: format!("{why}: expected a list of test names or the JSON text of one"),
    };
    let items = match row.get(field) {
        None => return Ok(Vec::new()),
        Some(Value::Array(items)) => items.clone(),
        Some(Value::String(s)) => match serde_json::from_str(s) {
            Ok(Value::Array(items)) => items,
            _ => return Err(invalid("is a string that is not a JSON list")),
        },
        Some(_) => return Err(invalid("has the wrong type")),
    };
    items
        .into_iter()
        .map(|item| match item {
            Value::String(s) => Ok(s),
            _ => Err(invalid("holds an item that is not a string")),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_are_read_as_published() {
        let row = r#"{"instance_id": "a__b-1", "repo": "a/b", "version": 3.0,
            "base_commit": "c", "test_patch": "p",
            "FAIL_TO_PASS": "[\"t1\", \"t 2\"]", "PASS_TO_PASS": ["t3"]}"#;
        let i = Instance::from_json(row).unwrap();
        assert_eq!(i.version, "3.0");
        assert_eq!(i.fail_to_pass, ["t1", "t 2"]);
        assert_eq!(i.pass_to_pass, ["t3"]);
        let err = Instance::from_json(r#"{"instance_id": "x"}"#).unwrap_err();
        assert_eq!(err, InstanceError::Missing("repo"));
        let bad = r#"{"instance_id": "a", "repo": "a/b", "version": "1", "base_commit": "c",
            "test_patch": "p", "FAIL_TO_PASS": "nope"}"#;
        assert!(
            Instance::from_json(bad)
                .unwrap_err()
                .to_string()
                .contains("`FAIL_TO_PASS`")
        );
    }
}
