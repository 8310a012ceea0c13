//! The editor's logic, written against a small [`Sandbox`] trait so that it
//! runs natively in tests (against a real directory and real bash) as well as
//! inside the component (against the host's sandbox session).
//!
//! Every call starts with one `probe` command in the sandbox: it resolves the
//! path (symlinks included) and the workspace root, says what is there, where
//! the undo history lives and which undo entries the file has. Files are read
//! with `read-file`; edits are written with `write-file` into the history
//! directory and then copied over the target with `cat`, so that the file
//! keeps its inode, owner and mode (a tar upload into a container would reset
//! the mode).

use serde_json::{Map, Value};

/// Largest file the editor edits (and views through `read-file`); larger
/// files are viewed through `sed` in the sandbox and edited with the terminal.
pub const MAX_FILE_BYTES: u64 = 4 * 1024 * 1024;
/// Most text `view` returns: under the host's default output limit
/// (`--max-output-bytes`, 10 000), so the note saying what was cut survives.
pub const MAX_VIEW_BYTES: usize = 9_000;
/// Longest line `view` shows whole.
pub const MAX_LINE_CHARS: usize = 1_000;
/// Most entries a directory listing shows.
pub const MAX_LISTING_ENTRIES: usize = 300;
/// Lines `view` of a file over [`MAX_FILE_BYTES`] shows when no range is given.
pub const BIG_FILE_VIEW_LINES: u64 = 200;
/// Edits of one file that `undo_edit` can revert.
pub const MAX_UNDO_LEVELS: u64 = 20;
/// Lines of context around an edit in the snippet an edit returns.
const SNIPPET_CONTEXT: usize = 4;
/// Where the undo history lives when the workspace is not in a git
/// repository (else `<git dir>/plinth-editor/undo`); once made, it stays in
/// use should the workspace become a repository later.
const HIDDEN_DIR: &str = ".plinth-editor";

/// A command's result, as the sandbox reports it.
#[derive(Debug, Clone)]
pub struct Exec {
    pub exit_code: i32,
    pub output: String,
}

/// The part of the sandbox session the editor uses. Errors are the sandbox
/// failing (not a command failing), already described as text.
pub trait Sandbox {
    /// Runs `bash -c command` in the sandbox's working directory.
    fn exec(&self, command: &str) -> Result<Exec, String>;
    fn read_file(&self, path: &str) -> Result<Vec<u8>, String>;
    /// Writes `contents` to `path`, creating missing parent directories.
    fn write_file(&self, path: &str, contents: &[u8]) -> Result<(), String>;
    /// The working directory: the workspace the editor is confined to.
    fn cwd(&self) -> String;
}

/// Why a call produced no result for the model.
#[derive(Debug, Clone, PartialEq)]
pub enum Failure {
    /// The arguments do not fit the tool (bad JSON, an unknown command, a
    /// missing or mistyped field): the model's format error.
    InvalidArguments(String),
    /// The sandbox failed: not the model's doing.
    Sandbox(String),
}

/// Runs one call. `Ok` is the text the model sees: the command's result, or
/// `Error: ...` saying why it could not be done (a missing file, an
/// ambiguous `old_str`, a path outside the workspace, ...) so the model can
/// act on it without it counting as a malformed call.
pub fn run(arguments: &str, sandbox: &dyn Sandbox) -> Result<String, Failure> {
    let result = parse_arguments(arguments).and_then(|command| execute(&command, sandbox));
    match result {
        Ok(text) => Ok(text),
        Err(Error::Refused(why)) => Ok(format!("Error: {why}")),
        Err(Error::Invalid(why)) => Err(Failure::InvalidArguments(why)),
        Err(Error::Sandbox(why)) => Err(Failure::Sandbox(why)),
    }
}

enum Error {
    Invalid(String),
    Sandbox(String),
    /// Told to the model as the result.
    Refused(String),
}

type Res<T> = Result<T, Error>;

fn refuse<T>(why: impl Into<String>) -> Res<T> {
    Err(Error::Refused(why.into()))
}

// ----------------------------------------------------------------- arguments

