//! The book (`docs/src`) cannot drift from the binary.
//!
//! - Every command in a ```` ```console ```` block is run, chapter by
//!   chapter, against the real `plinth` (with the scripted mock model where
//!   the book says `http://localhost:8000/v1`), and must exit as the block
//!   says and print the output it shows.
//! - A ```` ```console,flags ```` block (Docker, Slurm, a model server, a
//!   plugin toolchain) is parsed instead: each `plinth` command's subcommand
//!   must exist and every flag it uses must be in that subcommand's `--help`.
//! - Every flag of every subcommand's `--help` must appear in the book, and
//!   the flag reference's tables must give the defaults `--help` gives.
//!
//! The conventions are described for authors in the book itself
//! (`docs/src/reference/book-tests.md`). This test uses the binary and the
//! mock server only, no library of the host.

#![allow(clippy::unwrap_used)] // In a test, an unwrap is an assertion.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use plinth_mock_llm::{BenchConfig, MockConfig, MockServer};

/// What the book writes for "your model server"; commands get the mock's URL.
const BOOK_MODEL_URL: &str = "http://localhost:8000/v1";
/// Work steps the mock plays before it submits (its benchmark script).
const MOCK_STEPS: u32 = 2;
/// No command of the book may take longer than this.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(600);
/// The chapter holding the flag reference, relative to `docs/src`.
const FLAG_REFERENCE: &str = "reference/flags.md";
/// Environment variables that would change what a command does.
const CLEARED_ENV: &[&str] = &[
    "OPENAI_API_KEY",
    "OPENROUTER_API_KEY",
    "ANTHROPIC_API_KEY",
    "OPENAI_BASE_URL",
    "PLINTH_PLUGIN_PATH",
    "PLINTH_LOG",
    "DOCKER_HOST",
    "SLURM_ARRAY_TASK_ID",
    "SLURM_ARRAY_TASK_COUNT",
    "JOB_COMPLETION_INDEX",
    "PLINTH_SHARD_COUNT",
];

// ---------------------------------------------------------------------------
// The book's chapters and their console blocks.

/// Whether a console block is run or only checked against `--help`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    Run,
    Flags,
}

/// One `$ ` command of a console block and the output shown after it.
#[derive(Debug)]
struct Shown {
    /// 1-based line of the `$ ` in its chapter.
    line: usize,
    /// The command as bash reads it (continuation lines kept).
    text: String,
    /// Lines the command must print (`...` lines dropped).
    output: Vec<String>,
}

#[derive(Debug)]
struct Block {
    mode: Mode,
    exit: i32,
    commands: Vec<Shown>,
}

#[derive(Debug)]
struct Chapter {
    /// Relative to `docs/src`, with `/` separators.
    name: String,
    text: String,
    blocks: Vec<Block>,
}

/// The repository's root: the first directory above this test's package
/// holding the book, so the test does not depend on where the package sits.
fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .find(|dir| dir.join("docs/book.toml").is_file())
        .expect("docs/book.toml above the package directory")
        .to_path_buf()
}

fn chapters() -> Vec<Chapter> {
    let src = workspace().join("docs/src");
    let mut files = Vec::new();
    collect_markdown(&src, &mut files);
    files.sort();
    assert!(!files.is_empty(), "no chapters under {}", src.display());
    let mut errors = Vec::new();
    let chapters = files
        .iter()
        .map(|path| {
            let name = path
                .strip_prefix(&src)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            let text = std::fs::read_to_string(path).unwrap();
            let blocks = parse_blocks(&text).unwrap_or_else(|e| {
                errors.extend(e.into_iter().map(|e| format!("{name}:{e}")));
                Vec::new()
            });
            Chapter { name, text, blocks }
        })
        .collect();
    assert!(errors.is_empty(), "{}", errors.join("\n"));
    chapters
}

fn collect_markdown(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            collect_markdown(&path, out);
        } else if path.extension().is_some_and(|e| e == "md") {
            out.push(path);
        }
    }
}

