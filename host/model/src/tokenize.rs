//! Token ids recomputed from text (`--tokenizer`), for servers that return
//! none: a Hugging Face `tokenizer.json` loaded locally and the model's chat
//! template, applied as `transformers`' `apply_chat_template(tokenize=True)`
//! does (render the messages with the template, then encode the text with no
//! special tokens added: the template writes them itself).
//!
//! Recomputed ids are a fallback, never a substitute for what a server
//! sampled: a tokenizer can merge a reply's text differently from how the
//! model produced it, so records flag them ([`plinth_record::tokens::TokenSource`]).
//!
//! Templates are rendered by minijinja configured like `transformers`' Jinja
//! environment: `trim_blocks` and `lstrip_blocks`, loop controls, Python's
//! string and dict methods, `raise_exception`, `strftime_now` and a `tojson`
//! that writes what Python's `json.dumps(ensure_ascii=False)` writes. Objects
//! keep their keys in the order they were sent, as Python's dicts do, so a
//! template that lists a tool's parameters lists them as the server would.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use minijinja::value::{Enumerator, Kwargs, Object, ObjectRepr, ValueKind};
use minijinja::{Environment, Error as JinjaError, ErrorKind, Value};
use serde_json::Value as Json;

use plinth_record::causes;
use plinth_record::digest::sha256_hex;

/// The file beside `tokenizer.json` that names its special tokens and,
/// in most models, holds the chat template.
const CONFIG_FILE: &str = "tokenizer_config.json";
/// Where newer `transformers` versions save the chat template instead.
const TEMPLATE_FILE: &str = "chat_template.jinja";
/// Template names in the environment.
const DEFAULT_TEMPLATE: &str = "default";
const TOOL_USE_TEMPLATE: &str = "tool_use";
/// The special tokens `transformers` hands every template by name.
const SPECIAL_TOKENS: [&str; 4] = ["bos_token", "eos_token", "unk_token", "pad_token"];

/// Why a tokenizer or chat template cannot be used, naming the file.
#[derive(Debug, thiserror::Error)]
pub enum TokenizerError {
    #[error("cannot read {}: {source}", .path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: not a Hugging Face tokenizer.json: {reason}", .path.display())]
    Tokenizer { path: PathBuf, reason: String },
    #[error("{}: {reason}", .path.display())]
    Config { path: PathBuf, reason: String },
    #[error(
        "no chat template for {}: {CONFIG_FILE} beside it has no `chat_template` and there is \
         no {TEMPLATE_FILE}; give one with --chat-template",
        .tokenizer.display()
    )]
    NoTemplate { tokenizer: PathBuf },
    #[error("chat template {origin}: {reason}")]
    Syntax { origin: String, reason: String },
    /// Rendering failed at a message (the first one whose conversation up
    /// to it does not render), or, with `message` none, before any.
    #[error("chat template {origin}: rendering {} failed: {reason}", at_message(*.message))]
    Render {
        origin: String,
        message: Option<usize>,
        reason: String,
    },
    #[error("{}: encoding the rendered text failed: {reason}", .path.display())]
    Encode { path: PathBuf, reason: String },
    /// The template renders a conversation with the reply so that it does
    /// not start with the conversation's generation prompt, so the reply's
    /// ids cannot be told apart from the prompt's.
    #[error(
        "chat template {origin}: the conversation with the reply does not start with its \
         generation prompt (they part at character {at}), so the reply's ids are unknown"
    )]
    ReplyNotAfterPrompt { origin: String, at: usize },
}

fn at_message(message: Option<usize>) -> String {
    match message {
        Some(index) => format!("message {index}"),
        None => "the conversation before its first message".into(),
    }
}

/// What a record says of the tokenizer that recomputed its ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenizerOrigin {
    /// The `tokenizer.json` as given.
    pub path: PathBuf,
    pub sha256: String,
    /// Where the chat template came from: the `--chat-template` file, or
    /// the tokenizer's own files.
    pub chat_template: String,
    /// SHA-256 of the template's text (of every named template, in order,
    /// when the config holds several).
    pub chat_template_sha256: String,
}

/// A tokenizer and its chat template, checked once when settings resolve.
pub struct ChatTokenizer {
    tokenizer: tokenizers::Tokenizer,
    templates: Environment<'static>,
    /// `tool_use` is a template of its own (used when a request carries
    /// tools, as in `transformers`).
    has_tool_use: bool,
    special_tokens: Vec<(&'static str, String)>,
    /// The id that ends an assistant turn (`eos_token`), when it is one token.
    end_of_turn: Option<u32>,
    /// The request's `chat_template_kwargs` (`--extra-body`), which servers
    /// hand the template (`enable_thinking`, ...).
    template_kwargs: Vec<(String, Value)>,
    origin: TokenizerOrigin,
}

impl std::fmt::Debug for ChatTokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChatTokenizer")
            .field("origin", &self.origin)
            .finish_non_exhaustive()
    }
}

