//! What `plinth swebench eval` reads: the dataset's rows and the predictions, in every
//! shape the harness and mini-swe-agent write them, each bad entry named by file and
//! line (or entry) before anything runs.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use plinth_swebench::Instance;

/// A row of the dataset: the fields grading reads, and the row as given (the scorer
/// component gets it whole).
#[derive(Debug, Clone)]
pub struct Row {
    pub instance: Instance,
    pub raw: Map<String, Value>,
}

/// One prediction (`{instance_id, model_name_or_path, model_patch}`).
#[derive(Debug, Clone, PartialEq)]
pub struct Prediction {
    pub instance_id: String,
    /// `model_name_or_path`; the harness says `None` when it is absent.
    pub model: String,
    /// `None`: `model_patch` was `null` (the harness's `patch_is_None`).
    pub patch: Option<String>,
}

impl Prediction {
    /// The harness's empty patch: `""` or `None`, never evaluated.
    pub fn is_empty(&self) -> bool {
        self.patch.as_deref().is_none_or(str::is_empty)
    }

    /// The model's directory name under the run (`/` as `__`, as the harness has it).
    pub fn model_dir(&self) -> String {
        self.model.replace('/', "__")
    }
}

/// Where in a file an entry is.
#[derive(Debug, Clone, PartialEq)]
pub enum Place {
    Line(usize),
    /// The n-th (1-based) item of a JSON list.
    Item(usize),
    /// The value under this key of a JSON object (`preds.json`).
    Key(String),
}

impl std::fmt::Display for Place {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Place::Line(n) => write!(f, "line {n}"),
            Place::Item(n) => write!(f, "item {n}"),
            Place::Key(k) => write!(f, "entry `{k}`"),
        }
    }
}

/// A file that cannot be read, or an entry in it that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {why}")]
    File { path: PathBuf, why: String },
    #[error("{path}, {place}: {why}")]
    Entry {
        path: PathBuf,
        place: Place,
        why: String,
    },
    #[error("{path}: instance `{id}` appears twice ({first} and {second})")]
    Duplicate {
        path: PathBuf,
        id: String,
        first: Place,
        second: Place,
    },
}

/// The dataset: a JSONL file of rows, or a JSON list of them (as the harness loads a
/// local `.json`).
pub fn read_rows(path: &Path) -> Result<Vec<Row>, InputError> {
    let entries = read_entries(path, false)?;
    let mut rows = Vec::with_capacity(entries.len());
    let mut seen: BTreeMap<String, Place> = BTreeMap::new();
    for (place, value) in entries {
        let entry_error = |why: String| InputError::Entry {
            path: path.to_path_buf(),
            place: place.clone(),
            why,
        };
        let Value::Object(raw) = value else {
            return Err(entry_error("a row must be a JSON object".into()));
        };
        let instance = Instance::from_row(&raw).map_err(|e| entry_error(e.to_string()))?;
        if let Some(first) = seen.insert(instance.instance_id.clone(), place.clone()) {
            return Err(InputError::Duplicate {
                path: path.to_path_buf(),
                id: instance.instance_id,
                first,
                second: place,
            });
        }
        rows.push(Row { instance, raw });
    }
    if rows.is_empty() {
        return Err(InputError::File {
            path: path.to_path_buf(),
            why: "no rows".into(),
        });
    }
    Ok(rows)
}

/// The predictions: the harness's and mini-swe-agent's `preds.json` (`{instance_id:
/// prediction}`), a JSON list of predictions, or a JSONL of them. An instance predicted
/// twice is an error (the harness would keep the last one silently).
pub fn read_predictions(path: &Path) -> Result<Vec<Prediction>, InputError> {
    let entries = read_entries(path, true)?;
    let mut predictions = Vec::with_capacity(entries.len());
    let mut seen: BTreeMap<String, Place> = BTreeMap::new();
    for (place, value) in entries {
        let prediction = prediction(&value, &place).map_err(|why| InputError::Entry {
            path: path.to_path_buf(),
            place: place.clone(),
            why,
        })?;
        if let Some(first) = seen.insert(prediction.instance_id.clone(), place.clone()) {
            return Err(InputError::Duplicate {
                path: path.to_path_buf(),
                id: prediction.instance_id,
                first,
                second: place,
            });
        }
        predictions.push(prediction);
    }
    if predictions.is_empty() {
        return Err(InputError::File {
            path: path.to_path_buf(),
            why: "no predictions".into(),
        });
    }
    Ok(predictions)
}

fn prediction(value: &Value, place: &Place) -> Result<Prediction, String> {
    let Value::Object(map) = value else {
        return Err("a prediction must be a JSON object".into());
    };
    let text = |key: &str| -> Result<Option<String>, String> {
        match map.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(other) => Err(format!("`{key}` must be a string, not {other}")),
        }
    };
    let instance_id = match (text("instance_id")?, place) {
        (Some(id), Place::Key(key)) if id != *key => {
            return Err(format!(
                "its `instance_id` is `{id}`, not the key it is filed under"
            ));
        }
        (Some(id), _) if !id.is_empty() => id,
        (None, Place::Key(key)) => key.clone(),
        _ => return Err("no `instance_id`".into()),
    };
    if !map.contains_key("model_patch") {
        return Err(format!(
            "prediction for `{instance_id}` has no `model_patch` (null or \"\" for none)"
        ));
    }
    Ok(Prediction {
        instance_id,
        model: text("model_name_or_path")?.unwrap_or_else(|| "None".into()),
        patch: text("model_patch")?,
    })
}