/// One parsed call.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    View {
        path: String,
        /// 1-based first line and last line (None: to the end).
        range: Option<(u64, Option<u64>)>,
    },
    Create {
        path: String,
        file_text: String,
    },
    StrReplace {
        path: String,
        old_str: String,
        new_str: String,
    },
    Insert {
        path: String,
        insert_line: u64,
        new_str: String,
    },
    UndoEdit {
        path: String,
    },
}

fn invalid<T>(why: impl Into<String>) -> Res<T> {
    Err(Error::Invalid(why.into()))
}

fn string_arg(args: &Map<String, Value>, key: &str, command: &str) -> Res<Option<String>> {
    match args.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => invalid(format!("`{key}` must be a string (command `{command}`)")),
    }
}

fn required_string(args: &Map<String, Value>, key: &str, command: &str) -> Res<String> {
    match string_arg(args, key, command)? {
        Some(s) => Ok(s),
        None => invalid(format!("command `{command}` needs `{key}`")),
    }
}

fn parse_arguments(arguments: &str) -> Res<Command> {
    let value: Value = serde_json::from_str(arguments)
        .map_err(|e| Error::Invalid(format!("arguments are not valid JSON: {e}")))?;
    let Value::Object(args) = value else {
        return invalid("arguments must be a JSON object");
    };
    let command = match args.get("command") {
        Some(Value::String(c)) => c.clone(),
        Some(_) => return invalid("`command` must be a string"),
        None => return invalid("missing required argument `command`"),
    };
    let path = required_string(&args, "path", &command)?;
    if path.trim().is_empty() {
        return invalid("`path` is empty");
    }
    if path.contains(['\n', '\r', '\0']) {
        return invalid("`path` contains a line break or a NUL character");
    }
    match command.as_str() {
        "view" => Ok(Command::View {
            range: view_range(&args)?,
            path,
        }),
        "create" => Ok(Command::Create {
            file_text: required_string(&args, "file_text", &command)?,
            path,
        }),
        "str_replace" => {
            let old_str = required_string(&args, "old_str", &command)?;
            if old_str.is_empty() {
                return invalid(
                    "`old_str` is empty: give the exact text to replace (use `insert` to add lines)",
                );
            }
            Ok(Command::StrReplace {
                old_str,
                new_str: string_arg(&args, "new_str", &command)?.unwrap_or_default(),
                path,
            })
        }
        "insert" => {
            let insert_line = match args.get("insert_line") {
                Some(v) => v.as_u64().ok_or_else(|| {
                    Error::Invalid(
                        "`insert_line` must be a non-negative integer (0 inserts at the top)"
                            .into(),
                    )
                })?,
                None => return invalid("command `insert` needs `insert_line`"),
            };
            Ok(Command::Insert {
                insert_line,
                new_str: required_string(&args, "new_str", &command)?,
                path,
            })
        }
        "undo_edit" => Ok(Command::UndoEdit { path }),
        other => invalid(format!(
            "unknown command {other:?}: use one of view, create, str_replace, insert, undo_edit"
        )),
    }
}

fn view_range(args: &Map<String, Value>) -> Res<Option<(u64, Option<u64>)>> {
    let items = match args.get("view_range") {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Array(items)) if items.len() == 2 => items,
        Some(_) => return invalid("`view_range` must be two integers: [start, end]"),
    };
    let (Some(start), Some(end)) = (items[0].as_i64(), items[1].as_i64()) else {
        return invalid("`view_range` must be two integers: [start, end]");
    };
    if start < 1 {
        return invalid("`view_range` starts at line 1 or later");
    }
    match end {
        -1 => Ok(Some((start as u64, None))),
        end if end >= start => Ok(Some((start as u64, Some(end as u64)))),
        _ => invalid("`view_range` end must be -1 (to the end) or at least its start"),
    }
}

// ---------------------------------------------------------------- the probe

/// Quotes `word` for bash.
pub fn shell_quote(word: &str) -> String {
    format!("'{}'", word.replace('\'', r"'\''"))
}

/// `path` made absolute against `cwd`, with `.` and `..` resolved by name
/// (symlinks are resolved by the probe, in the sandbox).
pub fn lexical_path(cwd: &str, path: &str) -> String {
    let joined = if path.starts_with('/') {
        path.to_string()
    } else {
        format!("{cwd}/{path}")
    };
    let mut parts: Vec<&str> = Vec::new();
    for part in joined.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            part => parts.push(part),
        }
    }
    format!("/{}", parts.join("/"))
}

