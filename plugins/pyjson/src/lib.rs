//! JSON text exactly as Python's `json.dumps` writes it.
//!
//! Downstream tools of the trajectory formats (Hermes' `trajectory_compressor.py`,
//! mini-swe-agent's inspector, ...) were written against files Python produced,
//! and some of the formats embed `json.dumps` output inside strings (Hermes'
//! `<tool_call>` blocks), so the bytes matter. serde_json's writer differs from
//! Python's in separators, float notation and escapes; this crate reproduces
//! Python's (CPython 3.x `json` module, `sort_keys=False`, `allow_nan=True`):
//!
//! - compact mode (`indent=None`): items separated by `", "`, keys by `": "`;
//! - indented mode (`indent=N`): one item per line, `","` at the end of a line,
//!   `": "` after keys, `[]` / `{}` for empty containers;
//! - `ensure_ascii=True`: everything outside `' '..='~'` is escaped, non-ASCII as
//!   lowercase `\uXXXX` (UTF-16 surrogate pairs above the BMP), `0x7f` included;
//!   `ensure_ascii=False`: only `"`, `\` and control characters below `0x20` are
//!   escaped; the rest is written as UTF-8;
//! - short escapes `\" \\ \n \r \t \b \f`, other control characters `\u00XX`;
//! - integers as integers, floats as Python's `repr(float)` (shortest digits that
//!   round-trip, exponent form when the decimal exponent is below -4 or at least
//!   16, `NaN` / `Infinity` / `-Infinity`).
//!
//! Object keys are written in the map's order; the workspace builds serde_json
//! with `preserve_order`, so that is insertion (or parse) order, like a Python
//! dict.
//!
//! [`loads`] is the other direction, Python's `json.loads`: the same grammar and
//! the same values (`-0` is the integer 0, floats correctly rounded, which
//! serde_json's default parser does not guarantee), so that text a formatter
//! parses and writes back (tool-call arguments, tool results) comes out as
//! Python would have written it. It refuses what a `serde_json::Value` cannot
//! hold (`NaN`, `Infinity`, numbers beyond the `f64` range, lone surrogates),
//! and integers beyond 64 bits become floats.

use serde_json::{Map, Number, Value};

/// How to write a value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Style {
    /// `None`: compact (Python's `indent=None`); `Some(n)`: `indent=n`.
    pub indent: Option<usize>,
    /// Python's `ensure_ascii` flag.
    pub ensure_ascii: bool,
}

impl Style {
    /// `json.dumps(obj, ensure_ascii=ensure_ascii)`.
    pub const fn compact(ensure_ascii: bool) -> Self {
        Style {
            indent: None,
            ensure_ascii,
        }
    }

    /// `json.dumps(obj, indent=indent, ensure_ascii=ensure_ascii)`.
    pub const fn indented(indent: usize, ensure_ascii: bool) -> Self {
        Style {
            indent: Some(indent),
            ensure_ascii,
        }
    }
}

/// `json.dumps(value, ensure_ascii=ensure_ascii)`: one line, `", "` and `": "`.
pub fn dumps(value: &Value, ensure_ascii: bool) -> String {
    dumps_with(value, Style::compact(ensure_ascii))
}

/// `json.dumps(value, indent=indent, ensure_ascii=ensure_ascii)`.
pub fn dumps_indent(value: &Value, indent: usize, ensure_ascii: bool) -> String {
    dumps_with(value, Style::indented(indent, ensure_ascii))
}

/// `json.dumps` with the given style.
pub fn dumps_with(value: &Value, style: Style) -> String {
    let mut out = String::new();
    write_value(&mut out, value, style);
    out
}

/// Appends `value` to `out` as `json.dumps` would write it.
pub fn write_value(out: &mut String, value: &Value, style: Style) {
    write_at(out, value, style, 0);
}

fn write_at(out: &mut String, value: &Value, style: Style, depth: usize) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Number(n) => write_number(out, n),
        Value::String(s) => write_str(out, s, style.ensure_ascii),
        Value::Array(items) => {
            if items.is_empty() {
                out.push_str("[]");
                return;
            }
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                separate(out, style, depth + 1, i == 0);
                write_at(out, item, style, depth + 1);
            }
            close(out, style, depth);
            out.push(']');
        }
        Value::Object(map) => write_object(out, map, style, depth),
    }
}

fn write_object(out: &mut String, map: &Map<String, Value>, style: Style, depth: usize) {
    if map.is_empty() {
        out.push_str("{}");
        return;
    }
    out.push('{');
    for (i, (key, item)) in map.iter().enumerate() {
        separate(out, style, depth + 1, i == 0);
        write_str(out, key, style.ensure_ascii);
        out.push_str(": ");
        write_at(out, item, style, depth + 1);
    }
    close(out, style, depth);
    out.push('}');
}