/// A call's ids as the tokenizer and template give them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallIds {
    pub prompt: Vec<u32>,
    pub completion: Vec<u32>,
}

impl ChatTokenizer {
    /// Loads `tokenizer` (a `tokenizer.json`) and its chat template: the
    /// `chat_template` file when given, else `chat_template.jinja` or the
    /// `chat_template` of `tokenizer_config.json` beside it. The template is
    /// compiled and rendered once over a one-message conversation, so a
    /// template that cannot work fails here, before any task runs.
    pub fn load(tokenizer: &Path, chat_template: Option<&Path>) -> Result<Self, TokenizerError> {
        let bytes = read(tokenizer)?;
        let invalid = |e: tokenizers::Error| TokenizerError::Tokenizer {
            path: tokenizer.to_path_buf(),
            reason: e.to_string(),
        };
        let mut loaded = tokenizers::Tokenizer::from_bytes(&bytes).map_err(invalid)?;
        // A tokenizer.json may carry the truncation and padding its model was
        // trained with; `apply_chat_template` turns both off, and a cut or
        // padded conversation would not be the prompt the server saw.
        loaded.with_truncation(None).map_err(invalid)?;
        loaded.with_padding(None);
        let dir = tokenizer.parent().unwrap_or(Path::new("."));
        let config_path = dir.join(CONFIG_FILE);
        let config = match std::fs::read(&config_path) {
            Ok(bytes) => Some(Config::parse(&config_path, &bytes)?),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(source) => {
                return Err(TokenizerError::Read {
                    path: config_path,
                    source,
                });
            }
        };
        let beside = dir.join(TEMPLATE_FILE);
        let (origin, sources) = match chat_template {
            Some(path) => (
                path.display().to_string(),
                vec![(DEFAULT_TEMPLATE.to_string(), read_text(path)?)],
            ),
            None if beside.is_file() => (
                beside.display().to_string(),
                vec![(DEFAULT_TEMPLATE.to_string(), read_text(&beside)?)],
            ),
            None => match config.as_ref().map(|c| c.templates.clone()) {
                Some(templates) if !templates.is_empty() => (
                    format!("`chat_template` of {}", config_path.display()),
                    templates,
                ),
                _ => {
                    return Err(TokenizerError::NoTemplate {
                        tokenizer: tokenizer.to_path_buf(),
                    });
                }
            },
        };
        if !sources.iter().any(|(name, _)| name == DEFAULT_TEMPLATE) {
            return Err(TokenizerError::Syntax {
                origin,
                reason: format!("no template is named `{DEFAULT_TEMPLATE}`"),
            });
        }
        let mut templates = environment();
        let mut hashed = String::new();
        for (name, source) in &sources {
            hashed.push_str(source);
            templates
                .add_template_owned(name.clone(), source.clone())
                .map_err(|e| TokenizerError::Syntax {
                    origin: origin.clone(),
                    reason: causes::chain(&e),
                })?;
        }
        let special_tokens = config.map(|c| c.special_tokens).unwrap_or_default();
        let end_of_turn = special_tokens
            .iter()
            .find(|(name, _)| *name == "eos_token")
            .and_then(|(_, token)| loaded.token_to_id(token));
        let this = Self {
            tokenizer: loaded,
            has_tool_use: sources.iter().any(|(name, _)| name == TOOL_USE_TEMPLATE),
            templates,
            special_tokens,
            end_of_turn,
            template_kwargs: Vec::new(),
            origin: TokenizerOrigin {
                path: tokenizer.to_path_buf(),
                sha256: sha256_hex(&bytes),
                chat_template: origin,
                chat_template_sha256: sha256_hex(hashed.as_bytes()),
            },
        };
        this.probe()?;
        Ok(this)
    }

    /// Hands the template `kwargs` too, as vLLM and SGLang do with a
    /// request's `chat_template_kwargs`; the names the template is always
    /// given keep their values.
    pub fn with_template_kwargs(
        mut self,
        kwargs: &serde_json::Map<String, Json>,
    ) -> Result<Self, TokenizerError> {
        self.template_kwargs = kwargs
            .iter()
            .map(|(name, value)| (name.clone(), ordered(value)))
            .collect();
        self.probe()?;
        Ok(self)
    }

    /// Renders and encodes a one-message conversation, so a template that
    /// cannot work fails before any task runs.
    fn probe(&self) -> Result<(), TokenizerError> {
        let probe = [serde_json::json!({"role": "user", "content": "Hello."})];
        self.apply(&probe, &[], true).map(drop)
    }

    pub fn origin(&self) -> &TokenizerOrigin {
        &self.origin
    }