/// A fence that opens a code block: its character, length and info string.
/// As in CommonMark, a backtick fence's info string holds no backtick (so
/// ```` ```bash ```` inside a sentence opens nothing).
fn fence(line: &str) -> Option<(char, usize, &str)> {
    let indent = line.len() - line.trim_start().len();
    if indent > 3 {
        return None;
    }
    let trimmed = line.trim_start();
    let ch = trimmed.chars().next().filter(|c| *c == '`' || *c == '~')?;
    let len = trimmed.chars().take_while(|c| *c == ch).count();
    if len < 3 {
        return None;
    }
    let info = trimmed[len..].trim();
    if ch == '`' && info.contains('`') {
        return None;
    }
    Some((ch, len, info))
}

/// The console blocks of a chapter, or every problem found (a line number
/// and what is wrong).
fn parse_blocks(text: &str) -> Result<Vec<Block>, Vec<String>> {
    let lines: Vec<&str> = text.lines().collect();
    let mut blocks = Vec::new();
    let mut errors = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let Some((ch, len, info)) = fence(lines[i]) else {
            i += 1;
            continue;
        };
        let open = i + 1;
        let mut body = Vec::new();
        i += 1;
        while i < lines.len() {
            let closes =
                fence(lines[i]).is_some_and(|(c, l, rest)| c == ch && l >= len && rest.is_empty());
            if closes {
                break;
            }
            body.push((i + 1, lines[i]));
            i += 1;
        }
        i += 1;
        let mut words = info.split(',').map(str::trim);
        let lang = words.next().unwrap_or_default();
        if lang == "console" {
            match console_block(words, &body) {
                Ok(block) => blocks.push(block),
                Err(e) => errors.push(format!("{open}: {e}")),
            }
        } else if ["sh", "bash", "shell", "shell-session", "zsh", ""].contains(&lang) {
            for (line, text) in &body {
                let command = text.trim_start().trim_start_matches("$ ");
                if command.starts_with("plinth ") || command == "plinth" {
                    errors.push(format!(
                        "{line}: a `plinth` command outside a ```console block is never run; \
                         put it in one (or ```console,flags)"
                    ));
                }
            }
        }
    }
    if errors.is_empty() {
        Ok(blocks)
    } else {
        Err(errors)
    }
}

fn console_block<'a>(
    attributes: impl Iterator<Item = &'a str>,
    body: &[(usize, &str)],
) -> Result<Block, String> {
    let mut mode = Mode::Run;
    let mut exit = 0;
    for attribute in attributes {
        match attribute.split_once('=') {
            None if attribute == "flags" => mode = Mode::Flags,
            Some(("exit", code)) => {
                exit = code
                    .parse()
                    .map_err(|_| format!("`exit={code}` is not an exit status"))?;
            }
            _ => return Err(format!("unknown console block attribute `{attribute}`")),
        }
    }
    let mut commands: Vec<Shown> = Vec::new();
    let mut continues = false;
    for &(line, text) in body {
        if continues {
            let command = commands.last_mut().expect("a command continues");
            command.text.push('\n');
            command.text.push_str(text);
            continues = text.ends_with('\\');
        } else if let Some(command) = text.strip_prefix("$ ") {
            commands.push(Shown {
                line,
                text: command.to_string(),
                output: Vec::new(),
            });
            continues = command.ends_with('\\');
        } else {
            let Some(command) = commands.last_mut() else {
                return Err(format!("line {line}: output before any `$ ` command"));
            };
            if mode == Mode::Flags {
                return Err(format!(
                    "line {line}: a `flags` block is not run, so it cannot show output"
                ));
            }
            if text.trim() != "..." && !text.trim().is_empty() {
                command.output.push(text.to_string());
            }
        }
    }
    if commands.is_empty() {
        return Err("a console block without a `$ ` command".into());
    }
    Ok(Block {
        mode,
        exit,
        commands,
    })
}

// ---------------------------------------------------------------------------
// `--help`, read from the binary.

#[derive(Debug, Default)]
struct Help {
    subcommands: Vec<String>,
    /// By long name (without `--`): its short letter and its default.
    longs: BTreeMap<String, (Option<char>, Option<String>)>,
    shorts: Vec<char>,
}

