//! Actions written in plain text, for models served without tool-call
//! parsing: fenced ```bash blocks (mini-swe-agent's convention) and
//! `<tool_call>{"name": ..., "arguments": {...}}</tool_call>` blocks (the
//! Hermes convention).
//!
//! A crate of its own because two sides must read the same text the same
//! way: the agent (`plinth-agent`, `--text-actions`) turns a reply's text
//! into the calls it runs and records, and formatters (the `hermes`
//! component) tell from a recorded reply whether its calls are the ones its
//! text wrote ([`written_in`]), to show what the model wrote rather than
//! calls it never wrote.

use serde_json::Value;

/// A call found in text: a tool name and its arguments as JSON text.
#[derive(Debug, Clone, PartialEq)]
pub struct TextCall {
    pub name: String,
    pub arguments: String,
}

/// Finds every action in `content`, in order. Fenced bash blocks become calls
/// to `shell_tool` with `{"command": ...}`.
///
/// Linear in the length of `content`: the next fence and the next tag are
/// each searched for once and kept until the parse passes them (searching
/// again at every action made a reply of many actions quadratic; found by
/// fuzzing).
pub fn parse(content: &str, shell_tool: &str) -> Vec<TextCall> {
    const TAG: &str = "<tool_call>";
    const END_TAG: &str = "</tool_call>";
    let mut calls = Vec::new();
    // Where the parse is, and the next fence and tag at or after it
    // (absolute offsets; `None` once there is none left).
    let mut at = 0;
    let mut fence = find_bash_fence(content, 0);
    let mut tag = content.find(TAG);
    loop {
        if fence.is_some_and(|(start, _)| start < at) {
            fence = find_bash_fence(content, at);
        }
        if tag.is_some_and(|t| t < at) {
            tag = content[at..].find(TAG).map(|t| at + t);
        }
        match (fence, tag) {
            (Some((start, body_start)), t) if t.is_none_or(|t| start < t) => {
                let body = &content[body_start..];
                let Some(end) = body.find("```") else { break };
                let command = body[..end].trim_end_matches('\n').to_string();
                calls.push(TextCall {
                    name: shell_tool.to_string(),
                    arguments: serde_json::json!({ "command": command }).to_string(),
                });
                at = body_start + end + 3;
            }
            (_, Some(t)) => {
                let body_start = t + TAG.len();
                let Some(end) = content[body_start..].find(END_TAG) else {
                    break;
                };
                calls.push(parse_tool_call(
                    content[body_start..body_start + end].trim(),
                ));
                at = body_start + end + END_TAG.len();
            }
            _ => break,
        }
    }
    calls
}

/// Whether `calls` (name, arguments) are exactly the actions `content`
/// writes, in order, and there is at least one: a reply whose calls the
/// agent parsed from its text, in text mode. A fenced block's call may have
/// any name (the agent gives it that of its shell tool, which a formatter
/// does not know).
pub fn written_in(content: &str, calls: &[(&str, &str)]) -> bool {
    // No tool is named with a NUL: this stands for "the shell tool".
    const SHELL: &str = "\0shell";
    let written = parse(content, SHELL);
    !written.is_empty()
        && written.len() == calls.len()
        && written.iter().zip(calls).all(|(w, (name, arguments))| {
            (w.name == *name || w.name == SHELL) && w.arguments == *arguments
        })
}

/// `(start of the fence, start of its body)` of the first ```bash or ```sh
/// block in `text` at or after `from`. The end of a fence's line is looked
/// up once per line, not once per fence on it.
fn find_bash_fence(text: &str, mut from: usize) -> Option<(usize, usize)> {
    let mut line_end = 0;
    while let Some(i) = text[from..].find("```") {
        let start = from + i;
        let lang_start = start + 3;
        if line_end < lang_start {
            // No newline after this fence means none after any later one.
            line_end = lang_start + text[lang_start..].find('\n')?;
        }
        let lang = text[lang_start..line_end].trim();
        if matches!(lang, "bash" | "sh" | "shell" | "mswea_bash_command") {
            return Some((start, line_end + 1));
        }
        from = lang_start;
    }
    None
}

