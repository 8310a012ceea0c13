//! End-of-command markers: how plinth finds where one command's output ends
//! in a stream that outlives it (the container command server, a persistent
//! shell session). The marker line is `\x1e` + [`MARKER`] + a nonce + `:` +
//! a value (an exit code, or a word the caller defines) + `\n`. The nonce is
//! fresh for every command and drawn from the kernel's random source, so no
//! command can print the marker of the command it runs in, by accident or
//! on purpose.

use std::hash::{BuildHasher, RandomState};

use super::output::HeadTail;

/// Text between the record separator and the nonce.
pub(crate) const MARKER: &str = "plinth-exit-";

/// 128 random bits, hex: a value no command can predict.
pub(crate) fn nonce() -> String {
    let mut bytes = [0u8; 16];
    // SAFETY: getrandom writes at most `bytes.len()` bytes into the buffer it
    // is given, which lives for the call.
    let filled = unsafe { libc::getrandom(bytes.as_mut_ptr().cast(), bytes.len(), 0) };
    if filled != bytes.len() as isize {
        // A kernel without getrandom(2): RandomState is seeded from the OS
        // too (and stepped per instance), so this is still unpredictable.
        let now = std::time::SystemTime::now();
        bytes[..8].copy_from_slice(&RandomState::new().hash_one(now).to_le_bytes());
        bytes[8..].copy_from_slice(&RandomState::new().hash_one(now).to_le_bytes());
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Finds the end marker in an output stream, passing everything else on.
pub struct MarkerScan {
    needle: Vec<u8>,
    /// Bytes that may be the start of the marker, held back until known.
    pending: Vec<u8>,
    done: bool,
}

impl MarkerScan {
    pub fn new(nonce: &str) -> Self {
        let mut needle = vec![0x1e];
        needle.extend_from_slice(MARKER.as_bytes());
        needle.extend_from_slice(nonce.as_bytes());
        needle.push(b':');
        Self {
            needle,
            pending: Vec::new(),
            done: false,
        }
    }

    /// Feeds one chunk; once the whole marker line is in, returns its value
    /// (the text after the nonce's `:`). Output before the marker, and after
    /// it in the same chunk, goes to `sink`.
    pub fn feed(&mut self, bytes: &[u8], sink: &mut HeadTail) -> Option<String> {
        if self.done {
            sink.push(bytes);
            return None;
        }
        self.pending.extend_from_slice(bytes);
        if let Some(at) = find(&self.pending, &self.needle) {
            let after = at + self.needle.len();
            // Wait for the rest of the line.
            let end = self.pending[after..].iter().position(|b| *b == b'\n')?;
            let value = String::from_utf8_lossy(&self.pending[after..after + end]).into_owned();
            sink.push(&self.pending[..at]);
            sink.push(&self.pending[after + end + 1..]);
            self.pending = Vec::new();
            self.done = true;
            return Some(value);
        }
        // Everything but a possible start of the marker can go on.
        let keep = self.needle.len() - 1;
        if self.pending.len() > keep {
            let cut = self.pending.len() - keep;
            sink.push(&self.pending[..cut]);
            self.pending.drain(..cut);
        }
        None
    }

    /// Passes on what was held back when the stream ended without a marker.
    pub fn finish(self, sink: &mut HeadTail) {
        if !self.done {
            sink.push(&self.pending);
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan_all(chunks: &[&[u8]]) -> (String, Option<String>) {
        let mut scan = MarkerScan::new("abc");
        let mut sink = HeadTail::new(1 << 20);
        let mut value = None;
        for chunk in chunks {
            if let Some(v) = scan.feed(chunk, &mut sink) {
                value = Some(v);
            }
        }
        scan.finish(&mut sink);
        let (bytes, _) = sink.finish();
        (String::from_utf8(bytes).unwrap(), value)
    }

    #[test]
    fn marker_is_found_and_removed_even_when_split() {
        let whole = b"out\n\x1eplinth-exit-abc:3\nlate\n";
        let expected = ("out\nlate\n".to_string(), Some("3".to_string()));
        assert_eq!(scan_all(&[whole]), expected);
        for split in 1..whole.len() {
            let (a, b) = whole.split_at(split);
            assert_eq!(scan_all(&[a, b]), expected, "split at {split}");
        }
    }

    #[test]
    fn marker_after_output_without_a_newline() {
        assert_eq!(
            scan_all(&[b"no newline\x1eplinth-exit-abc:0\n"]),
            ("no newline".to_string(), Some("0".to_string()))
        );
    }

    #[test]
    fn other_nonces_and_no_marker_pass_through() {
        let text = b"\x1eplinth-exit-xyz:0\nplain";
        assert_eq!(
            scan_all(&[text]),
            (String::from_utf8(text.to_vec()).unwrap(), None)
        );
    }

    #[test]
    fn nonces_are_long_and_differ() {
        let (a, b) = (nonce(), nonce());
        assert_eq!(a.len(), 32);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }
}