fn plinth() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_plinth"));
    command.env("PLINTH_CACHE_DIR", plugin_cache());
    for name in CLEARED_ENV {
        command.env_remove(name);
    }
    command
}

/// The compiled-component cache the other end-to-end tests share.
fn plugin_cache() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("plinth-cache")
}

/// `plinth PATH... --help`, parsed; cached, since every check asks.
fn help(path: &[String]) -> &'static Help {
    static CACHE: Mutex<BTreeMap<Vec<String>, &'static Help>> = Mutex::new(BTreeMap::new());
    if let Some(help) = CACHE.lock().unwrap().get(path) {
        return help;
    }
    let output = plinth().args(path).arg("--help").output().unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "plinth {} --help failed: {}",
        path.join(" "),
        String::from_utf8_lossy(&output.stderr)
    );
    let parsed: &'static Help = Box::leak(Box::new(parse_help(&text)));
    CACHE.lock().unwrap().insert(path.to_vec(), parsed);
    parsed
}

/// Reads clap's help: a `Commands:` section, and flag lines (indented at
/// most six spaces, starting with `-`) each followed by their text, under
/// whatever headings the flags are grouped in.
fn parse_help(text: &str) -> Help {
    let mut help = Help::default();
    let mut in_commands = false;
    let mut current: Option<(String, Option<char>, String)> = None;
    let finish = |current: &mut Option<(String, Option<char>, String)>, help: &mut Help| {
        if let Some((long, short, text)) = current.take() {
            help.longs.insert(long, (short, default_in(&text)));
        }
    };
    for line in text.lines() {
        let indent = line.len() - line.trim_start().len();
        let trimmed = line.trim();
        if indent == 0 && trimmed.ends_with(':') {
            finish(&mut current, &mut help);
            in_commands = trimmed == "Commands:";
            continue;
        }
        if in_commands {
            if let Some(name) = trimmed.split_whitespace().next()
                && indent == 2
                && name != "help"
            {
                help.subcommands.push(name.to_string());
            }
            continue;
        }
        if indent <= 6 && trimmed.starts_with('-') {
            finish(&mut current, &mut help);
            let (short, long) = flag_names(trimmed);
            if let Some(short) = short {
                help.shorts.push(short);
            }
            if let Some(long) = long {
                current = Some((long, short, trimmed.to_string()));
            }
        } else if let Some((_, _, text)) = current.as_mut() {
            text.push(' ');
            text.push_str(trimmed);
        }
    }
    finish(&mut current, &mut help);
    help
}

/// `-o, --output <OUTPUT>  ...` → (`o`, `output`).
fn flag_names(line: &str) -> (Option<char>, Option<String>) {
    let mut short = None;
    let mut long = None;
    for word in line.split([' ', ',']).filter(|w| !w.is_empty()) {
        if let Some(name) = word.strip_prefix("--") {
            // clap writes a counted flag as `--verbose...`.
            long = Some(name.trim_end_matches("...").to_string());
            break;
        } else if let Some(letter) = word.strip_prefix('-') {
            let mut chars = letter.chars();
            short = chars.next().filter(|_| chars.next().is_none());
        } else {
            break;
        }
    }
    (short, long)
}

/// The last `[default: ...]` of a flag's help text.
fn default_in(text: &str) -> Option<String> {
    let start = text.rfind("[default: ")? + "[default: ".len();
    let end = text[start..].find(']')? + start;
    Some(
        text[start..end]
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" "),
    )
}

/// Every subcommand path, the root (`[]`) first.
fn all_commands() -> Vec<Vec<String>> {
    let mut out = vec![Vec::new()];
    let mut i = 0;
    while i < out.len() {
        let path = out[i].clone();
        for sub in &help(&path).subcommands {
            let mut child = path.clone();
            child.push(sub.clone());
            out.push(child);
        }
        i += 1;
    }
    out
}

// ---------------------------------------------------------------------------
// Shell words, for the flag checks.