/// True when `path` is `root` or inside it.
fn inside(root: &str, path: &str) -> bool {
    root == "/"
        || path == root
        || path
            .strip_prefix(root)
            .is_some_and(|rest| rest.starts_with('/'))
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    File,
    Dir,
    Missing,
    Other,
}

/// What the probe found.
#[derive(Debug)]
struct Probe {
    /// The path as the model named it, made absolute: what messages show.
    shown: String,
    /// Symlinks resolved.
    real: String,
    kind: Kind,
    size: u64,
    parent_exists: bool,
    /// Relative to the real workspace root.
    relative: String,
    /// This file's history directory.
    history: String,
    /// The directory that holds every file's history when it is the hidden
    /// one in the workspace (it gets a `.gitignore`); None under `.git`.
    hidden_base: Option<String>,
    /// Undo entries: number, and whether the file was absent before.
    entries: Vec<(u64, bool)>,
}

const PROBE: &str = r#"
real_root=$(cd -- "$root" 2>/dev/null && pwd -P) || { echo "error=root"; exit 0; }
real=$(realpath -m -- "$p" 2>/dev/null || readlink -f -- "$p" 2>/dev/null) || real=
[ -n "$real" ] || real=$p
echo "root=$real_root"
echo "real=$real"
if [ -d "$real" ]; then echo kind=dir
elif [ -f "$real" ]; then echo kind=file; echo "size=$(wc -c < "$real")"
elif [ -e "$real" ] || [ -L "$real" ]; then echo kind=other
else echo kind=missing
fi
[ -d "$(dirname -- "$real")" ] && echo parent=yes
g=
if [ ! -d "$real_root/.plinth-editor/undo" ]; then
  g=$(git -C "$real_root" rev-parse --absolute-git-dir 2>/dev/null) || g=
  [ -z "$g" ] && [ -d "$real_root/.git" ] && g=$real_root/.git
fi
if [ -n "$g" ]; then base=$g/plinth-editor/undo; else base=$real_root/.plinth-editor/undo; echo hidden=yes; fi
echo "base=$base"
if [ "$real_root" = / ]; then rel=${real#/}; else rel=${real#"$real_root"/}; fi
echo "rel=$rel"
h=$base/$rel.undo
echo "history=$h"
if [ -d "$h" ]; then for e in "$h"/*; do [ -f "$e" ] && echo "entry=${e##*/}"; done; fi
exit 0
"#;

fn exec(sandbox: &dyn Sandbox, command: &str) -> Res<Exec> {
    sandbox.exec(command).map_err(Error::Sandbox)
}

fn probe(sandbox: &dyn Sandbox, path: &str) -> Res<Probe> {
    let root = lexical_path("/", &sandbox.cwd());
    let shown = lexical_path(&root, path);
    if !inside(&root, &shown) {
        return refuse(format!(
            "{shown} is outside the workspace {root}: the editor only works on files inside \
             it (give a path relative to {root}, or an absolute path under it)"
        ));
    }
    let script = format!(
        "root={}; p={}\n{PROBE}",
        shell_quote(&root),
        shell_quote(&shown)
    );
    let out = exec(sandbox, &script)?;
    let mut fields: Vec<(&str, &str)> = Vec::new();
    for line in out.output.lines() {
        if let Some((key, value)) = line.split_once('=') {
            fields.push((key, value));
        }
    }
    let field = |key: &str| fields.iter().find(|(k, _)| *k == key).map(|(_, v)| *v);
    if field("error").is_some() {
        return Err(Error::Sandbox(format!(
            "the workspace {root} is not a directory in the sandbox"
        )));
    }
    let (Some(real_root), Some(real), Some(kind), Some(rel), Some(history), Some(base)) = (
        field("root"),
        field("real"),
        field("kind"),
        field("rel"),
        field("history"),
        field("base"),
    ) else {
        return Err(Error::Sandbox(format!(
            "the editor's probe of {shown} failed (exit code {}): {}",
            out.exit_code,
            out.output.trim()
        )));
    };
    if !inside(real_root, real) {
        return refuse(format!(
            "{shown} resolves through a symbolic link to {real}, outside the workspace \
             {real_root}: the editor only works on files inside it"
        ));
    }
    let kind = match kind {
        "file" => Kind::File,
        "dir" => Kind::Dir,
        "missing" => Kind::Missing,
        _ => Kind::Other,
    };
    let mut entries: Vec<(u64, bool)> = fields
        .iter()
        .filter(|(k, _)| *k == "entry")
        .filter_map(|(_, name)| match name.strip_suffix(".absent") {
            Some(n) => n.parse().ok().map(|n| (n, true)),
            None => name.parse().ok().map(|n| (n, false)),
        })
        .collect();
    entries.sort_unstable();
    Ok(Probe {
        shown,
        real: real.to_string(),
        kind,
        size: field("size")
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(0),
        parent_exists: field("parent").is_some(),
        relative: rel.to_string(),
        history: history.to_string(),
        hidden_base: field("hidden")
            .map(|_| base.strip_suffix("/undo").unwrap_or(base).to_string()),
        entries,
    })
}