/// A `<tool_call>` body. One that does not parse is kept as a call with its
/// raw text as arguments, so the model is told its JSON was malformed.
fn parse_tool_call(body: &str) -> TextCall {
    match serde_json::from_str::<Value>(body) {
        Ok(Value::Object(obj)) => {
            let name = obj
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            let arguments = match obj.get("arguments") {
                Some(Value::String(s)) => s.clone(),
                Some(v) => v.to_string(),
                None => "{}".to_string(),
            };
            TextCall { name, arguments }
        }
        _ => TextCall {
            name: String::new(),
            arguments: body.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bash_fences_and_tool_call_tags_in_order() {
        let text = "Let me look.\n```bash\nls -la\n```\nthen\n<tool_call>\n{\"name\": \"terminal\", \"arguments\": {\"command\": \"pwd\"}}\n</tool_call>";
        let calls = parse(text, "terminal");
        assert_eq!(
            calls,
            vec![
                TextCall {
                    name: "terminal".into(),
                    arguments: r#"{"command":"ls -la"}"#.into()
                },
                TextCall {
                    name: "terminal".into(),
                    arguments: r#"{"command":"pwd"}"#.into()
                },
            ]
        );
    }

    #[test]
    fn calls_written_in_the_text_are_told_from_others() {
        let text = "Let me look.\n```bash\nls -la\n```\n<tool_call>\n{\"name\": \"editor\", \"arguments\": {\"path\": \"a\"}}\n</tool_call>";
        let ls = ("terminal", r#"{"command":"ls -la"}"#);
        let edit = ("editor", r#"{"path":"a"}"#);
        assert!(written_in(text, &[ls, edit]));
        assert!(written_in(text, &[("bash", ls.1), edit]));
        // Fewer, more, other calls, other names for a tag's call, or none.
        assert!(!written_in(text, &[ls]));
        assert!(!written_in(text, &[ls, edit, ls]));
        assert!(!written_in(text, &[edit, ls]));
        assert!(!written_in(text, &[ls, ("terminal", edit.1)]));
        assert!(!written_in(
            text,
            &[("terminal", r#"{"command": "ls -la"}"#), edit]
        ));
        assert!(!written_in("no actions", &[]));
        assert!(!written_in("no actions", &[ls]));
    }

    #[test]
    fn other_fences_are_not_actions() {
        assert!(parse("```python\nprint(1)\n```", "terminal").is_empty());
        assert!(parse("no actions here", "terminal").is_empty());
    }

    #[test]
    fn malformed_tool_call_is_kept_raw() {
        let calls = parse("<tool_call>{not json</tool_call>", "terminal");
        assert_eq!(calls[0].name, "");
        assert_eq!(calls[0].arguments, "{not json");
    }

    #[test]
    fn multiline_commands_keep_their_lines() {
        let calls = parse("```bash\ncd /tmp\necho hi\n```", "terminal");
        assert_eq!(calls[0].arguments, r#"{"command":"cd /tmp\necho hi"}"#);
    }

    /// The parse as first written (every search from the current position,
    /// quadratic in the number of actions): the reference the linear one
    /// must agree with.
    fn reference(content: &str, shell_tool: &str) -> Vec<TextCall> {
        fn fence(text: &str) -> Option<(usize, usize)> {
            let mut from = 0;
            while let Some(i) = text[from..].find("```") {
                let start = from + i;
                let after = &text[start + 3..];
                let line_end = after.find('\n')?;
                if matches!(
                    after[..line_end].trim(),
                    "bash" | "sh" | "shell" | "mswea_bash_command"
                ) {
                    return Some((start, start + 3 + line_end + 1));
                }
                from = start + 3;
            }
            None
        }
        let mut calls = Vec::new();
        let mut rest = content;
        loop {
            match (fence(rest), rest.find("<tool_call>")) {
                (Some((start, body_start)), t) if t.is_none_or(|t| start < t) => {
                    let body = &rest[body_start..];
                    let Some(end) = body.find("```") else { break };
                    let command = body[..end].trim_end_matches('\n').to_string();
                    calls.push(TextCall {
                        name: shell_tool.to_string(),
                        arguments: serde_json::json!({ "command": command }).to_string(),
                    });
                    rest = &body[end + 3..];
                }
                (_, Some(t)) => {
                    let body = &rest[t + "<tool_call>".len()..];
                    let Some(end) = body.find("</tool_call>") else {
                        break;
                    };
                    calls.push(parse_tool_call(body[..end].trim()));
                    rest = &body[end + "</tool_call>".len()..];
                }
                _ => break,
            }
        }
        calls
    }

    #[test]
    fn the_linear_parse_agrees_with_the_reference_on_every_mix_of_pieces() {
        const PIECES: [&str; 12] = [
            "```bash\n",
            "```\n",
            "```",
            "```sh \n",
            "```py\n",
            "<tool_call>",
            "</tool_call>",
            r#"{"name": "t", "arguments": {"command": "x"}}"#,
            "ls\n",
            "\n",
            "a b",
            "`",
        ];
        // A fixed xorshift stream: the same 20,000 texts on every run.
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..20_000 {
            let mut text = String::new();
            for _ in 0..(state % 14) {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                text.push_str(PIECES[(state % PIECES.len() as u64) as usize]);
            }
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            assert_eq!(parse(&text, "sh"), reference(&text, "sh"), "{text:?}");
        }
    }
}