    /// The template's text for `messages` (chat-completions messages as
    /// the client sends them) and `tools` (none when empty).
    pub fn render(
        &self,
        messages: &[Json],
        tools: &[Json],
        add_generation_prompt: bool,
    ) -> Result<String, TokenizerError> {
        self.render_all(messages, tools, add_generation_prompt)
            .map_err(|error| {
                // Name the first message whose conversation up to it fails.
                let message = (0..messages.len()).find(|&n| {
                    self.render_all(&messages[..=n], tools, add_generation_prompt)
                        .is_err()
                });
                let message = match message {
                    Some(n) => Some(n),
                    None if self.render_all(&[], tools, add_generation_prompt).is_err() => None,
                    None => messages.len().checked_sub(1),
                };
                TokenizerError::Render {
                    origin: self.origin.chat_template.clone(),
                    message,
                    reason: causes::chain(&error),
                }
            })
    }

    fn render_all(
        &self,
        messages: &[Json],
        tools: &[Json],
        add_generation_prompt: bool,
    ) -> Result<String, JinjaError> {
        let name = if !tools.is_empty() && self.has_tool_use {
            TOOL_USE_TEMPLATE
        } else {
            DEFAULT_TEMPLATE
        };
        let template = self.templates.get_template(name)?;
        let mut context: Vec<(&str, Value)> = self
            .template_kwargs
            .iter()
            .map(|(name, value)| (name.as_str(), value.clone()))
            .collect();
        // Later entries win: these over the kwargs.
        context.extend([
            ("messages", messages.iter().map(ordered).collect()),
            (
                "tools",
                if tools.is_empty() {
                    Value::from(())
                } else {
                    tools.iter().map(ordered).collect()
                },
            ),
            ("add_generation_prompt", Value::from(add_generation_prompt)),
        ]);
        for (name, token) in &self.special_tokens {
            context.push((name, Value::from(token.as_str())));
        }
        template.render(Value::from_iter(context))
    }

    /// The ids of `text`, with no special tokens added.
    pub(crate) fn encode(&self, text: &str) -> Result<Vec<u32>, TokenizerError> {
        self.tokenizer
            .encode(text, false)
            .map(|encoding| encoding.get_ids().to_vec())
            .map_err(|e| TokenizerError::Encode {
                path: self.origin.path.clone(),
                reason: e.to_string(),
            })
    }

    /// `apply_chat_template(messages, tools=tools, add_generation_prompt=...,
    /// tokenize=True)`.
    pub(crate) fn apply(
        &self,
        messages: &[Json],
        tools: &[Json],
        add_generation_prompt: bool,
    ) -> Result<Vec<u32>, TokenizerError> {
        self.encode(&self.render(messages, tools, add_generation_prompt)?)
    }

    /// The ids of one call: `sent` (with `tools`) answered by `reply` (an
    /// assistant message as the client would send it back, with the
    /// reasoning the model produced, which is sampled text).
    ///
    /// The prompt is the conversation with the generation prompt. The
    /// completion is what the conversation with the reply adds to it: its
    /// ids after the prompt's when they start with them; when the tokenizer
    /// merges across the boundary so they do not, the ids of the text the
    /// reply adds. The completion ends at the end-of-turn token
    /// (`eos_token`): what a template writes after it (a newline) was never
    /// sampled, and belongs to the next prompt.
    pub fn call_ids(
        &self,
        sent: &[Json],
        tools: &[Json],
        reply: &Json,
    ) -> Result<CallIds, TokenizerError> {
        let prompt_text = self.render(sent, tools, true)?;
        let mut answered = sent.to_vec();
        answered.push(reply.clone());
        let full_text = self.render(&answered, tools, false)?;
        let prompt = self.encode(&prompt_text)?;
        let full = self.encode(&full_text)?;
        let mut completion = match full.strip_prefix(prompt.as_slice()) {
            Some(rest) => rest.to_vec(),
            None => match full_text.strip_prefix(prompt_text.as_str()) {
                Some(rest) => self.encode(rest)?,
                None => {
                    return Err(TokenizerError::ReplyNotAfterPrompt {
                        origin: self.origin.chat_template.clone(),
                        at: common_chars(&prompt_text, &full_text),
                    });
                }
            },
        };
        if let Some(end) = self
            .end_of_turn
            .and_then(|id| completion.iter().rposition(|c| *c == id))
        {
            completion.truncate(end + 1);
        }
        Ok(CallIds { prompt, completion })
    }
}

fn common_chars(a: &str, b: &str) -> usize {
    a.chars().zip(b.chars()).take_while(|(x, y)| x == y).count()
}

fn read(path: &Path) -> Result<Vec<u8>, TokenizerError> {
    std::fs::read(path).map_err(|source| TokenizerError::Read {
        path: path.to_path_buf(),
        source,
    })
}

fn read_text(path: &Path) -> Result<String, TokenizerError> {
    std::fs::read_to_string(path).map_err(|source| TokenizerError::Read {
        path: path.to_path_buf(),
        source,
    })
}