impl Probe {
    /// Refuses edits of git's own files and of the editor's history.
    fn check_editable(&self) -> Res<()> {
        let first = self.relative.split('/').next().unwrap_or_default();
        if first == ".git" || first == HIDDEN_DIR {
            return refuse(format!(
                "{} is inside {first}/: the editor does not edit git's files or its own undo \
                 history",
                self.shown
            ));
        }
        Ok(())
    }

    fn missing_message(&self) -> String {
        if self.parent_exists {
            format!(
                "{} does not exist (use `create` to make a new file, or `view` a directory \
                 to see what is there)",
                self.shown
            )
        } else {
            format!(
                "{} does not exist, nor does its directory (`view` the workspace to see what \
                 is there; `create` makes missing directories)",
                self.shown
            )
        }
    }
}

// ------------------------------------------------------------------- text

/// A file's text, with CRLF line endings turned into LF while it is edited
/// when the file uses CRLF throughout (and back when it is written).
struct Text {
    body: String,
    crlf: bool,
}

impl Text {
    fn decode(text: String) -> Self {
        let crlf = text.contains("\r\n") && !has_lone_lf(&text);
        if crlf {
            Self {
                body: text.replace("\r\n", "\n"),
                crlf,
            }
        } else {
            Self { body: text, crlf }
        }
    }

    /// A string from the model in the file's convention.
    fn normalize(&self, s: &str) -> String {
        if self.crlf {
            s.replace("\r\n", "\n")
        } else {
            s.to_string()
        }
    }

    fn encode(&self, body: &str) -> Vec<u8> {
        if self.crlf {
            body.replace('\n', "\r\n").into_bytes()
        } else {
            body.as_bytes().to_vec()
        }
    }
}

fn has_lone_lf(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes
        .iter()
        .enumerate()
        .any(|(i, b)| *b == b'\n' && (i == 0 || bytes[i - 1] != b'\r'))
}

/// The lines of `body` (without their `\n`) and whether it ends with one.
fn split_lines(body: &str) -> (Vec<&str>, bool) {
    if body.is_empty() {
        return (Vec::new(), true);
    }
    match body.strip_suffix('\n') {
        Some(rest) => (rest.split('\n').collect(), true),
        None => (body.split('\n').collect(), false),
    }
}

/// 1-based line of byte offset `at`.
fn line_of(body: &str, at: usize) -> usize {
    body[..at].matches('\n').count() + 1
}

/// Start offsets of every occurrence of `needle`, overlapping ones included.
fn occurrences(body: &str, needle: &str) -> Vec<usize> {
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(i) = body[from..].find(needle) {
        let at = from + i;
        found.push(at);
        let step = body[at..].chars().next().map_or(1, char::len_utf8);
        from = at + step;
        if from > body.len() {
            break;
        }
    }
    found
}

/// Numbered lines, `cat -n` style, starting at line `first`, within
/// [`MAX_VIEW_BYTES`]. Returns the text and the last line shown.
fn numbered<'a>(lines: impl Iterator<Item = &'a str>, first: u64) -> (String, u64, bool) {
    let mut out = String::new();
    let mut last = first.saturating_sub(1);
    for (i, line) in lines.enumerate() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        let no = first + i as u64;
        let row = match line.char_indices().nth(MAX_LINE_CHARS) {
            Some((cut, _)) => format!(
                "{no:>6}\t{} [... line cut: {} more characters]\n",
                &line[..cut],
                line[cut..].chars().count()
            ),
            None => format!("{no:>6}\t{line}\n"),
        };
        if out.len() + row.len() > MAX_VIEW_BYTES && no > first {
            return (out, last, true);
        }
        out.push_str(&row);
        last = no;
    }
    (out, last, false)
}