/// Splits a command line into words as the shell would for our purposes:
/// quotes kept together, `\`-newline joined, operators (`&&`, `;`, `|`,
/// `>`) as words of their own.
fn shell_words(text: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut has_word = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' | '"' => {
                has_word = true;
                for q in chars.by_ref() {
                    if q == c {
                        break;
                    }
                    word.push(q);
                }
            }
            '\\' => match chars.next() {
                Some('\n') | None => {}
                Some(next) => {
                    has_word = true;
                    word.push(next);
                }
            },
            c if c.is_whitespace() => {
                if has_word {
                    words.push(std::mem::take(&mut word));
                    has_word = false;
                }
            }
            '&' | '|' | ';' | '>' | '<' => {
                if has_word {
                    words.push(std::mem::take(&mut word));
                    has_word = false;
                }
                let mut op = c.to_string();
                while let Some(&n) = chars.peek() {
                    if "&|>".contains(n) {
                        op.push(n);
                        chars.next();
                    } else {
                        break;
                    }
                }
                words.push(op);
            }
            c => {
                has_word = true;
                word.push(c);
            }
        }
    }
    if has_word {
        words.push(word);
    }
    words
}

fn is_operator(word: &str) -> bool {
    word.chars().all(|c| "&|;><".contains(c))
}

/// Checks the `plinth` commands of one command line against `--help`:
/// the subcommand exists and has every flag used. What follows a bare `--`
/// is `plinth run`'s flags (`plinth slurm script ... -- RUN FLAGS`).
fn check_flags(text: &str) -> Vec<String> {
    let words = shell_words(text);
    let mut problems = Vec::new();
    let mut i = 0;
    while i < words.len() {
        let is_plinth = words[i] == "plinth" || words[i].ends_with("/plinth");
        i += 1;
        if !is_plinth {
            continue;
        }
        let mut path: Vec<String> = Vec::new();
        while i < words.len() && help(&path).subcommands.contains(&words[i]) {
            path.push(words[i].clone());
            i += 1;
        }
        // A command group (`plinth env`) needs one of its subcommands; only
        // the root takes flags of its own (`plinth --version`).
        let next = words.get(i).map(String::as_str).unwrap_or_default();
        let is_group = !help(&path).subcommands.is_empty();
        let root_flag = path.is_empty() && next.starts_with('-');
        if is_group && !root_flag {
            problems.push(format!(
                "`plinth {}` has no subcommand `{next}`",
                path.join(" ")
            ));
            continue;
        }
        let mut flags_of = path.clone();
        while i < words.len() && !is_operator(&words[i]) {
            let word = &words[i];
            i += 1;
            if word == "--" {
                flags_of = vec!["run".to_string()];
                continue;
            }
            let known = help(&flags_of);
            if let Some(long) = word.strip_prefix("--") {
                let name = long.split('=').next().unwrap_or_default();
                if !known.longs.contains_key(name) {
                    problems.push(format!(
                        "`plinth {}` has no flag `--{name}`",
                        flags_of.join(" ")
                    ));
                }
            } else if let Some(short) = word.strip_prefix('-') {
                let mut letters = short.chars();
                if let (Some(letter), None) = (letters.next(), letters.next())
                    && letter.is_ascii_alphabetic()
                    && !known.shorts.contains(&letter)
                {
                    problems.push(format!(
                        "`plinth {}` has no flag `-{letter}`",
                        flags_of.join(" ")
                    ));
                }
            }
        }
    }
    problems
}

// ---------------------------------------------------------------------------
// Running a chapter's commands.

/// What one command printed, whitespace runs taken as one.
fn normalise(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let (source, target) = (entry.path(), to.join(entry.file_name()));
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&source, &target);
        } else {
            std::fs::copy(&source, &target).unwrap();
        }
    }
}