/// What `tokenizer_config.json` says that templates use.
struct Config {
    /// `(name, source)`; one named `default` when it is a plain string.
    templates: Vec<(String, String)>,
    special_tokens: Vec<(&'static str, String)>,
}

impl Config {
    fn parse(path: &Path, bytes: &[u8]) -> Result<Self, TokenizerError> {
        let problem = |reason: String| TokenizerError::Config {
            path: path.to_path_buf(),
            reason,
        };
        let json: Json =
            serde_json::from_slice(bytes).map_err(|e| problem(format!("not JSON: {e}")))?;
        let templates = match json.get("chat_template") {
            None | Some(Json::Null) => Vec::new(),
            Some(Json::String(source)) => vec![(DEFAULT_TEMPLATE.to_string(), source.clone())],
            // The named-templates form: [{"name": ..., "template": ...}].
            Some(Json::Array(named)) => named
                .iter()
                .map(|entry| {
                    match (
                        entry.get("name").and_then(Json::as_str),
                        entry.get("template").and_then(Json::as_str),
                    ) {
                        (Some(name), Some(template)) => {
                            Ok((name.to_string(), template.to_string()))
                        }
                        _ => Err(problem(
                            "`chat_template` lists an entry without a string `name` and `template`"
                                .into(),
                        )),
                    }
                })
                .collect::<Result<_, _>>()?,
            Some(_) => {
                return Err(problem(
                    "`chat_template` is neither a string nor a list of named templates".into(),
                ));
            }
        };
        let mut special_tokens = Vec::new();
        for name in SPECIAL_TOKENS {
            // A string, or an AddedToken object with its text in `content`.
            let token = match json.get(name) {
                None | Some(Json::Null) => continue,
                Some(Json::String(token)) => token.clone(),
                Some(object @ Json::Object(_)) => match object.get("content") {
                    Some(Json::String(token)) => token.clone(),
                    _ => return Err(problem(format!("`{name}` has no string `content`"))),
                },
                Some(_) => {
                    return Err(problem(format!(
                        "`{name}` is neither a string nor a token object"
                    )));
                }
            };
            special_tokens.push((name, token));
        }
        Ok(Self {
            templates,
            special_tokens,
        })
    }
}

/// A Jinja environment as `transformers` sets one up for chat templates.
fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_trim_blocks(true);
    env.set_lstrip_blocks(true);
    env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
    env.add_function("raise_exception", raise_exception);
    env.add_function("strftime_now", strftime_now);
    env.add_filter("tojson", tojson);
    env
}

fn raise_exception(message: String) -> Result<Value, JinjaError> {
    Err(JinjaError::new(ErrorKind::InvalidOperation, message))
}

/// `json.dumps(value, ensure_ascii=False, indent=indent,
/// separators=separators, sort_keys=sort_keys)`, as `transformers`' filter.
fn tojson(value: &Value, kwargs: Kwargs) -> Result<Value, JinjaError> {
    let indent: Option<usize> = kwargs.get("indent")?;
    let sort_keys: Option<bool> = kwargs.get("sort_keys")?;
    let separators: Option<Vec<String>> = kwargs.get("separators")?;
    // `ensure_ascii` is accepted for the signature; the output is never
    // escaped to ASCII, as in `transformers`.
    let _: Option<bool> = kwargs.get("ensure_ascii")?;
    kwargs.assert_all_used()?;
    let (item, key) = match separators.as_deref() {
        Some([item, key]) => (item.clone(), key.clone()),
        Some(_) => {
            return Err(JinjaError::new(
                ErrorKind::InvalidOperation,
                "tojson: separators must be two strings",
            ));
        }
        // Python's defaults: no trailing space after a comma when indenting.
        None if indent.is_some() => (",".into(), ": ".into()),
        None => (", ".into(), ": ".into()),
    };
    let style = JsonStyle {
        indent,
        item,
        key,
        sort_keys: sort_keys.unwrap_or(false),
    };
    let mut out = String::new();
    style.write(&mut out, value, 0)?;
    Ok(Value::from_safe_string(out))
}

struct JsonStyle {
    indent: Option<usize>,
    item: String,
    key: String,
    sort_keys: bool,
}

impl JsonStyle {
    fn write(&self, out: &mut String, value: &Value, depth: usize) -> Result<(), JinjaError> {
        match value.kind() {
            ValueKind::Undefined | ValueKind::None => out.push_str("null"),
            ValueKind::Bool => out.push_str(if value.is_true() { "true" } else { "false" }),
            ValueKind::Number => out.push_str(&python_number(value)),
            ValueKind::String => python_string(out, value.as_str().unwrap_or_default()),
            ValueKind::Map => {
                let mut keys: Vec<Value> = value.try_iter()?.collect();
                if self.sort_keys {
                    keys.sort();
                }
                let entries = keys
                    .into_iter()
                    .map(|k| {
                        let v = value.get_item(&k)?;
                        Ok((k, v))
                    })
                    .collect::<Result<Vec<_>, JinjaError>>()?;
                self.container(out, '{', '}', &entries, depth, |out, (k, v)| {
                    match k.as_str() {
                        Some(text) => python_string(out, text),
                        // Python writes non-string keys as strings.
                        None => python_string(out, &k.to_string()),
                    }
                    out.push_str(&self.key);
                    self.write(out, v, depth + 1)
                })?;
            }
            ValueKind::Seq | ValueKind::Iterable => {
                let items: Vec<Value> = value.try_iter()?.collect();
                self.container(out, '[', ']', &items, depth, |out, v| {
                    self.write(out, v, depth + 1)
                })?;
            }
            _ => python_string(out, &value.to_string()),
        }
        Ok(())
    }

