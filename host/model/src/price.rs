//! What tokens cost, so a run can report money as well as tokens.
//!
//! Prices change and differ per provider, so they come from a small file the user
//! keeps, not from code: TOML (or JSON when the file ends in `.json`) mapping a model
//! name to its prices, e.g.
//!
//! ```toml
//! ["anthropic/claude-sonnet-4"]
//! input_per_million = 3.0
//! output_per_million = 15.0
//! ```

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Mutex;

use serde::Deserialize;

use plinth_record::sync::Locked;
use plinth_record::trajectory::Usage;

/// US dollars per million tokens.
#[derive(Clone, Copy, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Price {
    pub input_per_million: f64,
    pub output_per_million: f64,
}

impl Price {
    pub fn cost(&self, usage: &Usage) -> f64 {
        (usage.prompt_tokens as f64 * self.input_per_million
            + usage.completion_tokens as f64 * self.output_per_million)
            / 1_000_000.0
    }
}

/// Why a price file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum PriceError {
    #[error("cannot read price file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("price file {path} is not valid TOML: {source}")]
    Toml {
        path: String,
        source: toml::de::Error,
    },
    #[error("price file {path} is not valid JSON: {source}")]
    Json {
        path: String,
        source: serde_json::Error,
    },
}

/// Model name → price, warning once per model that has no entry.
#[derive(Debug)]
pub struct PriceTable {
    prices: HashMap<String, Price>,
    warned: Mutex<HashSet<String>>,
}

impl PriceTable {
    pub fn load(path: &Path) -> Result<Self, PriceError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| PriceError::Read {
            path: shown.clone(),
            source,
        })?;
        let prices = if path.extension().is_some_and(|ext| ext == "json") {
            serde_json::from_str(&text).map_err(|source| PriceError::Json {
                path: shown,
                source,
            })?
        } else {
            toml::from_str(&text).map_err(|source| PriceError::Toml {
                path: shown,
                source,
            })?
        };
        Ok(Self::new(prices))
    }

    pub fn new(prices: HashMap<String, Price>) -> Self {
        Self {
            prices,
            warned: Mutex::new(HashSet::new()),
        }
    }

    /// The model's price; an unknown model gets `None` (cost 0) and one warning per
    /// table, however often it is asked for.
    pub fn price(&self, model: &str) -> Option<Price> {
        let price = self.prices.get(model).copied();
        if price.is_none() {
            let mut warned = self.warned.locked();
            if warned.insert(model.to_owned()) {
                tracing::warn!(model, "no price for this model: its cost is reported as 0");
            }
        }
        price
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(name: &str, text: &str) -> std::path::PathBuf {
        let path =
            std::env::temp_dir().join(format!("plinth-prices-{}-{name}", std::process::id()));
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn loads_toml_and_json() {
        let toml = write(
            "p.toml",
            "[\"a/b\"]\ninput_per_million = 3.0\noutput_per_million = 15.0\n",
        );
        let json = write(
            "p.json",
            r#"{"a/b": {"input_per_million": 3, "output_per_million": 15}}"#,
        );
        for path in [toml, json] {
            let table = PriceTable::load(&path).unwrap();
            let price = table.price("a/b").unwrap();
            let usage = Usage {
                prompt_tokens: 1_000_000,
                completion_tokens: 2_000,
            };
            assert!((price.cost(&usage) - 3.03).abs() < 1e-9);
            assert_eq!(table.price("unknown"), None);
            assert_eq!(table.price("unknown"), None);
            assert_eq!(table.warned.lock().unwrap().len(), 1);
            std::fs::remove_file(path).unwrap();
        }
    }

    #[test]
    fn bad_files_name_the_path() {
        let path = write("bad.toml", "[\"m\"]\ninput_per_million = \"cheap\"\n");
        let error = PriceTable::load(&path).unwrap_err().to_string();
        assert!(error.contains("bad.toml"), "{error}");
        std::fs::remove_file(&path).unwrap();
        let missing = PriceTable::load(Path::new("/nonexistent/prices.toml")).unwrap_err();
        assert!(matches!(missing, PriceError::Read { .. }));
    }
}
