//! An error and its causes as one line: the one spelling for errors from
//! libraries (reqwest, minijinja) whose own message leaves out the part that
//! says what went wrong, which they keep in `source()`.

use std::error::Error;

/// `error`'s message, then each cause's after `: `.
pub fn chain(error: &dyn Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