    fn container<T>(
        &self,
        out: &mut String,
        open: char,
        close: char,
        items: &[T],
        depth: usize,
        mut each: impl FnMut(&mut String, &T) -> Result<(), JinjaError>,
    ) -> Result<(), JinjaError> {
        out.push(open);
        if items.is_empty() {
            out.push(close);
            return Ok(());
        }
        let newline = |out: &mut String, depth: usize| {
            if let Some(width) = self.indent {
                out.push('\n');
                out.push_str(&" ".repeat(width * depth));
            }
        };
        for (n, item) in items.iter().enumerate() {
            if n > 0 {
                out.push_str(&self.item);
            }
            newline(out, depth + 1);
            each(out, item)?;
        }
        newline(out, depth);
        out.push(close);
        Ok(())
    }
}

/// A number as Python's `repr` writes it (`1.0`, `1e-07`, `1e+16`).
fn python_number(value: &Value) -> String {
    if value.is_integer() {
        return value.to_string();
    }
    match f64::try_from(value.clone()) {
        Ok(float) => plinth_pyjson::float_repr(float),
        Err(_) => value.to_string(),
    }
}

/// A JSON string as Python writes it with `ensure_ascii=False`.
fn python_string(out: &mut String, text: &str) {
    plinth_pyjson::write_str(out, text, false);
}

/// Today's date and time (UTC) in `format`, as Python's `strftime` writes
/// the directives chat templates use (`%d %b %Y`, `%Y-%m-%d`, ...).
fn strftime_now(format: String) -> Result<Value, JinjaError> {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    strftime(&format, secs).map(Value::from)
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const WEEKDAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

fn strftime(format: &str, unix_secs: u64) -> Result<String, JinjaError> {
    let days = unix_secs / 86_400;
    let secs = unix_secs % 86_400;
    let (year, month, day) = civil_from_days(days);
    // 1970-01-01 was a Thursday.
    let weekday = ((days + 3) % 7) as usize;
    let month_name = MONTHS[(month - 1) as usize];
    let weekday_name = WEEKDAYS[weekday];
    let mut out = String::new();
    let mut chars = format.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('Y') => write!(out, "{year}"),
            Some('y') => write!(out, "{:02}", year % 100),
            Some('m') => write!(out, "{month:02}"),
            Some('d') => write!(out, "{day:02}"),
            Some('-') if chars.clone().next() == Some('d') => {
                chars.next();
                write!(out, "{day}")
            }
            Some('B') => write!(out, "{month_name}"),
            Some('b') => write!(out, "{}", &month_name[..3]),
            Some('A') => write!(out, "{weekday_name}"),
            Some('a') => write!(out, "{}", &weekday_name[..3]),
            Some('H') => write!(out, "{:02}", secs / 3600),
            Some('M') => write!(out, "{:02}", secs % 3600 / 60),
            Some('S') => write!(out, "{:02}", secs % 60),
            Some('%') => write!(out, "%"),
            other => {
                return Err(JinjaError::new(
                    ErrorKind::InvalidOperation,
                    format!(
                        "strftime_now: unsupported directive %{}",
                        other.map(String::from).unwrap_or_default()
                    ),
                ));
            }
        }
        .map_err(|e| JinjaError::new(ErrorKind::InvalidOperation, e.to_string()))?;
    }
    Ok(out)
}

/// (year, month 1-12, day 1-31) of a count of days since 1970-01-01
/// (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

/// A JSON value for a template, objects keeping their keys' order.
fn ordered(json: &Json) -> Value {
    match json {
        Json::Null => Value::from(()),
        Json::Bool(b) => Value::from(*b),
        Json::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => Value::from(i),
            (None, Some(u)) => Value::from(u),
            _ => Value::from(n.as_f64().unwrap_or(f64::NAN)),
        },
        Json::String(s) => Value::from(s.as_str()),
        Json::Array(items) => items.iter().map(ordered).collect(),
        Json::Object(map) => Value::from_object(OrderedMap(
            map.iter().map(|(k, v)| (k.clone(), ordered(v))).collect(),
        )),
    }
}

/// A map whose keys iterate in insertion order (a Python dict); minijinja's
/// own maps iterate sorted.
#[derive(Debug)]
struct OrderedMap(Vec<(String, Value)>);

