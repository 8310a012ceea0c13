//! Actions written in plain text (`--text-actions`): the parse lives in
//! `plinth-text-actions`, shared with the formatters that show such replies.

pub use plinth_text_actions::{TextCall, parse};
