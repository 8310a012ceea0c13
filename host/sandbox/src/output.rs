//! What the model gets to see of a command's output.
//!
//! Every backend feeds raw bytes through the same [`OutputPolicy`], so the
//! local, Docker and pool sandboxes truncate, strip and redact identically.

/// How raw command output becomes an observation.
#[derive(Debug, Clone)]
pub struct OutputPolicy {
    /// Most bytes of output kept; beyond it the head and tail are kept with a
    /// marker saying how much was cut.
    pub max_bytes: usize,
    /// Values (of secret environment variables) replaced by `[REDACTED]`.
    pub secrets: Vec<String>,
}

impl Default for OutputPolicy {
    fn default() -> Self {
        Self {
            max_bytes: plinth_record::defaults::MAX_OUTPUT_BYTES,
            secrets: Vec::new(),
        }
    }
}

impl OutputPolicy {
    /// Bytes a backend should keep while reading: enough for the head and the
    /// tail. Backends keep the first half and a rolling last half of this, so
    /// a command printing gigabytes costs bounded memory.
    pub(crate) fn capture_limit(&self) -> usize {
        // Secrets and escapes are removed after capture, so keep some slack.
        self.max_bytes.saturating_mul(2).max(4096)
    }

    /// Turns captured output into what the model sees. `dropped` is how many
    /// bytes the backend already discarded from the middle while capturing.
    /// Returns the text and whether anything was cut.
    pub fn render(&self, captured: &[u8], dropped: u64) -> (String, bool) {
        let text = String::from_utf8_lossy(captured);
        let mut text = strip_ansi(&text);
        for secret in self.secrets.iter().filter(|s| !s.is_empty()) {
            if text.contains(secret.as_str()) {
                text = text.replace(secret.as_str(), "[REDACTED]");
            }
        }
        let total = text.len() as u64 + dropped;
        if total <= self.max_bytes as u64 {
            return (text, false);
        }
        let half = self.max_bytes / 2;
        let head_end = text.floor_char_boundary(half);
        let tail_start = text.ceil_char_boundary(text.len().saturating_sub(half).max(head_end));
        let cut = total - (head_end + (text.len() - tail_start)) as u64;
        let rendered = format!(
            "{}\n[... {cut} bytes of output cut; showing the first and last {half} bytes ...]\n{}",
            &text[..head_end],
            &text[tail_start..]
        );
        (rendered, true)
    }
}

impl OutputPolicy {
    /// What the model sees of a tool plugin's result: secrets redacted, and
    /// at most the output cap plus [`RESULT_FRAMING`] bytes, else the head
    /// and tail with a marker, as for a command. A plugin cannot send the
    /// model more, whatever it returns; a result that frames a command's
    /// (already cut) output is left whole.
    pub fn tool_result(&self, content: String) -> String {
        let over = content.len() > self.max_bytes.saturating_add(RESULT_FRAMING);
        let secret = self
            .secrets
            .iter()
            .any(|s| !s.is_empty() && content.contains(s.as_str()));
        if !over && !secret {
            return content;
        }
        let policy = Self {
            max_bytes: if over { self.max_bytes } else { usize::MAX },
            secrets: self.secrets.clone(),
        };
        policy.render(content.as_bytes(), 0).0
    }
}

/// Room a tool result has beyond the output cap for its own framing (an exit
/// code, a JSON wrapper) around a command's output.
const RESULT_FRAMING: usize = 2048;

/// Keeps the first `limit/2` bytes and a rolling window of the last `limit/2`
/// bytes of a stream, counting what falls in between.
#[derive(Debug)]
pub struct HeadTail {
    half: usize,
    head: Vec<u8>,
    tail: std::collections::VecDeque<u8>,
    dropped: u64,
}

impl HeadTail {
    pub fn new(limit: usize) -> Self {
        Self {
            half: limit / 2,
            head: Vec::new(),
            tail: std::collections::VecDeque::new(),
            dropped: 0,
        }
    }

    pub fn push(&mut self, mut bytes: &[u8]) {
        if self.head.len() < self.half {
            let take = (self.half - self.head.len()).min(bytes.len());
            self.head.extend_from_slice(&bytes[..take]);
            bytes = &bytes[take..];
        }
        self.tail.extend(bytes);
        if self.tail.len() > self.half {
            let excess = self.tail.len() - self.half;
            self.tail.drain(..excess);
            self.dropped += excess as u64;
        }
    }