impl Object for OrderedMap {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let key = key.as_str()?;
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Values(
            self.0
                .iter()
                .map(|(k, _)| Value::from(k.as_str()))
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A tokenizer of one id per character of a tiny alphabet, with
    /// `<s>`/`</s>` as added special tokens, written beside a config.
    fn tokenizer_dir(config: &Json) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let mut vocab = serde_json::Map::new();
        for (id, c) in "abcdefghijklmnopqrstuvwxyz:<>/| \n".chars().enumerate() {
            vocab.insert(c.to_string(), json!(id));
        }
        vocab.insert("<s>".into(), json!(100));
        vocab.insert("</s>".into(), json!(101));
        let added = |id: u32, content: &str| {
            json!({"id": id, "content": content, "single_word": false, "lstrip": false,
                   "rstrip": false, "normalized": false, "special": true})
        };
        // Truncation and padding as some tokenizer.json files carry them:
        // recomputed ids are neither cut nor padded.
        let tokenizer = json!({
            "version": "1.0",
            "truncation": {"direction": "Right", "max_length": 4, "strategy": "LongestFirst", "stride": 0},
            "padding": {"strategy": {"Fixed": 64}, "direction": "Right", "pad_to_multiple_of": null,
                        "pad_id": 0, "pad_type_id": 0, "pad_token": "a"},
            "added_tokens": [added(100, "<s>"), added(101, "</s>")],
            "normalizer": null,
            "pre_tokenizer": {"type": "Split", "pattern": {"String": ""}, "behavior": "Isolated", "invert": false},
            "post_processor": null, "decoder": null,
            "model": {"type": "WordLevel", "vocab": vocab, "unk_token": "|"}
        });
        std::fs::write(dir.path().join("tokenizer.json"), tokenizer.to_string()).unwrap();
        std::fs::write(dir.path().join(CONFIG_FILE), config.to_string()).unwrap();
        dir
    }

    const TEMPLATE: &str = "{% for m in messages %}<s>{{ m.role }}:{{ m.content }}{{ eos_token }}\n{% endfor %}{% if add_generation_prompt %}<s>assistant:{% endif %}";

    fn load(config: &Json) -> (tempfile::TempDir, Result<ChatTokenizer, TokenizerError>) {
        let dir = tokenizer_dir(config);
        let loaded = ChatTokenizer::load(&dir.path().join("tokenizer.json"), None);
        (dir, loaded)
    }

    #[test]
    fn a_reply_is_what_it_adds_after_the_prompt_up_to_its_end_of_turn() {
        let (_dir, tok) = load(&json!({"chat_template": TEMPLATE,
            "eos_token": {"content": "</s>", "special": true}}));
        let tok = tok.unwrap();
        let sent = [json!({"role": "user", "content": "hi"})];
        let ids = tok
            .call_ids(&sent, &[], &json!({"role": "assistant", "content": "yo"}))
            .unwrap();
        assert_eq!(
            tok.render(&sent, &[], true).unwrap(),
            "<s>user:hi</s>\n<s>assistant:"
        );
        assert_eq!(
            ids.prompt,
            tok.encode("<s>user:hi</s>\n<s>assistant:").unwrap()
        );
        // One id per character or special token: not cut, not padded.
        assert_eq!(ids.prompt.len(), 21);
        // The newline after `</s>` is the template's, not sampled.
        assert_eq!(ids.completion, tok.encode("yo</s>").unwrap());
        assert_eq!(ids.completion.len(), 3);
        assert_eq!(*ids.completion.last().unwrap(), 101);
    }

    #[test]
    fn chat_template_kwargs_reach_the_template() {
        let template = "{% if enable_thinking is defined and not enable_thinking %}no{% endif %}{{ add_generation_prompt }}";
        let (_dir, tok) = load(&json!({"chat_template": template}));
        let tok = tok.unwrap();
        assert_eq!(
            tok.render(&[], &[], true).unwrap(),
            "True",
            "as Jinja2 writes it"
        );
        let kwargs = json!({"enable_thinking": false, "add_generation_prompt": "x"});
        let tok = tok
            .with_template_kwargs(kwargs.as_object().unwrap())
            .unwrap();
        assert_eq!(tok.render(&[], &[], true).unwrap(), "noTrue");
    }

    #[test]
    fn named_templates_and_token_objects() {
        let (_dir, tok) = load(&json!({
            "chat_template": [
                {"name": "default", "template": "plain{{ bos_token }}"},
                {"name": "tool_use", "template": "{{ tools[0].name }}{{ tools | length }}"}],
            "bos_token": {"content": "<s>", "lstrip": false},
        }));
        let tok = tok.unwrap();
        assert_eq!(tok.render(&[], &[], false).unwrap(), "plain<s>");
        let tools = [json!({"name": "bash"})];
        assert_eq!(tok.render(&[], &tools, false).unwrap(), "bash1");
    }