/// The lines around an edit of `body` (1-based `from..=to`), numbered.
fn snippet(body: &str, from: usize, to: usize) -> String {
    let (lines, _) = split_lines(body);
    let start = from.saturating_sub(SNIPPET_CONTEXT + 1);
    let end = (to + SNIPPET_CONTEXT).min(lines.len());
    if start >= end {
        return "(the file is now empty)\n".into();
    }
    numbered(lines[start..end].iter().copied(), start as u64 + 1).0
}

// ---------------------------------------------------------------- commands

fn execute(command: &Command, sandbox: &dyn Sandbox) -> Res<String> {
    match command {
        Command::View { path, range } => view(sandbox, &probe(sandbox, path)?, *range),
        Command::Create { path, file_text } => create(sandbox, &probe(sandbox, path)?, file_text),
        Command::StrReplace {
            path,
            old_str,
            new_str,
        } => str_replace(sandbox, &probe(sandbox, path)?, old_str, new_str),
        Command::Insert {
            path,
            insert_line,
            new_str,
        } => insert(sandbox, &probe(sandbox, path)?, *insert_line, new_str),
        Command::UndoEdit { path } => undo(sandbox, &probe(sandbox, path)?),
    }
}

fn view(sandbox: &dyn Sandbox, p: &Probe, range: Option<(u64, Option<u64>)>) -> Res<String> {
    match p.kind {
        Kind::Dir => return list_dir(sandbox, p, range.is_some()),
        Kind::Missing => return refuse(p.missing_message()),
        Kind::Other => return refuse(format!("{} is not a regular file", p.shown)),
        Kind::File if p.size > MAX_FILE_BYTES => return view_big(sandbox, p, range),
        Kind::File => {}
    }
    let bytes = sandbox.read_file(&p.real).map_err(Error::Sandbox)?;
    let mut notes = Vec::new();
    let text = match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => {
            let at = e.utf8_error().valid_up_to();
            notes.push(format!(
                "Note: {} is not valid UTF-8 (the first invalid byte is at offset {at}); it is \
                 shown with invalid bytes replaced by U+FFFD, and the editor will not edit it.",
                p.shown
            ));
            String::from_utf8_lossy(e.as_bytes()).into_owned()
        }
    };
    if text.contains("\r\n") && !has_lone_lf(&text) {
        notes.push(
            "Note: the file has CRLF line endings; they are not shown, and edits keep them.".into(),
        );
    }
    let (lines, _) = split_lines(&text);
    let total = lines.len() as u64;
    let mut out = String::new();
    for note in &notes {
        out.push_str(note);
        out.push('\n');
    }
    if total == 0 {
        out.push_str(&format!("{} is empty.\n", p.shown));
        return Ok(out);
    }
    let (start, end) = match range {
        None => (1, total),
        Some((start, _)) if start > total => {
            return refuse(format!(
                "view_range starts at line {start}, but {} has {total} lines",
                p.shown
            ));
        }
        Some((start, None)) => (start, total),
        Some((start, Some(end))) => {
            if end > total {
                out.push_str(&format!(
                    "Note: the file has {total} lines; showing up to line {total}.\n"
                ));
            }
            (start, end.min(total))
        }
    };
    out.push_str(&format!(
        "Here's the result of running `cat -n` on {}:\n",
        p.shown
    ));
    let shown = lines[(start - 1) as usize..end as usize].iter().copied();
    let (body, last, cut) = numbered(shown, start);
    out.push_str(&body);
    if cut || last < end {
        let next_end = (last + (last + 1 - start)).min(total);
        out.push_str(&format!(
            "[Output cut after line {last} of {total}, to keep it under {MAX_VIEW_BYTES} bytes. \
             View the rest with view_range, e.g. [{}, {next_end}].]\n",
            last + 1
        ));
    }
    Ok(out)
}