/// A scratch directory for one chapter, holding a copy of `examples/`
/// (without the output of an earlier `examples/run.sh`).
fn scratch(chapter: &str) -> tempfile::TempDir {
    let prefix = format!("book-{}-", chapter.replace(['/', '.'], "-"));
    let dir = tempfile::Builder::new()
        .prefix(&prefix)
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .unwrap();
    let examples = workspace().join("examples");
    for entry in std::fs::read_dir(&examples).unwrap() {
        let entry = entry.unwrap();
        if entry.file_name() == "output" {
            continue;
        }
        let target = dir.path().join("examples").join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::create_dir_all(target.parent().unwrap()).unwrap();
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
    dir
}

/// Runs `text` with bash in `dir`; its exit status and output, or why it
/// did not end.
fn run_shell(text: &str, dir: &Path, model_url: &str) -> Result<(i32, String, String), String> {
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_plinth")).parent().unwrap();
    let path = std::env::var_os("PATH").unwrap_or_default();
    let path = std::env::join_paths(
        std::iter::once(bin_dir.to_path_buf()).chain(std::env::split_paths(&path)),
    )
    .unwrap();
    let stdout = dir.join(".book-stdout");
    let stderr = dir.join(".book-stderr");
    let mut command = Command::new("bash");
    command
        .args([
            "-o",
            "pipefail",
            "-c",
            &text.replace(BOOK_MODEL_URL, model_url),
        ])
        .current_dir(dir)
        .env("PATH", path)
        .env("PLINTH_CACHE_DIR", plugin_cache())
        .env("LC_ALL", "C")
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&stdout).unwrap())
        .stderr(std::fs::File::create(&stderr).unwrap());
    for name in CLEARED_ENV {
        command.env_remove(name);
    }
    // A command that forgets `--base-url` still reaches the mock.
    command.env("OPENAI_BASE_URL", model_url);
    let mut child = command
        .spawn()
        .map_err(|e| format!("cannot start bash: {e}"))?;
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > COMMAND_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("did not end within {COMMAND_TIMEOUT:?}"));
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let read = |path: &Path| String::from_utf8_lossy(&std::fs::read(path).unwrap()).into_owned();
    let (out, err) = (read(&stdout), read(&stderr));
    std::fs::remove_file(&stdout).unwrap();
    std::fs::remove_file(&stderr).unwrap();
    Ok((status.code().unwrap_or(-1), out, err))
}

/// Runs every command of `chapter` in order; the problems found.
fn run_chapter(chapter: &Chapter, model_url: &str) -> Vec<String> {
    let runs: Vec<&Block> = chapter
        .blocks
        .iter()
        .filter(|b| b.mode == Mode::Run)
        .collect();
    if runs.is_empty() {
        return Vec::new();
    }
    let dir = scratch(&chapter.name);
    let mut problems = Vec::new();
    for block in runs {
        for shown in &block.commands {
            let at = format!("{}:{}: $ {}", chapter.name, shown.line, shown.text);
            let (code, stdout, stderr) = match run_shell(&shown.text, dir.path(), model_url) {
                Ok(done) => done,
                Err(e) => {
                    problems.push(format!("{at}\n  {e}"));
                    continue;
                }
            };
            let printed: Vec<String> = stdout
                .lines()
                .chain(stderr.lines())
                .map(normalise)
                .collect();
            let mut wrong = Vec::new();
            if code != block.exit {
                wrong.push(format!("exit status {code}, the book says {}", block.exit));
            }
            for expected in &shown.output {
                let expected = normalise(expected);
                if !printed.iter().any(|line| line.contains(&expected)) {
                    wrong.push(format!("did not print `{expected}`"));
                }
            }
            if !wrong.is_empty() {
                problems.push(format!(
                    "{at}\n  {}\n  --- stdout ---\n{stdout}\n  --- stderr ---\n{stderr}",
                    wrong.join("\n  ")
                ));
            }
        }
    }
    problems
}

// ---------------------------------------------------------------------------
// The tests.