/// The file's entries: a JSON list, an object of entries (`keyed`: `preds.json`), or
/// one JSON value per line.
fn read_entries(path: &Path, keyed: bool) -> Result<Vec<(Place, Value)>, InputError> {
    let text = std::fs::read_to_string(path).map_err(|source| InputError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let whole = serde_json::from_str::<Value>(&text);
    match whole {
        Ok(Value::Array(items)) => {
            return Ok(items
                .into_iter()
                .enumerate()
                .map(|(i, v)| (Place::Item(i + 1), v))
                .collect());
        }
        // `{instance_id: {...}, ...}`; a one-line JSONL of a single prediction is an
        // object too, told apart by its values (a prediction's are not all objects).
        Ok(Value::Object(map))
            if keyed && !map.is_empty() && map.values().all(Value::is_object) =>
        {
            return Ok(map.into_iter().map(|(k, v)| (Place::Key(k), v)).collect());
        }
        _ => {}
    }
    let mut entries = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let value = serde_json::from_str(line).map_err(|e| InputError::Entry {
            path: path.to_path_buf(),
            place: Place::Line(i + 1),
            why: format!("not JSON: {e}"),
        })?;
        entries.push((Place::Line(i + 1), value));
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(text: &str) -> tempfile::NamedTempFile {
        let f = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(f.path(), text).unwrap();
        f
    }

    #[test]
    fn every_shape_of_predictions_reads_the_same() {
        let keyed = file(
            r#"{"a__b-1": {"instance_id": "a__b-1", "model_name_or_path": "m/x", "model_patch": "p"},
                "a__b-2": {"model_name_or_path": "m/x", "model_patch": null}}"#,
        );
        let list = file(
            r#"[{"instance_id": "a__b-1", "model_name_or_path": "m/x", "model_patch": "p"},
                {"instance_id": "a__b-2", "model_name_or_path": "m/x", "model_patch": null}]"#,
        );
        let lines = file(
            "{\"instance_id\": \"a__b-1\", \"model_name_or_path\": \"m/x\", \"model_patch\": \"p\"}\n\n\
             {\"instance_id\": \"a__b-2\", \"model_name_or_path\": \"m/x\", \"model_patch\": null}\n",
        );
        let expected = vec![
            Prediction {
                instance_id: "a__b-1".into(),
                model: "m/x".into(),
                patch: Some("p".into()),
            },
            Prediction {
                instance_id: "a__b-2".into(),
                model: "m/x".into(),
                patch: None,
            },
        ];
        for f in [&keyed, &list, &lines] {
            assert_eq!(read_predictions(f.path()).unwrap(), expected);
        }
        assert!(expected[1].is_empty() && !expected[0].is_empty());
        assert_eq!(expected[0].model_dir(), "m__x");
        let one = file(r#"{"instance_id": "a__b-1", "model_patch": ""}"#);
        let read = read_predictions(one.path()).unwrap();
        assert_eq!(read[0].model, "None");
        assert!(read[0].is_empty());
    }

    #[test]
    fn bad_predictions_are_named_by_place() {
        let f = file("{\"instance_id\": \"x\", \"model_patch\": \"p\"}\n{oops\n");
        let e = read_predictions(f.path()).unwrap_err().to_string();
        assert!(e.contains("line 2: not JSON"), "{e}");
        let f = file(r#"[{"instance_id": "x", "model_patch": "p"}, {"instance_id": "y"}]"#);
        let e = read_predictions(f.path()).unwrap_err().to_string();
        assert!(
            e.contains("item 2") && e.contains("`y` has no `model_patch`"),
            "{e}"
        );
        let f = file(r#"{"x": {"instance_id": "y", "model_patch": "p"}}"#);
        let e = read_predictions(f.path()).unwrap_err().to_string();
        assert!(e.contains("entry `x`") && e.contains("`y`"), "{e}");
        let f = file(
            "{\"instance_id\": \"x\", \"model_patch\": \"p\"}\n{\"instance_id\": \"x\", \"model_patch\": \"q\"}\n",
        );
        let e = read_predictions(f.path()).unwrap_err().to_string();
        assert!(e.contains("`x` appears twice (line 1 and line 2)"), "{e}");
        let f = file("");
        assert!(read_predictions(f.path()).is_err());
    }

    #[test]
    fn rows_are_checked_as_the_harness_reads_them() {
        let f = file(
            "{\"instance_id\": \"a__b-1\", \"repo\": \"a/b\", \"version\": \"1.0\", \"base_commit\": \"c\", \"test_patch\": \"t\", \"FAIL_TO_PASS\": \"[]\", \"PASS_TO_PASS\": []}\n\
             {\"instance_id\": \"a__b-2\", \"repo\": \"a/b\"}\n",
        );
        let e = read_rows(f.path()).unwrap_err().to_string();
        assert!(e.contains("line 2") && e.contains("`version`"), "{e}");
    }
}