/// `view` of a file too big to read whole: the lines asked for, through
/// `sed` in the sandbox.
fn view_big(sandbox: &dyn Sandbox, p: &Probe, range: Option<(u64, Option<u64>)>) -> Res<String> {
    let (start, end) = match range {
        None => (1, Some(BIG_FILE_VIEW_LINES)),
        Some(r) => r,
    };
    let file = shell_quote(&p.real);
    let last = end.map_or("$".to_string(), |e| e.to_string());
    let script = format!(
        "awk 'END {{ print NR }}' {file}; sed -n '{start},{last}p' {file} | head -c {}",
        MAX_VIEW_BYTES * 2
    );
    let out = exec(sandbox, &script)?;
    let (count, lines) = out.output.split_once('\n').unwrap_or((&out.output, ""));
    let total: u64 = count.trim().parse().unwrap_or(0);
    if start > total {
        return refuse(format!(
            "view_range starts at line {start}, but {} has {total} lines",
            p.shown
        ));
    }
    let end = end.map_or(total, |e| e.min(total));
    let (body, last, _) = numbered(lines.lines().take((end + 1 - start) as usize), start);
    let mut text = format!(
        "Note: {} is {} bytes, over the editor's limit of {MAX_FILE_BYTES} bytes: it is shown \
         a range at a time (lines {start}-{last} of {total}) and cannot be edited with this \
         tool; use the terminal (sed, a script) to change it.\n",
        p.shown, p.size
    );
    text.push_str(&body);
    if last < total {
        text.push_str(&format!(
            "[More lines follow. View them with view_range, e.g. [{}, {}].]\n",
            last + 1,
            (last + BIG_FILE_VIEW_LINES).min(total)
        ));
    }
    Ok(text)
}

fn list_dir(sandbox: &dyn Sandbox, p: &Probe, with_range: bool) -> Res<String> {
    let script = format!(
        "cd -- {} && {{ find . -mindepth 1 -maxdepth 2 -not -path '*/.*' -type d | sed 's|$|/|'; \
         find . -mindepth 1 -maxdepth 2 -not -path '*/.*' ! -type d; }} 2>/dev/null \
         | sed 's|^\\./||' | LC_ALL=C sort | head -n {}",
        shell_quote(&p.real),
        MAX_LISTING_ENTRIES + 1
    );
    let out = exec(sandbox, &script)?;
    let mut text = String::new();
    if with_range {
        text.push_str("Note: view_range only applies to files; it is ignored for a directory.\n");
    }
    text.push_str(&format!(
        "Files and directories in {}, two levels deep (hidden entries not shown):\n",
        p.shown
    ));
    let entries: Vec<&str> = out.output.lines().filter(|l| !l.is_empty()).collect();
    if entries.is_empty() {
        text.push_str("(no entries)\n");
    }
    let mut shown = 0;
    for entry in entries.iter().take(MAX_LISTING_ENTRIES) {
        if text.len() + entry.len() + 1 > MAX_VIEW_BYTES {
            break;
        }
        text.push_str(entry);
        text.push('\n');
        shown += 1;
    }
    if shown < entries.len() {
        text.push_str(&format!(
            "[Listing cut after {shown} entries: view a subdirectory to see more.]\n"
        ));
    }
    Ok(text)
}

/// The text of a file the editor may change.
fn load(sandbox: &dyn Sandbox, p: &Probe) -> Res<Text> {
    p.check_editable()?;
    match p.kind {
        Kind::File => {}
        Kind::Missing => return refuse(p.missing_message()),
        Kind::Dir => {
            return refuse(format!(
                "{} is a directory: give the path of a file",
                p.shown
            ));
        }
        Kind::Other => return refuse(format!("{} is not a regular file", p.shown)),
    }
    if p.size > MAX_FILE_BYTES {
        return refuse(format!(
            "{} is {} bytes, over the editor's limit of {MAX_FILE_BYTES} bytes for edits: \
             change it with the terminal (sed, a script) instead",
            p.shown, p.size
        ));
    }
    let bytes = sandbox.read_file(&p.real).map_err(Error::Sandbox)?;
    match String::from_utf8(bytes) {
        Ok(text) => Ok(Text::decode(text)),
        Err(e) => refuse(format!(
            "{} is not valid UTF-8 text (the first invalid byte is at offset {}): the editor \
             does not edit it, so as not to corrupt it. Use the terminal to change it.",
            p.shown,
            e.utf8_error().valid_up_to()
        )),
    }
}

