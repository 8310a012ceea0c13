//! Reading `task.toml` values as Harbor's pydantic models coerce them.
//!
//! Harbor validates `task.toml` with pydantic v2 in its default *lax* mode, so
//! `timeout_sec = "600"`, `memory_mb = 2048.0` and `allow_internet = "yes"`
//! are all accepted and converted; a task set written against Harbor relies on
//! that. Each function here takes a TOML value and the dotted key it sits at,
//! and converts it the way pydantic does for that field type, or says why not.

use toml::Value;

use super::ConfigError;

/// `what` is expected at `key`, but the value is something else.
fn wrong(key: &str, what: &str, value: &Value) -> ConfigError {
    ConfigError::Invalid {
        key: key.to_string(),
        message: format!("expected {what}, found {}", describe(value)),
    }
}

/// A value as an error message shows it: its TOML type and text.
pub(crate) fn describe(value: &Value) -> String {
    match value {
        Value::String(s) => format!("the string {s:?}"),
        Value::Integer(i) => format!("the integer {i}"),
        Value::Float(f) => format!("the float {f}"),
        Value::Boolean(b) => format!("the boolean {b}"),
        Value::Datetime(d) => format!("the datetime {d}"),
        Value::Array(_) => "an array".to_string(),
        Value::Table(_) => "a table".to_string(),
    }
}

/// pydantic's `float`: numbers, booleans (as 0.0 / 1.0) and numeric strings.
pub(crate) fn float(key: &str, value: &Value) -> Result<f64, ConfigError> {
    match value {
        Value::Float(f) => Ok(*f),
        // TOML integers are i64; every one is a float pydantic would accept.
        #[allow(clippy::cast_precision_loss)]
        Value::Integer(i) => Ok(*i as f64),
        Value::Boolean(b) => Ok(if *b { 1.0 } else { 0.0 }),
        Value::String(s) => s
            .trim()
            .parse::<f64>()
            .map_err(|_| wrong(key, "a number", value)),
        _ => Err(wrong(key, "a number", value)),
    }
}

/// pydantic's `int`: integers, booleans, floats without a fractional part and
/// integer strings.
pub(crate) fn int(key: &str, value: &Value) -> Result<i64, ConfigError> {
    match value {
        Value::Integer(i) => Ok(*i),
        Value::Boolean(b) => Ok(i64::from(*b)),
        Value::Float(f) if f.is_finite() && f.fract() == 0.0 && f.abs() < 9.0e18 => {
            // Checked just above: whole and within i64.
            #[allow(clippy::cast_possible_truncation)]
            Ok(*f as i64)
        }
        Value::String(s) => s
            .trim()
            .parse::<i64>()
            .map_err(|_| wrong(key, "an integer", value)),
        _ => Err(wrong(key, "an integer", value)),
    }
}

/// pydantic's `bool`: booleans, the integers 0 and 1, and the strings pydantic
/// knows (`yes`/`no`, `on`/`off`, `true`/`false`, `t`/`f`, `y`/`n`, `1`/`0`,
/// in any case).
pub(crate) fn boolean(key: &str, value: &Value) -> Result<bool, ConfigError> {
    match value {
        Value::Boolean(b) => Ok(*b),
        Value::Integer(0) => Ok(false),
        Value::Integer(1) => Ok(true),
        Value::Float(f) if *f == 0.0 => Ok(false),
        Value::Float(f) if *f == 1.0 => Ok(true),
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "0" | "off" | "f" | "false" | "n" | "no" => Ok(false),
            "1" | "on" | "t" | "true" | "y" | "yes" => Ok(true),
            _ => Err(wrong(key, "a boolean", value)),
        },
        _ => Err(wrong(key, "a boolean", value)),
    }
}

/// pydantic's `str`: strings only (lax mode does not turn numbers into text).
pub(crate) fn string(key: &str, value: &Value) -> Result<String, ConfigError> {
    match value {
        Value::String(s) => Ok(s.clone()),
        _ => Err(wrong(key, "a string", value)),
    }
}

/// A `list[str]`.
pub(crate) fn strings(key: &str, value: &Value) -> Result<Vec<String>, ConfigError> {
    match value {
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, item)| string(&format!("{key}[{i}]"), item))
            .collect(),
        _ => Err(wrong(key, "an array of strings", value)),
    }
}

/// A `dict[str, str]` (environment variables): a table of strings.
pub(crate) fn string_map(key: &str, value: &Value) -> Result<Vec<(String, String)>, ConfigError> {
    match value {
        Value::Table(table) => table
            .iter()
            .map(|(name, v)| Ok((name.clone(), string(&format!("{key}.{name}"), v)?)))
            .collect(),
        _ => Err(wrong(key, "a table of strings", value)),
    }
}

/// A table (a pydantic sub-model).
pub(crate) fn table<'a>(key: &str, value: &'a Value) -> Result<&'a toml::Table, ConfigError> {
    match value {
        Value::Table(table) => Ok(table),
        _ => Err(wrong(key, "a table", value)),
    }
}

/// A `str | int` (a user name or a uid): pydantic's smart union keeps the type.
pub(crate) fn user(key: &str, value: &Value) -> Result<super::User, ConfigError> {
    match value {
        Value::String(s) => Ok(super::User::Name(s.clone())),
        Value::Integer(i) => Ok(super::User::Id(*i)),
        _ => Err(wrong(key, "a user name or uid", value)),
    }
}