    #[test]
    fn python_methods_and_json_like_transformers() {
        let template = r#"{{ messages[0].content.strip().upper() }}|{{ messages[0] | tojson }}|{{ messages[0] | tojson(indent=2) }}|{% for k, v in messages[0].items() %}{{ k }}{% endfor %}|{% for x in [1, 2, 3] %}{% if x == 2 %}{% break %}{% endif %}{{ x }}{% endfor %}"#;
        let (_dir, tok) = load(&json!({"chat_template": template}));
        let tok = tok.unwrap();
        // Not in sorted order: the keys keep theirs.
        let message = json!({"content": " ab ", "alpha": [1, 2.5, null, true, "é\"\n"]});
        assert_eq!(
            tok.render(&[message], &[], false).unwrap(),
            "AB|{\"content\": \" ab \", \"alpha\": [1, 2.5, null, true, \"é\\\"\\n\"]}|{\n  \"content\": \" ab \",\n  \"alpha\": [\n    1,\n    2.5,\n    null,\n    true,\n    \"é\\\"\\n\"\n  ]\n}|contentalpha|1"
        );
    }

    #[test]
    fn trim_and_lstrip_blocks_as_transformers() {
        let template = "{% for m in messages %}\n    {% if m.role == 'user' %}\nU{{ m.content }}\n    {% endif %}\n{% endfor %}";
        let (_dir, tok) = load(&json!({"chat_template": template}));
        let rendered = tok
            .unwrap()
            .render(&[json!({"role": "user", "content": "x"})], &[], false)
            .unwrap();
        assert_eq!(rendered, "Ux\n");
    }

    #[test]
    fn errors_name_the_file_and_what_is_wrong() {
        let (dir, err) = load(&json!({"eos_token": "</s>"}));
        let err = err.unwrap_err().to_string();
        assert!(
            err.contains("no chat template") && err.contains("tokenizer.json"),
            "{err}"
        );
        drop(dir);

        let (_dir, err) = load(&json!({"chat_template": "{% for %}"}));
        let err = err.unwrap_err().to_string();
        assert!(
            err.contains("`chat_template` of") && err.contains(CONFIG_FILE),
            "{err}"
        );

        let (_dir, err) = load(&json!({"chat_template": 3}));
        assert!(err.unwrap_err().to_string().contains("neither a string"));

        let (_dir, err) = load(&json!({"chat_template": "x", "eos_token": 3}));
        assert!(err.unwrap_err().to_string().contains("`eos_token`"));

        // Checked once at load: a template that cannot render a plain
        // conversation fails then.
        let (_dir, err) = load(&json!({"chat_template": "{{ messages | nosuchfilter }}"}));
        let err = err.unwrap_err().to_string();
        assert!(err.contains("nosuchfilter"), "{err}");

        let dir = tokenizer_dir(&json!({"chat_template": "x"}));
        let broken = dir.path().join("tokenizer.json");
        std::fs::write(&broken, "{\"model\": 1}").unwrap();
        let err = ChatTokenizer::load(&broken, None).unwrap_err().to_string();
        assert!(err.contains("not a Hugging Face tokenizer.json"), "{err}");
        let missing = dir.path().join("nope.json");
        let err = ChatTokenizer::load(&missing, None).unwrap_err().to_string();
        assert!(err.contains("nope.json"), "{err}");
        let err = ChatTokenizer::load(&dir.path().join(CONFIG_FILE), None)
            .unwrap_err()
            .to_string();
        assert!(err.contains("not a Hugging Face tokenizer.json"), "{err}");
    }

    #[test]
    fn a_render_failure_names_the_message_and_the_override_wins() {
        let dir = tokenizer_dir(&json!({"chat_template": "unused"}));
        let template = dir.path().join("mine.jinja");
        std::fs::write(
            &template,
            "{% for m in messages %}{% if m.role == 'tool' %}{{ raise_exception('no tools here') }}{% endif %}{{ m.content }}{% endfor %}",
        )
        .unwrap();
        let tok = ChatTokenizer::load(&dir.path().join("tokenizer.json"), Some(&template)).unwrap();
        assert_eq!(tok.origin().chat_template, template.display().to_string());
        let messages = [
            json!({"role": "user", "content": "a"}),
            json!({"role": "assistant", "content": "b"}),
            json!({"role": "tool", "content": "c"}),
            json!({"role": "user", "content": "d"}),
        ];
        let err = tok.render(&messages, &[], true).unwrap_err();
        assert!(
            matches!(
                err,
                TokenizerError::Render {
                    message: Some(2),
                    ..
                }
            ),
            "{err}"
        );
        let err = err.to_string();
        assert!(
            err.contains("message 2") && err.contains("no tools here"),
            "{err}"
        );
    }

    #[test]
    fn a_reply_the_template_renders_apart_from_its_prompt_is_refused() {
        // Like templates that open a thinking block in the generation
        // prompt but not when rendering a finished reply.
        let template = "{% for m in messages %}{{ m.content }}{% endfor %}{% if add_generation_prompt %}think:{% endif %}";
        let (_dir, tok) = load(&json!({"chat_template": template}));
        let err = tok
            .unwrap()
            .call_ids(
                &[json!({"role": "user", "content": "ab"})],
                &[],
                &json!({"role": "assistant", "content": "cd"}),
            )
            .unwrap_err();
        assert!(
            matches!(err, TokenizerError::ReplyNotAfterPrompt { at: 2, .. }),
            "{err}"
        );
    }