/// What comes before an item: `", "` (compact) or `",\n" + indent` (indented);
/// the first item gets only the newline and indent.
fn separate(out: &mut String, style: Style, depth: usize, first: bool) {
    match style.indent {
        None => {
            if !first {
                out.push_str(", ");
            }
        }
        Some(width) => {
            if !first {
                out.push(',');
            }
            out.push('\n');
            push_spaces(out, width * depth);
        }
    }
}

/// What comes before a closing bracket: nothing, or a newline and the
/// enclosing level's indent.
fn close(out: &mut String, style: Style, depth: usize) {
    if let Some(width) = style.indent {
        out.push('\n');
        push_spaces(out, width * depth);
    }
}

fn push_spaces(out: &mut String, n: usize) {
    out.extend(std::iter::repeat_n(' ', n));
}

fn write_number(out: &mut String, n: &Number) {
    if let Some(i) = n.as_u64() {
        out.push_str(&i.to_string());
    } else if let Some(i) = n.as_i64() {
        out.push_str(&i.to_string());
    } else if let Some(f) = n.as_f64() {
        out.push_str(&float_repr(f));
    } else {
        // Only reachable with serde_json's `arbitrary_precision`, where the
        // number keeps its source text.
        out.push_str(&n.to_string());
    }
}

/// Python's `repr(x)` for a float, which is what `json.dumps` writes (with
/// `NaN`, `Infinity` and `-Infinity` for the non-finite values).
pub fn float_repr(x: f64) -> String {
    if x.is_nan() {
        return "NaN".to_string();
    }
    if x.is_infinite() {
        return if x > 0.0 { "Infinity" } else { "-Infinity" }.to_string();
    }
    if x == 0.0 {
        return if x.is_sign_negative() { "-0.0" } else { "0.0" }.to_string();
    }
    let (digits, exp) = shortest_digits(x.abs());
    let sign = if x < 0.0 { "-" } else { "" };

    let mut out = String::with_capacity(digits.len() + 8);
    out.push_str(sign);
    if !(-4..16).contains(&exp) {
        // Exponent form: `1e-05`, `1.5e+16`, two exponent digits at least.
        out.push_str(&digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        out.push('e');
        out.push(if exp < 0 { '-' } else { '+' });
        let magnitude = exp.unsigned_abs();
        if magnitude < 10 {
            out.push('0');
        }
        out.push_str(&magnitude.to_string());
    } else if exp >= 0 {
        // `exp + 1` digits before the point; `.0` when there are no others.
        let int_len = exp as usize + 1;
        if digits.len() <= int_len {
            out.push_str(&digits);
            out.extend(std::iter::repeat_n('0', int_len - digits.len()));
            out.push_str(".0");
        } else {
            out.push_str(&digits[..int_len]);
            out.push('.');
            out.push_str(&digits[int_len..]);
        }
    } else {
        // -4 <= exp <= -1: `0.000ddd`.
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', (-exp - 1) as usize));
        out.push_str(&digits);
    }
    out
}

/// The shortest decimal digits that read back as `x` (positive, finite,
/// non-zero) and the decimal exponent of the first one: `x = d.ddd × 10^exp`.
///
/// Rust's `{:e}` already gives the shortest digits and, of several, the one
/// closest to `x`. When two are exactly as close (`x` lies halfway between
/// them, e.g. `1000000000000000.25` between `...0.2` and `...0.3`), Rust takes
/// the upper one and Python (David Gay's `dtoa`) the one ending in an even
/// digit; that case is detected from the exact expansion of `x` and switched.
fn shortest_digits(x: f64) -> (String, i32) {
    let (digits, exp) = split_sci(&format!("{x:e}"));
    let n = digits.len();
    // Two more digits than the shortest, rounded: a tie needs "5" then "0".
    let (probe, probe_exp) = split_sci(&format!("{x:.prec$e}", prec = n + 1));
    if probe_exp != exp || !probe[n..].starts_with("50") {
        return (digits, exp);
    }
    // Every finite double has at most 767 significant decimal digits, so this
    // is its exact expansion (padded with zeros).
    let (exact, exact_exp) = split_sci(&format!("{x:.767e}"));
    if exact_exp != exp || !exact[n..].starts_with('5') || exact[n + 1..].bytes().any(|b| b != b'0')
    {
        return (digits, exp);
    }
    let lower = exact[..n].to_string();
    let upper = decimal_increment(&lower);
    let (even, odd) = if lower.ends_with(['0', '2', '4', '6', '8']) {
        (lower, upper)
    } else {
        (upper, lower)
    };
    for candidate in [even, odd] {
        // `upper` may have carried into a new leading digit ("99" -> "100").
        let (candidate, cand_exp) = if candidate.len() > n {
            (candidate[..n].to_string(), exp + 1)
        } else {
            (candidate, exp)
        };
        let text = format!("{}.{}e{cand_exp}", &candidate[..1], &candidate[1..]);
        if text.parse::<f64>() == Ok(x) {
            let trimmed = candidate.trim_end_matches('0');
            let trimmed = if trimmed.is_empty() { "0" } else { trimmed };
            return (trimmed.to_string(), cand_exp);
        }
    }
    (digits, exp)
}

/// `"1.25e-3"` -> `("125", -3)`.
fn split_sci(sci: &str) -> (String, i32) {
    let (mantissa, exp) = sci
        .split_once('e')
        .expect("`{:e}` output always has an exponent");
    let exp = exp.parse().expect("`{:e}` exponent is an integer");
    (mantissa.chars().filter(char::is_ascii_digit).collect(), exp)
}

/// Adds one unit in the last place to a string of decimal digits; a carry out
/// of the first digit makes the string one digit longer (`"99"` -> `"100"`).
fn decimal_increment(digits: &str) -> String {
    let mut bytes = digits.as_bytes().to_vec();
    for b in bytes.iter_mut().rev() {
        if *b == b'9' {
            *b = b'0';
        } else {
            *b += 1;
            return String::from_utf8(bytes).expect("ASCII digits");
        }
    }
    bytes.insert(0, b'1');
    String::from_utf8(bytes).expect("ASCII digits")
}

/// Appends `s` as a JSON string literal, escaped as Python's `json` does.
pub fn write_str(out: &mut String, s: &str, ensure_ascii: bool) {
    out.reserve(s.len() + 2);
    out.push('"');
    let mut start = 0;
    for (i, c) in s.char_indices() {
        let plain = if ensure_ascii {
            (' '..='~').contains(&c) && c != '"' && c != '\\'
        } else {
            c >= ' ' && c != '"' && c != '\\'
        };
        if plain {
            continue;
        }
        out.push_str(&s[start..i]);
        start = i + c.len_utf8();
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            _ => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    push_u_escape(out, *unit);
                }
            }
        }
    }
    out.push_str(&s[start..]);
    out.push('"');
}