/// What a history entry restores.
enum Before<'a> {
    Content(&'a [u8]),
    /// The file did not exist: undo deletes it.
    Absent,
}

/// Writes `contents` to the file, first keeping what it replaces in the
/// history. A write the sandbox refuses (permissions, a full disk) is told
/// to the model.
fn commit(sandbox: &dyn Sandbox, p: &Probe, before: Before, contents: &[u8]) -> Res<()> {
    let n = p.entries.last().map_or(1, |(n, _)| n + 1);
    let entry = match before {
        Before::Content(_) => format!("{}/{n}", p.history),
        Before::Absent => format!("{}/{n}.absent", p.history),
    };
    let saved = match before {
        Before::Content(bytes) => bytes,
        Before::Absent => &[],
    };
    let write = |path: &str, bytes: &[u8]| sandbox.write_file(path, bytes).map_err(Error::Sandbox);
    if let (Some(hidden), true) = (&p.hidden_base, p.entries.is_empty()) {
        // Never part of a diff, even if the workspace becomes a repository.
        write(&format!("{hidden}/.gitignore"), b"*\n")?;
    }
    write(&entry, saved)?;
    let pending = format!("{}/pending", p.history);
    write(&pending, contents)?;
    let parent = p.real.rsplit_once('/').map_or("/", |(dir, _)| dir);
    let parent = if parent.is_empty() { "/" } else { parent };
    let prune: Vec<String> = p
        .entries
        .iter()
        .filter(|(k, _)| k + MAX_UNDO_LEVELS <= n)
        .map(|(k, absent)| {
            let name = if *absent {
                format!("{k}.absent")
            } else {
                k.to_string()
            };
            shell_quote(&format!("{}/{name}", p.history))
        })
        .collect();
    let script = format!(
        "{{ mkdir -p -- {parent} && cat -- {pending} > {target}; }} 2>&1 || \
         {{ s=$?; rm -f -- {pending} {entry}; exit $s; }}\nrm -f -- {pending} {prune}",
        parent = shell_quote(parent),
        pending = shell_quote(&pending),
        target = shell_quote(&p.real),
        entry = shell_quote(&entry),
        prune = prune.join(" "),
    );
    let out = exec(sandbox, &script)?;
    if out.exit_code != 0 {
        return refuse(format!(
            "could not write {}: {}",
            p.shown,
            out.output.trim()
        ));
    }
    Ok(())
}

fn create(sandbox: &dyn Sandbox, p: &Probe, file_text: &str) -> Res<String> {
    p.check_editable()?;
    match p.kind {
        Kind::Missing => {}
        Kind::File => {
            return refuse(format!(
                "{} already exists, and `create` never overwrites a file: change it with \
                 `str_replace` or `insert` (`view` it first)",
                p.shown
            ));
        }
        Kind::Dir => return refuse(format!("{} is a directory", p.shown)),
        Kind::Other => return refuse(format!("{} exists and is not a regular file", p.shown)),
    }
    commit(sandbox, p, Before::Absent, file_text.as_bytes())?;
    let lines = split_lines(file_text).0.len();
    let mut text = format!("Created {} ({lines} lines).", p.shown);
    if !p.parent_exists {
        text.push_str(" Its missing parent directories were created.");
    }
    text.push('\n');
    Ok(text)
}