    /// The kept bytes and how many were dropped from the middle.
    pub fn finish(self) -> (Vec<u8>, u64) {
        let mut all = self.head;
        all.extend(self.tail);
        (all, self.dropped)
    }
}

/// Removes ANSI escape sequences (colours, cursor moves, OSC titles): they are
/// noise to a model and break byte-exact comparisons of outputs.
pub fn strip_ansi(s: &str) -> String {
    if !s.contains('\u{1b}') {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\u{1b}' {
            out.push(c);
            continue;
        }
        match chars.peek() {
            // CSI: ESC [ params... final byte in @..~
            Some('[') => {
                chars.next();
                for c in chars.by_ref() {
                    if ('@'..='~').contains(&c) {
                        break;
                    }
                }
            }
            // OSC: ESC ] ... terminated by BEL or ESC \
            Some(']') => {
                chars.next();
                while let Some(c) = chars.next() {
                    if c == '\u{7}' {
                        break;
                    }
                    if c == '\u{1b}' && chars.peek() == Some(&'\\') {
                        chars.next();
                        break;
                    }
                }
            }
            // Two-byte sequences such as ESC ( B or ESC =.
            Some(_) => {
                chars.next();
            }
            None => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_colours_and_titles() {
        assert_eq!(strip_ansi("\u{1b}[1;31mred\u{1b}[0m ok"), "red ok");
        assert_eq!(strip_ansi("\u{1b}]0;title\u{7}text"), "text");
        assert_eq!(strip_ansi("plain"), "plain");
    }

    #[test]
    fn keeps_head_and_tail_with_a_marker() {
        let policy = OutputPolicy {
            max_bytes: 10,
            secrets: vec![],
        };
        let (text, cut) = policy.render(b"0123456789abcdefghij", 0);
        assert!(cut);
        assert!(text.starts_with("01234\n"), "{text}");
        assert!(text.ends_with("\nfghij"), "{text}");
        assert!(text.contains("10 bytes of output cut"), "{text}");
    }

    #[test]
    fn tool_results_are_capped_and_redacted() {
        let policy = OutputPolicy {
            max_bytes: 100,
            secrets: vec!["sk-secret".into()],
        };
        // Within the cap and its framing room: as is.
        let framed = "x".repeat(100 + RESULT_FRAMING);
        assert_eq!(policy.tool_result(framed.clone()), framed);
        // A flood: head and tail with the marker, never more than the cap.
        let flood = "y".repeat(48 << 20);
        let shown = policy.tool_result(flood);
        assert!(shown.len() < 200, "{}", shown.len());
        assert!(shown.contains("bytes of output cut"), "{shown}");
        // A secret is redacted even in a short result.
        assert_eq!(policy.tool_result("key sk-secret".into()), "key [REDACTED]");
    }

    #[test]
    fn counts_bytes_dropped_while_capturing() {
        let mut ht = HeadTail::new(8);
        for chunk in [b"abcd".as_slice(), b"efgh", b"ijkl"] {
            ht.push(chunk);
        }
        let (kept, dropped) = ht.finish();
        assert_eq!(kept, b"abcdijkl");
        assert_eq!(dropped, 4);
        let policy = OutputPolicy {
            max_bytes: 8,
            secrets: vec![],
        };
        let (text, cut) = policy.render(&kept, dropped);
        assert!(cut);
        assert!(text.contains("4 bytes of output cut"), "{text}");
    }

    #[test]
    fn redacts_secrets() {
        let policy = OutputPolicy {
            max_bytes: 100,
            secrets: vec!["sk-123".into()],
        };
        assert_eq!(policy.render(b"key=sk-123", 0).0, "key=[REDACTED]");
    }

    #[test]
    fn never_splits_a_character() {
        let policy = OutputPolicy {
            max_bytes: 5,
            secrets: vec![],
        };
        let (text, _) = policy.render("ééééééééé".as_bytes(), 0);
        assert!(text.contains("bytes of output cut"));
    }
}