fn push_u_escape(out: &mut String, unit: u16) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push_str("\\u");
    for shift in [12, 8, 4, 0] {
        out.push(HEX[usize::from((unit >> shift) & 0xf)] as char);
    }
}

/// Why [`loads`] refused a text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoadError {
    /// What was wrong, in the words of Python's `JSONDecodeError` where
    /// there is one.
    pub message: String,
    /// Character (not byte) offset of the problem, as Python reports it.
    pub pos: usize,
}

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (char {})", self.message, self.pos)
    }
}

impl std::error::Error for LoadError {}

/// Nesting deeper than this is refused (Python raises `RecursionError` near
/// 1000 levels; serde_json's own limit is 128).
pub const MAX_DEPTH: usize = 500;

/// Parses JSON text as Python's `json.loads(text)` does.
///
/// Same grammar (white space is `' \t\n\r'` only, control characters inside
/// strings refused, `\u` escapes with surrogate pairs), same values: a number
/// without fraction or exponent is an integer (`-0` is `0`), any other is the
/// correctly rounded float (serde_json's default parser is not correctly
/// rounded for long or large numbers, and reads `-0` as a float). Object keys
/// keep their order; a repeated key keeps its first position and its last
/// value, as a Python dict does.
///
/// What a `serde_json::Value` cannot hold is refused instead of read as
/// Python would: the `NaN` / `Infinity` / `-Infinity` literals, numbers
/// beyond the `f64` range and lone surrogate escapes. Integers beyond 64 bits
/// become the nearest float (Python keeps them exact).
pub fn loads(text: &str) -> Result<Value, LoadError> {
    let mut parser = Parser {
        text,
        bytes: text.as_bytes(),
        at: 0,
    };
    parser.skip_ws();
    let value = parser.value(0)?;
    parser.skip_ws();
    if parser.at != parser.bytes.len() {
        return Err(parser.error("Extra data"));
    }
    Ok(value)
}

struct Parser<'a> {
    text: &'a str,
    bytes: &'a [u8],
    at: usize,
}