    /// What `transformers`' `apply_chat_template` gave for each case in
    /// `tests/golden/tokenizer/` (written by `make_tokenizers.py` there).
    #[test]
    fn golden_ids_equal_transformers_apply_chat_template() {
        let golden = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/golden/tokenizer");
        for dir in ["toy", "chatml"] {
            let tok = ChatTokenizer::load(&golden.join(dir).join("tokenizer.json"), None)
                .unwrap_or_else(|e| panic!("{dir}: {e}"));
            let cases = std::fs::read_to_string(golden.join(dir).join("cases.jsonl")).unwrap();
            let mut count = 0;
            for line in cases.lines() {
                let case: Json = serde_json::from_str(line).unwrap();
                let name = format!("{dir}: {}", case["name"]);
                let messages = case["messages"].as_array().unwrap();
                let tools = case["tools"].as_array().map_or(&[][..], Vec::as_slice);
                let generation = case["add_generation_prompt"].as_bool().unwrap();
                let text = tok.render(messages, tools, generation).unwrap();
                assert_eq!(text, case["text"].as_str().unwrap(), "{name}");
                let ids: Vec<u32> = serde_json::from_value(case["ids"].clone()).unwrap();
                assert_eq!(
                    tok.apply(messages, tools, generation).unwrap(),
                    ids,
                    "{name}"
                );
                count += 1;
            }
            assert!(count >= 3, "{dir}: {count} cases");
        }
    }

    /// On the trained BPE and its ChatML-style template: a reply's ids are
    /// what it adds up to `<|im_end|>`, and the next call's prompt starts
    /// with the previous prompt and completion (so calls assemble into one
    /// sequence), unless the reasoning the template renders for the reply
    /// is not sent back.
    #[test]
    fn call_ids_chain_on_a_real_bpe() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../tests/golden/tokenizer/chatml/tokenizer.json");
        let tok = ChatTokenizer::load(&path, None).unwrap();
        let im_end = tok.tokenizer.token_to_id("<|im_end|>").unwrap();
        let tools = [json!({"type": "function", "function": {"name": "terminal"}})];
        let call = json!({"id": "c1", "type": "function",
            "function": {"name": "terminal", "arguments": "{\"command\": \"ls\"}"}});
        let mut sent = vec![
            json!({"role": "system", "content": "Work in /workspace."}),
            json!({"role": "user", "content": "List the files, café."}),
        ];
        let reply = json!({"role": "assistant", "content": "Looking.", "tool_calls": [call]});
        let first = tok.call_ids(&sent, &tools, &reply).unwrap();
        assert_eq!(first.completion.last(), Some(&im_end));
        let text = tok.tokenizer.decode(&first.completion, false).unwrap();
        assert!(
            text.starts_with("Looking.\n<tool_call>\n{\"name\": \"terminal\"")
                && text.ends_with("</tool_call><|im_end|>"),
            "{text}"
        );
        sent.push(reply.clone());
        sent.push(json!({"role": "tool", "tool_call_id": "c1", "content": "a.py\n"}));
        let second = tok
            .call_ids(
                &sent,
                &tools,
                &json!({"role": "assistant", "content": "Done."}),
            )
            .unwrap();
        let mut previous = first.prompt.clone();
        previous.extend(&first.completion);
        assert!(second.prompt.starts_with(&previous));
        assert_eq!(
            tok.tokenizer.decode(&second.completion, false).unwrap(),
            "Done.<|im_end|>"
        );

        // Reasoning is rendered for the reply but not sent back: the next
        // prompt parts from it, as with a server's ids.
        let mut thinking = reply;
        thinking["reasoning_content"] = "Check first.".into();
        let with_thought = tok.call_ids(&sent[..2], &tools, &thinking).unwrap();
        let mut previous = with_thought.prompt.clone();
        previous.extend(&with_thought.completion);
        assert!(!second.prompt.starts_with(&previous));
    }

    #[test]
    fn strftime_writes_python_directives() {
        // 2024-02-29 13:05:09 UTC, a Thursday.
        let t = 1_709_211_909;
        assert_eq!(
            strftime("%d %b %Y|%Y-%m-%d %H:%M:%S|%A %B %-d|%a %y %%", t).unwrap(),
            "29 Feb 2024|2024-02-29 13:05:09|Thursday February 29|Thu 24 %"
        );
        assert!(strftime("%Q", t).is_err());
    }

    #[test]
    fn numbers_as_python_writes_them() {
        for (value, text) in [
            (Value::from(3), "3"),
            (Value::from(2.5), "2.5"),
            (Value::from(1.0), "1.0"),
            (Value::from(1e-7), "1e-07"),
            (Value::from(1e16), "1e+16"),
            (Value::from(-0.0001), "-0.0001"),
        ] {
            assert_eq!(python_number(&value), text);
        }
    }
}