#[test]
fn every_console_command_in_the_book_runs_as_shown() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let server = runtime
        .block_on(MockServer::start(MockConfig {
            bench: BenchConfig {
                steps: MOCK_STEPS,
                reasoning: false,
            },
            ..MockConfig::default()
        }))
        .expect("starting the mock server");
    let model_url = server.base_url();
    let chapters = chapters();
    let mut problems = Vec::new();
    let mut ran = 0;
    for chapter in &chapters {
        ran += chapter
            .blocks
            .iter()
            .filter(|b| b.mode == Mode::Run)
            .map(|b| b.commands.len())
            .sum::<usize>();
        problems.extend(run_chapter(chapter, &model_url));
    }
    assert!(ran > 0, "the book shows no command to run");
    eprintln!("book: {ran} commands run");
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}

#[test]
fn every_flag_a_flags_block_uses_is_one_the_binary_has() {
    let mut problems = Vec::new();
    let mut checked = 0;
    for chapter in chapters() {
        for block in chapter.blocks.iter().filter(|b| b.mode == Mode::Flags) {
            for shown in &block.commands {
                checked += 1;
                for problem in check_flags(&shown.text) {
                    problems.push(format!("{}:{}: {problem}", chapter.name, shown.line));
                }
            }
        }
    }
    assert!(checked > 0, "no `console,flags` block in the book");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The flag checks catch what they are for (a check that cannot fail
/// proves nothing).
#[test]
fn the_flag_check_finds_unknown_flags_and_subcommands() {
    assert!(check_flags("plinth run --task x --max-iterations 3").is_empty());
    assert!(check_flags("plinth slurm script --shards 2 -- --prompts-file t.jsonl").is_empty());
    let problems = check_flags("plinth run --max-iteration 3 && plinth stats -z out.jsonl");
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert!(problems[0].contains("--max-iteration"), "{problems:?}");
    assert!(problems[1].contains("-z"), "{problems:?}");
    let problems = check_flags("plinth slurm script --shards 2 -- --no-such-run-flag");
    assert_eq!(problems.len(), 1, "{problems:?}");
    let problems = check_flags("plinth env chek examples");
    assert_eq!(problems.len(), 1, "{problems:?}");
}

#[test]
fn every_flag_of_every_subcommand_is_in_the_book_with_its_default() {
    let chapters = chapters();
    let book: String = chapters.iter().map(|c| c.text.as_str()).collect();
    let mentioned = |flag: &str| {
        book.match_indices(flag).any(|(at, _)| {
            !book[at + flag.len()..]
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        })
    };
    let mut problems = Vec::new();
    let commands = all_commands();
    assert!(
        commands.len() > 10,
        "subcommands read from --help: {commands:?}"
    );
    for path in &commands {
        for long in help(path).longs.keys() {
            if long == "help" || long == "version" {
                continue;
            }
            if !mentioned(&format!("--{long}")) {
                problems.push(format!(
                    "`plinth {} --{long}` is not in the book (docs/src/{FLAG_REFERENCE})",
                    path.join(" ")
                ));
            }
        }
    }

    let reference = chapters
        .iter()
        .find(|c| c.name == FLAG_REFERENCE)
        .unwrap_or_else(|| panic!("no docs/src/{FLAG_REFERENCE}"));
    let mut rows = 0;
    for (path, line, cells) in reference_rows(&reference.text) {
        let at = format!("{FLAG_REFERENCE}:{line}");
        let Some(long) = cells[0]
            .split(|c: char| c == '`' || c.is_whitespace() || c == ',')
            .find_map(|w| w.strip_prefix("--"))
        else {
            continue;
        };
        rows += 1;
        let Some(path) = path.as_ref() else {
            problems.push(format!("{at}: a flag row under no `plinth ...` heading"));
            continue;
        };
        let Some((_, default)) = help(path).longs.get(long) else {
            problems.push(format!(
                "{at}: `plinth {}` has no flag `--{long}`",
                path.join(" ")
            ));
            continue;
        };
        let written = cells[1].replace('`', "");
        let written = normalise(&written);
        let agrees = match default {
            None => written == "-",
            Some(value) => written == *value || (value.contains(' ') && written != "-"),
        };
        if !agrees {
            problems.push(format!(
                "{at}: `--{long}` defaults to {} in `plinth {} --help`, the book says `{written}`",
                default
                    .as_deref()
                    .map_or("nothing (-)".into(), |v| format!("`{v}`")),
                path.join(" ")
            ));
        }
    }
    assert!(rows > 50, "only {rows} flag rows in {FLAG_REFERENCE}");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The rows of the flag reference's tables: the command their `##` heading
/// names (`## plinth run`, or `## Global flags` for the root), their line
/// and their cells.
fn reference_rows(text: &str) -> Vec<(Option<Vec<String>>, usize, Vec<String>)> {
    let mut rows = Vec::new();
    let mut section: Option<Vec<String>> = None;
    for (i, line) in text.lines().enumerate() {
        if let Some(heading) = line.strip_prefix("## ") {
            section = if heading.to_lowercase().contains("global") {
                Some(Vec::new())
            } else {
                heading.split('`').nth(1).and_then(|code| {
                    let mut words = code.split_whitespace();
                    (words.next() == Some("plinth")).then(|| {
                        words
                            .filter(|w| !w.starts_with('['))
                            .map(String::from)
                            .collect()
                    })
                })
            };
            continue;
        }
        if !line.starts_with('|') {
            continue;
        }
        let cells = table_cells(line);
        if cells.len() >= 2 && cells[0].starts_with("`-") {
            rows.push((section.clone(), i + 1, cells));
        }
    }
    rows
}

/// A table row's cells, split on the `|`s that are not escaped.
fn table_cells(line: &str) -> Vec<String> {
    let mut cells = vec![String::new()];
    let mut chars = line.trim().trim_start_matches('|').chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'|') => {
                cells.last_mut().unwrap().push('|');
                chars.next();
            }
            '|' => cells.push(String::new()),
            c => cells.last_mut().unwrap().push(c),
        }
    }
    cells
        .iter()
        .map(|c| c.trim().to_string())
        .filter(|c| !c.is_empty())
        .collect()
}