impl Parser<'_> {
    fn error(&self, message: &str) -> LoadError {
        self.error_at(message, self.at)
    }

    fn error_at(&self, message: &str, at: usize) -> LoadError {
        let at = at.min(self.text.len());
        // Character offset; `at` may sit inside a multi-byte character only
        // after a bug, so count leniently.
        let pos = self
            .text
            .char_indices()
            .take_while(|(i, _)| *i < at)
            .count();
        LoadError {
            message: message.to_string(),
            pos,
        }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.at += 1;
        }
    }

    fn value(&mut self, depth: usize) -> Result<Value, LoadError> {
        match self.peek() {
            Some(b'"') => Ok(Value::String(self.string()?)),
            Some(b'{') => self.object(depth + 1),
            Some(b'[') => self.array(depth + 1),
            Some(b'n') if self.bytes[self.at..].starts_with(b"null") => {
                self.at += 4;
                Ok(Value::Null)
            }
            Some(b't') if self.bytes[self.at..].starts_with(b"true") => {
                self.at += 4;
                Ok(Value::Bool(true))
            }
            Some(b'f') if self.bytes[self.at..].starts_with(b"false") => {
                self.at += 5;
                Ok(Value::Bool(false))
            }
            Some(b'N') if self.bytes[self.at..].starts_with(b"NaN") => {
                Err(self.error("NaN cannot be represented"))
            }
            Some(b'I') if self.bytes[self.at..].starts_with(b"Infinity") => {
                Err(self.error("Infinity cannot be represented"))
            }
            Some(b'-') if self.bytes[self.at..].starts_with(b"-Infinity") => {
                Err(self.error("-Infinity cannot be represented"))
            }
            Some(b'-' | b'0'..=b'9') => self.number(),
            _ => Err(self.error("Expecting value")),
        }
    }

    fn enter(&self, depth: usize) -> Result<(), LoadError> {
        if depth > MAX_DEPTH {
            Err(self.error("nesting too deep"))
        } else {
            Ok(())
        }
    }

    fn object(&mut self, depth: usize) -> Result<Value, LoadError> {
        self.enter(depth)?;
        self.at += 1; // '{'
        let mut map = Map::new();
        self.skip_ws();
        if self.peek() == Some(b'}') {
            self.at += 1;
            return Ok(Value::Object(map));
        }
        loop {
            if self.peek() != Some(b'"') {
                return Err(self.error("Expecting property name enclosed in double quotes"));
            }
            let key = self.string()?;
            self.skip_ws();
            if self.peek() != Some(b':') {
                return Err(self.error("Expecting ':' delimiter"));
            }
            self.at += 1;
            self.skip_ws();
            let item = self.value(depth)?;
            // `insert` on a present key replaces the value in place.
            map.insert(key, item);
            self.skip_ws();
            match self.peek() {
                Some(b',') => {
                    self.at += 1;
                    self.skip_ws();
                }
                Some(b'}') => {
                    self.at += 1;
                    return Ok(Value::Object(map));
                }
                _ => return Err(self.error("Expecting ',' delimiter")),
            }
        }
    }

    fn array(&mut self, depth: usize) -> Result<Value, LoadError> {
        self.enter(depth)?;
        self.at += 1; // '['
        let mut items = Vec::new();
        self.skip_ws();
        if self.peek() == Some(b']') {
            self.at += 1;
            return Ok(Value::Array(items));
        }
        loop {
            items.push(self.value(depth)?);
            self.skip_ws();
            match self.peek() {
                Some(b',') => {
                    self.at += 1;
                    self.skip_ws();
                }
                Some(b']') => {
                    self.at += 1;
                    return Ok(Value::Array(items));
                }
                _ => return Err(self.error("Expecting ',' delimiter")),
            }
        }
    }

    /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?`, as Python's scanner
    /// matches it: what follows a valid prefix is left for the caller (and is
    /// then "Extra data" or a missing delimiter, as in Python).
    fn number(&mut self) -> Result<Value, LoadError> {
        let start = self.at;
        let digits = |p: &mut Self| {
            let from = p.at;
            while matches!(p.peek(), Some(b'0'..=b'9')) {
                p.at += 1;
            }
            p.at - from
        };
        if self.peek() == Some(b'-') {
            self.at += 1;
        }
        match self.peek() {
            Some(b'0') => self.at += 1,
            Some(b'1'..=b'9') => {
                digits(self);
            }
            _ => return Err(self.error_at("Expecting value", start)),
        }
        let mut is_float = false;
        if self.peek() == Some(b'.') && matches!(self.bytes.get(self.at + 1), Some(b'0'..=b'9')) {
            self.at += 1;
            digits(self);
            is_float = true;
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            let save = self.at;
            self.at += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.at += 1;
            }
            if digits(self) == 0 {
                self.at = save;
            } else {
                is_float = true;
            }
        }
        let text = &self.text[start..self.at];
        if !is_float {
            if let Ok(i) = text.parse::<i64>() {
                return Ok(Value::Number(i.into()));
            }
            if let Ok(u) = text.parse::<u64>() {
                return Ok(Value::Number(u.into()));
            }
        }
        // Rust's float parsing is correctly rounded, like Python's `float()`.
        match text.parse::<f64>().ok().and_then(Number::from_f64) {
            Some(n) => Ok(Value::Number(n)),
            None => Err(self.error_at("number out of the float range", start)),
        }
    }

    /// A string literal starting at the opening quote.
    fn string(&mut self) -> Result<String, LoadError> {
        let open = self.at;
        self.at += 1;
        let mut out = String::new();
        loop {
            let run = self.at;
            while let Some(b) = self.peek() {
                if b == b'"' || b == b'\\' || b < 0x20 {
                    break;
                }
                self.at += 1;
            }
            // Stops only on ASCII bytes, so these are character boundaries.
            out.push_str(&self.text[run..self.at]);
            match self.peek() {
                None => return Err(self.error_at("Unterminated string starting at", open)),
                Some(b'"') => {
                    self.at += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    let escape_at = self.at;
                    self.at += 1;
                    let c = match self.peek() {
                        Some(b'"') => '"',
                        Some(b'\\') => '\\',
                        Some(b'/') => '/',
                        Some(b'b') => '\u{8}',
                        Some(b'f') => '\u{c}',
                        Some(b'n') => '\n',
                        Some(b'r') => '\r',
                        Some(b't') => '\t',
                        Some(b'u') => {
                            self.at += 1;
                            let c = self.unicode_escape(escape_at)?;
                            out.push(c);
                            continue;
                        }
                        _ => return Err(self.error_at("Invalid \\escape", escape_at)),
                    };
                    self.at += 1;
                    out.push(c);
                    continue;
                }
                Some(_) => return Err(self.error("Invalid control character at")),
            }
        }
    }

    /// After `\u`: four hex digits, and a second `\uXXXX` when they are a
    /// high surrogate (Python pairs it with a low surrogate that follows).
    fn unicode_escape(&mut self, escape_at: usize) -> Result<char, LoadError> {
        let high = self.hex4(escape_at)?;
        if !(0xd800..0xe000).contains(&high) {
            return Ok(char::from_u32(high).expect("not a surrogate"));
        }
        if high < 0xdc00 && self.bytes[self.at..].starts_with(b"\\u") {
            let save = self.at;
            self.at += 2;
            let low = self.hex4(save)?;
            if (0xdc00..0xe000).contains(&low) {
                let c = 0x10000 + ((high - 0xd800) << 10) + (low - 0xdc00);
                return Ok(char::from_u32(c).expect("valid surrogate pair"));
            }
        }
        Err(self.error_at("lone surrogate cannot be represented", escape_at))
    }

    fn hex4(&mut self, escape_at: usize) -> Result<u32, LoadError> {
        let hex = self
            .bytes
            .get(self.at..self.at + 4)
            .filter(|h| h.iter().all(u8::is_ascii_hexdigit))
            .ok_or_else(|| self.error_at("Invalid \\uXXXX escape", escape_at))?;
        let value = hex.iter().fold(0, |acc, h| {
            acc * 16 + (*h as char).to_digit(16).unwrap_or(0)
        });
        self.at += 4;
        Ok(value)
    }
}

/// Python's `str.isspace()` for one character: Unicode white space plus the
/// four ASCII separators `0x1c..=0x1f`, which Python counts and Rust does not.
pub fn py_isspace(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// Python's `s.strip()` (no argument).
pub fn py_strip(s: &str) -> &str {
    s.trim_matches(py_isspace)
}

/// Python's `s.rstrip()` (no argument).
pub fn py_rstrip(s: &str) -> &str {
    s.trim_end_matches(py_isspace)
}

/// A float as a JSON value. Python writes non-finite floats as `NaN` /
/// `Infinity`, but a `serde_json::Value` cannot hold them, so they become
/// `null` (which is also what the canonical record, written by serde_json,
/// would have held).
pub fn float_value(x: f64) -> Value {
    Number::from_f64(x).map_or(Value::Null, Value::Number)
}

#[cfg(test)]
mod tests {
    //! Every expected string below was produced by CPython 3.11's `json.dumps`
    //! (the command is given next to each), not written by hand.

    use super::*;
    use serde_json::json;

    fn compact(v: &Value) -> String {
        dumps(v, false)
    }

    #[test]
    fn scalars() {
        // python3 -c 'import json; print(json.dumps([None, True, False, 0, -1, 18446744073709551615, -9223372036854775808, "", "a"]))'
        let v = json!([
            null,
            true,
            false,
            0,
            -1,
            18446744073709551615u64,
            -9223372036854775808i64,
            "",
            "a"
        ]);
        assert_eq!(
            compact(&v),
            r#"[null, true, false, 0, -1, 18446744073709551615, -9223372036854775808, "", "a"]"#
        );
        assert_eq!(dumps(&json!(null), true), "null");
        assert_eq!(dumps(&json!(3), true), "3");
        assert_eq!(dumps_indent(&json!("x"), 2, true), r#""x""#);
    }

    #[test]
    fn compact_containers() {
        // python3 -c 'import json; print(json.dumps({"b": [1, {"c": []}, {}], "a": {"x": None, "y": [[]]}, "": 1}))'
        let v = json!({"b": [1, {"c": []}, {}], "a": {"x": null, "y": [[]]}, "": 1});
        assert_eq!(
            compact(&v),
            r#"{"b": [1, {"c": []}, {}], "a": {"x": null, "y": [[]]}, "": 1}"#
        );
        assert_eq!(compact(&json!([])), "[]");
        assert_eq!(compact(&json!({})), "{}");
    }

    #[test]
    fn key_order_is_insertion_order() {
        let v: Value = loads(r#"{"z": 1, "a": 2, "m": {"y": 1, "b": 2}}"#).unwrap();
        // python3 -c 'import json; print(json.dumps(json.loads("{\"z\": 1, \"a\": 2, \"m\": {\"y\": 1, \"b\": 2}}")))'
        assert_eq!(compact(&v), r#"{"z": 1, "a": 2, "m": {"y": 1, "b": 2}}"#);
        // A repeated key keeps its first position and its last value, as a
        // Python dict does:
        // python3 -c 'import json; print(json.dumps(json.loads("{\"a\": 1, \"b\": 2, \"a\": 3}")))'
        let v: Value = loads(r#"{"a": 1, "b": 2, "a": 3}"#).unwrap();
        assert_eq!(compact(&v), r#"{"a": 3, "b": 2}"#);
    }

    #[test]
    fn indented() {
        // python3 -c 'import json; print(json.dumps({"a": [], "b": {}, "c": [1, {"d": None, "e": [True, "x"]}], "f": 1.5}, indent=2), end="")'
        let v = json!({"a": [], "b": {}, "c": [1, {"d": null, "e": [true, "x"]}], "f": 1.5});
        let expected = "{\n  \"a\": [],\n  \"b\": {},\n  \"c\": [\n    1,\n    {\n      \"d\": null,\n      \"e\": [\n        true,\n        \"x\"\n      ]\n    }\n  ],\n  \"f\": 1.5\n}";
        assert_eq!(dumps_indent(&v, 2, true), expected);
        // python3 -c 'import json; print(repr(json.dumps([1, [2]], indent=0)), repr(json.dumps({"a": [1]}, indent=4)))'
        assert_eq!(dumps_indent(&json!([1, [2]]), 0, true), "[\n1,\n[\n2\n]\n]");
        assert_eq!(
            dumps_indent(&json!({"a": [1]}), 4, true),
            "{\n    \"a\": [\n        1\n    ]\n}"
        );
        assert_eq!(dumps_indent(&json!([]), 2, true), "[]");
        assert_eq!(dumps_indent(&json!({}), 2, true), "{}");
    }

    #[test]
    fn string_escapes() {
        let s = "\u{7f}\u{0}\u{1f}\u{2028}é中😀\"\\/\u{8}\u{c}\n\r\t";
        // python3 -c 'import json; print(json.dumps("\x7f\x00\x1f\u2028é中😀\"\\/\b\f\n\r\t"))'
        assert_eq!(
            dumps(&json!(s), true),
            r#""\u007f\u0000\u001f\u2028\u00e9\u4e2d\ud83d\ude00\"\\/\b\f\n\r\t""#
        );
        // python3 -c 'import json; print(json.dumps("\x7f\x00\x1f\u2028é中😀\"\\/\b\f\n\r\t", ensure_ascii=False))'
        assert_eq!(
            dumps(&json!(s), false),
            "\"\u{7f}\\u0000\\u001f\u{2028}é中😀\\\"\\\\/\\b\\f\\n\\r\\t\""
        );
        // Keys are escaped like values.
        // python3 -c 'import json; print(json.dumps({"é\n": "ü"}), json.dumps({"é\n": "ü"}, ensure_ascii=False))'
        assert_eq!(
            dumps(&json!({"é\n": "ü"}), true),
            r#"{"\u00e9\n": "\u00fc"}"#
        );
        assert_eq!(dumps(&json!({"é\n": "ü"}), false), "{\"é\\n\": \"ü\"}");
    }

    /// Every character from U+0000 to U+017F plus some beyond, against
    /// Python's output in both modes (generated by the command in the data
    /// file's first line).
    #[test]
    fn string_escapes_exhaustive() {
        let data = include_str!("../tests/data/strings.txt");
        let mut lines = data.lines().filter(|l| !l.starts_with('#'));
        let input: String = loads(lines.next().unwrap())
            .unwrap()
            .as_str()
            .unwrap()
            .to_string();
        let ascii = lines.next().unwrap();
        let utf8 = lines.next().unwrap();
        assert_eq!(dumps(&json!(input), true), ascii);
        assert_eq!(dumps(&json!(input), false), utf8);
    }

    #[test]
    fn floats_named_in_the_brief() {
        // python3 -c 'import json; print(json.dumps([1.0, 0.5, 1e-05, 1e16, 123456789012345.0, 1.5e-07, -0.0, 1e15, 0.0001, 1e22, 5e-324, 1.7976931348623157e308, 0.1, 2.5, 100.0, -3.25e-10]))'
        let v = json!([
            1.0,
            0.5,
            1e-05,
            1e16,
            123456789012345.0,
            1.5e-07,
            -0.0,
            1e15,
            0.0001,
            1e22,
            5e-324,
            1.7976931348623157e308,
            0.1,
            2.5,
            100.0,
            -3.25e-10
        ]);
        assert_eq!(
            compact(&v),
            "[1.0, 0.5, 1e-05, 1e+16, 123456789012345.0, 1.5e-07, -0.0, 1000000000000000.0, 0.0001, 1e+22, 5e-324, 1.7976931348623157e+308, 0.1, 2.5, 100.0, -3.25e-10]"
        );
        // python3 -c 'import json; print(json.dumps([float("nan"), float("inf"), -float("inf")]))'
        assert_eq!(float_repr(f64::NAN), "NaN");
        assert_eq!(float_repr(f64::INFINITY), "Infinity");
        assert_eq!(float_repr(f64::NEG_INFINITY), "-Infinity");
        assert_eq!(float_value(f64::NAN), Value::Null);
        assert_eq!(float_value(2.0), json!(2.0));
    }

    /// Thousands of floats (random bit patterns, short decimals, boundaries of
    /// the exponent rule, subnormals) against Python's `repr`, produced by the
    /// script in the data file's header.
    #[test]
    fn floats_against_python_repr() {
        let data = include_str!("../tests/data/floats.txt");
        let mut checked = 0;
        for line in data
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
        {
            let (bits, expected) = line.split_once(' ').unwrap();
            let x = f64::from_bits(u64::from_str_radix(bits, 16).unwrap());
            assert_eq!(float_repr(x), expected, "bits {bits}");
            checked += 1;
        }
        assert!(checked > 2000, "only {checked} floats in the data file");
    }

    #[test]
    fn integers_and_floats_stay_apart() {
        // python3 -c 'import json; print(json.dumps(json.loads("[1, 1.0, -0, -0.0, 1e2, 10000000000000000000, 1E-7]")))'
        let v = loads("[1, 1.0, -0, -0.0, 1e2, 10000000000000000000, 1E-7]").unwrap();
        assert_eq!(
            compact(&v),
            "[1, 1.0, 0, -0.0, 100.0, 10000000000000000000, 1e-07]"
        );
    }

    #[test]
    fn python_whitespace() {
        for c in [
            '\t', '\n', '\u{b}', '\u{c}', '\r', '\u{1c}', '\u{1f}', ' ', '\u{85}', '\u{a0}',
            '\u{3000}',
        ] {
            assert!(py_isspace(c), "{c:?}");
        }
        for c in ['a', '\u{0}', '\u{8}', '\u{200b}', '\u{180e}', '\u{feff}'] {
            assert!(!py_isspace(c), "{c:?}");
        }
        // python3 -c 'print(repr("\x1c a\u3000\n".strip()), repr(" a \x1f\xa0".rstrip()))'
        assert_eq!(py_strip("\u{1c} a\u{3000}\n"), "a");
        assert_eq!(py_rstrip(" a \u{1f}\u{a0}"), " a");
    }

    #[test]
    fn nested_document_both_modes() {
        let text = r#"{"name": "terminal", "arguments": {"command": "echo 'héllo' > f.txt\n", "env": {"A": "1"}, "n": [1, 2.5e-8, {"deep": [null, false]}]}}"#;
        let v = loads(text).unwrap();
        // python3 -c 'import json,sys; v=json.loads(sys.argv[1]); print(json.dumps(v, ensure_ascii=False))' "$text"
        assert_eq!(
            compact(&v),
            r#"{"name": "terminal", "arguments": {"command": "echo 'héllo' > f.txt\n", "env": {"A": "1"}, "n": [1, 2.5e-08, {"deep": [null, false]}]}}"#
        );
        // python3 -c 'import json,sys; v=json.loads(sys.argv[1]); print(json.dumps(v, indent=2), end="")' "$text"
        let expected = r#"{
  "name": "terminal",
  "arguments": {
    "command": "echo 'h\u00e9llo' > f.txt\n",
    "env": {
      "A": "1"
    },
    "n": [
      1,
      2.5e-08,
      {
        "deep": [
          null,
          false
        ]
      }
    ]
  }
}"#;
        assert_eq!(dumps_indent(&v, 2, true), expected);
    }

    #[test]
    fn loads_reads_floats_exactly() {
        // Python's repr of each float reads back as the same bits, and so does
        // a 17-digit form (serde_json's default parser gets ~40% of these wrong).
        let data = include_str!("../tests/data/floats.txt");
        for line in data
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
        {
            let (bits, repr) = line.split_once(' ').unwrap();
            let want = u64::from_str_radix(bits, 16).unwrap();
            let got = loads(repr).unwrap().as_f64().unwrap().to_bits();
            assert_eq!(got, want, "{repr}");
            let long = format!("{:.16e}", f64::from_bits(want));
            let got = loads(&long).unwrap().as_f64().unwrap().to_bits();
            assert_eq!(got, want, "{long}");
        }
    }

    #[test]
    fn loads_accepts_what_python_accepts() {
        // Expected strings: python3 -c 'import json,sys; print(json.dumps(json.loads(sys.argv[1]), ensure_ascii=sys.argv[2] == "1"))' "$TEXT" 1
        let v = loads(
            " \t\n\r{\"a\" : [ 1 , -0 , 0.5e1 , 2E+2 , 3e-1 , \"\\u00e9\\ud83d\\ude00\\/\" ] }\n ",
        )
        .unwrap();
        assert_eq!(
            dumps(&v, true),
            r#"{"a": [1, 0, 5.0, 200.0, 0.3, "\u00e9\ud83d\ude00/"]}"#
        );
        // Escapes of every kind and upper-case hex.
        // (same command, with ensure_ascii off)
        let v = loads(r#""\"\\\b\f\n\r\t\u00E9\uD83D\uDE00""#).unwrap();
        assert_eq!(dumps(&v, false), "\"\\\"\\\\\\b\\f\\n\\r\\té😀\"");
        // Integers past i64 but within u64 stay integers.
        assert_eq!(
            dumps(&loads("18446744073709551615").unwrap(), true),
            "18446744073709551615"
        );
        assert_eq!(
            dumps(&loads("-9223372036854775808").unwrap(), true),
            "-9223372036854775808"
        );
        // Non-ASCII and U+2028 raw inside strings are fine.
        assert_eq!(loads("\"é\u{2028}\"").unwrap(), json!("é\u{2028}"));
    }

    #[test]
    fn loads_refuses_what_python_refuses() {
        // Each of these makes Python's json.loads raise JSONDecodeError:
        // python3 -c 'import json
        // for t in ["", " ", "{", "[1,]", "{\"a\":1,}", "01", "1.", ".5", "-", "1e", "+1", "[1 2]",
        //           "\"a", "\"\\x\"", "\"\\u12\"", "\"\x01\"", "\"\t\"", "{1: 2}", "{\"a\" 1}",
        //           "nul", "True", "\ufeff{}", "\x0b1", "1 x", "[]]", "\u00a01"]:
        //     try: json.loads(t); print("ACCEPTED", repr(t))
        //     except json.JSONDecodeError: pass'
        // (prints nothing)
        for text in [
            "",
            " ",
            "{",
            "[1,]",
            "{\"a\":1,}",
            "01",
            "1.",
            ".5",
            "-",
            "1e",
            "+1",
            "[1 2]",
            "\"a",
            "\"\\x\"",
            "\"\\u12\"",
            "\"\u{1}\"",
            "\"\t\"",
            "{1: 2}",
            "{\"a\" 1}",
            "nul",
            "True",
            "\u{feff}{}",
            "\u{b}1",
            "1 x",
            "[]]",
            "\u{a0}1",
        ] {
            assert!(loads(text).is_err(), "accepted {text:?}");
        }
        // Python accepts these but a serde_json::Value cannot hold the result.
        for text in [
            "NaN",
            "[Infinity]",
            "-Infinity",
            "1e400",
            "\"\\ud800\"",
            "\"\\udc00x\"",
        ] {
            assert!(loads(text).is_err(), "accepted {text:?}");
        }
        let err = loads("{\"a\": tru}").unwrap_err();
        assert_eq!(err.message, "Expecting value");
        assert_eq!(err.pos, 6);
        let deep = "[".repeat(MAX_DEPTH + 1) + &"]".repeat(MAX_DEPTH + 1);
        assert!(loads(&deep).is_err());
        let ok = "[".repeat(MAX_DEPTH) + &"]".repeat(MAX_DEPTH);
        assert!(loads(&ok).is_ok());
    }
}
