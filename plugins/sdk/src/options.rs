//! A formatter's options.

use serde_json::{Map, Value};

use crate::PluginError;
use crate::format::{invalid, parse_json};

/// The options of a `format` call: a JSON object (`--format-options`), in
/// which the host always sets `"jsonl"`. The SDK parses them before calling
/// the formatter so that every formatter refuses malformed options with the
/// same `invalid-input` message.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Options(Map<String, Value>);

impl Options {
    /// Parses the options text; anything but a JSON object is refused.
    pub fn parse(text: &str) -> Result<Self, PluginError> {
        match parse_json("options", text)? {
            Value::Object(map) => Ok(Self(map)),
            other => Err(invalid(format!(
                "options must be a JSON object, got {}",
                plinth_pyjson::dumps(&other, false)
            ))),
        }
    }

    /// The option `key` as given (`null` included).
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.0.get(key)
    }

    /// A boolean option: `default` when absent or `null`, an error when not
    /// a boolean.
    pub fn bool(&self, key: &str, default: bool) -> Result<bool, PluginError> {
        match self.0.get(key) {
            None | Some(Value::Null) => Ok(default),
            Some(Value::Bool(b)) => Ok(*b),
            Some(other) => Err(invalid(format!(
                "option {key:?} must be true or false, got {}",
                plinth_pyjson::dumps(other, false)
            ))),
        }
    }

    /// A string option: `None` when absent or `null`, an error when not a
    /// string.
    pub fn str(&self, key: &str) -> Result<Option<&str>, PluginError> {
        match self.0.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(other) => Err(invalid(format!(
                "option {key:?} must be a string, got {}",
                plinth_pyjson::dumps(other, false)
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_an_object_and_refuses_anything_else() {
        let options = Options::parse(r#"{"jsonl": true, "variant": "x", "n": 1}"#).unwrap();
        assert_eq!(options.bool("jsonl", false), Ok(true));
        assert_eq!(options.bool("absent", true), Ok(true));
        assert_eq!(options.str("variant"), Ok(Some("x")));
        assert_eq!(options.str("absent"), Ok(None));
        assert!(matches!(
            options.bool("n", false),
            Err(PluginError::InvalidInput(_))
        ));
        assert!(matches!(
            options.str("n"),
            Err(PluginError::InvalidInput(_))
        ));
        for text in ["[]", "jsonl", "{"] {
            assert!(
                matches!(Options::parse(text), Err(PluginError::InvalidInput(m)) if m.contains("options")),
                "{text}"
            );
        }
    }
}