fn str_replace(sandbox: &dyn Sandbox, p: &Probe, old_str: &str, new_str: &str) -> Res<String> {
    let text = load(sandbox, p)?;
    let old = text.normalize(old_str);
    let new = text.normalize(new_str);
    let found = occurrences(&text.body, &old);
    match found.as_slice() {
        [] => {
            let mut why = format!(
                "no replacement was made: old_str does not occur in {} exactly as given. It \
                 must match the file character for character, whitespace and indentation \
                 included; `view` the file and copy the text.",
                p.shown
            );
            if text.body.contains('\t') && !old.contains('\t') && old.contains("  ") {
                why.push_str(" Note: the file indents with tabs, and old_str has none.");
            }
            if !text.crlf && text.body.contains("\r\n") {
                why.push_str(" Note: some lines of the file end in CRLF (\\r\\n).");
            }
            refuse(why)
        }
        [at] => {
            let at = *at;
            if old == new {
                return refuse("old_str and new_str are the same: nothing to change");
            }
            let mut body = String::with_capacity(text.body.len() + new.len());
            body.push_str(&text.body[..at]);
            body.push_str(&new);
            body.push_str(&text.body[at + old.len()..]);
            let original = text.encode(&text.body);
            commit(sandbox, p, Before::Content(&original), &text.encode(&body))?;
            let first = line_of(&body, at);
            let last = first + new.matches('\n').count();
            Ok(format!(
                "Edited {}: replaced the one occurrence of old_str (line {}). A snippet of the \
                 result, `cat -n` style; check it, and `undo_edit` reverts the edit:\n{}",
                p.shown,
                line_of(&text.body, at),
                snippet(&body, first, last)
            ))
        }
        many => {
            let lines: Vec<String> = many
                .iter()
                .map(|at| line_of(&text.body, *at).to_string())
                .collect();
            refuse(format!(
                "no replacement was made: old_str occurs {} times in {} (starting at lines {}). \
                 It must occur exactly once: include more of the surrounding lines to make it \
                 unique.",
                many.len(),
                p.shown,
                lines.join(", ")
            ))
        }
    }
}

fn insert(sandbox: &dyn Sandbox, p: &Probe, insert_line: u64, new_str: &str) -> Res<String> {
    let text = load(sandbox, p)?;
    let (lines, trailing_newline) = split_lines(&text.body);
    let count = lines.len() as u64;
    if insert_line > count {
        return refuse(format!(
            "insert_line {insert_line} is past the end: {} has {count} lines. Use 0 to insert \
             at the top, {count} to insert at the end.",
            p.shown
        ));
    }
    let new = text.normalize(new_str);
    let new = new.strip_suffix('\n').unwrap_or(&new);
    let k = insert_line as usize;
    let added: Vec<&str> = new.split('\n').collect();
    let mut all: Vec<&str> = Vec::with_capacity(lines.len() + added.len());
    all.extend_from_slice(&lines[..k]);
    all.extend_from_slice(&added);
    all.extend_from_slice(&lines[k..]);
    let mut body = all.join("\n");
    if trailing_newline {
        body.push('\n');
    }
    let original = text.encode(&text.body);
    commit(sandbox, p, Before::Content(&original), &text.encode(&body))?;
    Ok(format!(
        "Inserted {} line(s) into {} after line {insert_line}. A snippet of the result, \
         `cat -n` style; check it, and `undo_edit` reverts the edit:\n{}",
        added.len(),
        p.shown,
        snippet(&body, k + 1, k + added.len())
    ))
}

fn undo(sandbox: &dyn Sandbox, p: &Probe) -> Res<String> {
    p.check_editable()?;
    let Some(&(n, absent)) = p.entries.last() else {
        return refuse(format!(
            "there is no edit of {} to undo: undo_edit reverts edits this tool made (the last \
             {MAX_UNDO_LEVELS} of each file), not changes made with other tools",
            p.shown
        ));
    };
    let target = shell_quote(&p.real);
    let left = p.entries.len() - 1;
    let (script, done) = if absent {
        let entry = shell_quote(&format!("{}/{n}.absent", p.history));
        (
            format!("rm -f -- {target} 2>&1 && rm -f -- {entry}"),
            format!("Undid the creation of {}: the file is deleted.", p.shown),
        )
    } else {
        let entry = shell_quote(&format!("{}/{n}", p.history));
        let parent = p.real.rsplit_once('/').map_or("/", |(dir, _)| dir);
        (
            format!(
                "{{ mkdir -p -- {} && cat -- {entry} > {target}; }} 2>&1 && rm -f -- {entry}",
                shell_quote(if parent.is_empty() { "/" } else { parent })
            ),
            format!(
                "Undid the last edit to {}: it is back as it was before that edit.",
                p.shown
            ),
        )
    };
    let out = exec(sandbox, &script)?;
    if out.exit_code != 0 {
        return refuse(format!("could not undo: {}", out.output.trim()));
    }
    Ok(format!(
        "{done} {left} earlier edit(s) of it can still be undone.\n"
    ))
}

#[cfg(test)]
mod tests;