#[test]
fn the_block_parser_reads_what_the_book_writes() {
    let text = "intro\n\n```console,exit=2\n$ plinth merge a.jsonl \\\n    -o b.jsonl\n  missing: 1\n...\n$ ls\n```\n\n\
                The fence ```` ```bash ```` in a sentence opens nothing.\n\n```console,flags\n$ plinth run --sandbox docker\n```\n";
    let blocks = parse_blocks(text).unwrap();
    assert_eq!(blocks.len(), 2);
    assert_eq!((blocks[0].mode, blocks[0].exit), (Mode::Run, 2));
    assert_eq!(blocks[0].commands.len(), 2);
    assert_eq!(
        blocks[0].commands[0].text,
        "plinth merge a.jsonl \\\n    -o b.jsonl"
    );
    assert_eq!(blocks[0].commands[0].output, ["  missing: 1"]);
    assert_eq!(blocks[0].commands[0].line, 4);
    assert_eq!(blocks[1].mode, Mode::Flags);

    let errors = parse_blocks("```sh\nplinth run --task x\n```\n").unwrap_err();
    assert!(
        errors[0].contains("outside a ```console block"),
        "{errors:?}"
    );
    let errors = parse_blocks("```console,sometimes\n$ ls\n```\n").unwrap_err();
    assert!(errors[0].contains("sometimes"), "{errors:?}");

    assert_eq!(
        shell_words("a 'b c' \"d\"&&e\\\n f>g"),
        ["a", "b c", "d", "&&", "e", "f", ">", "g"]
    );
    assert_eq!(
        table_cells("| `--tool NAME\\|FILE.wasm` | - | add |"),
        ["`--tool NAME|FILE.wasm`", "-", "add"]
    );
    assert_eq!(
        default_in("Most model calls per task (0: no limit) [default: 15]"),
        Some("15".into())
    );
    let help = parse_help(
        "Usage: plinth report [OPTIONS] <INPUT>\n\nOptions:\n  -o, --output <OUTPUT>\n          The HTML file [default: the input]\n\n      --json\n          Print JSON\n",
    );
    assert_eq!(help.longs["output"], (Some('o'), Some("the input".into())));
    assert_eq!(help.longs["json"], (None, None));
}
