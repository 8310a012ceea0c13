//! Faults injected at a configurable rate in place of replies, the ways real endpoints and
//! the proxies in front of them fail: rate limits, server errors, and 200s that cannot be
//! used (a body cut short, an error object, no choices) and dropped connections. The kinds
//! and the seeded choice follow `pick_fault` in `shared/bench/mock_llm.py`.
//!
//! A fault is chosen before the script is consulted, so it never uses up a scripted
//! attempt: the same conversation gets the same replies with faults as without, only
//! later.

use serde::Deserialize;

/// One kind of injected failure.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Fault {
    /// 429 with `Retry-After: 1`.
    RateLimited,
    /// 500.
    ServerError,
    /// 503.
    Unavailable,
    /// 200 with the first half of a completion's body.
    Truncated,
    /// 200 whose body is `{"error": {...}}` (as proxies report upstream failures).
    ErrorObject,
    /// 200 with a well-formed completion holding no choices.
    EmptyChoices,
    /// The connection is closed without an answer.
    Dropped,
    /// The status line, the headers and half the body, then the connection is closed.
    DroppedMidReply,
}

impl Fault {
    pub const ALL: [Fault; 8] = [
        Fault::RateLimited,
        Fault::ServerError,
        Fault::Unavailable,
        Fault::Truncated,
        Fault::ErrorObject,
        Fault::EmptyChoices,
        Fault::Dropped,
        Fault::DroppedMidReply,
    ];
}

/// Which share of chat requests gets a fault, and of which kinds.
#[derive(Clone, Debug, PartialEq)]
pub struct Faults {
    /// 0 (never) to 1 (every chat request).
    pub rate: f64,
    /// Chosen among uniformly; empty means none.
    pub kinds: Vec<Fault>,
    /// The same seed faults the same requests (by their serial number), so runs repeat.
    pub seed: u64,
}

impl Default for Faults {
    fn default() -> Self {
        Self {
            rate: 0.0,
            kinds: Fault::ALL.to_vec(),
            seed: 7,
        }
    }
}

impl Faults {
    /// Every kind at `rate`.
    pub fn at_rate(rate: f64) -> Self {
        Self {
            rate,
            ..Self::default()
        }
    }

    /// The fault for the chat request with this serial number, if it gets one.
    pub(crate) fn pick(&self, serial: u64) -> Option<Fault> {
        if self.kinds.is_empty() || self.rate <= 0.0 {
            return None;
        }
        let roll = splitmix64(self.seed ^ serial.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        // The top 53 bits as a fraction in [0, 1).
        let fraction = (roll >> 11) as f64 / (1u64 << 53) as f64;
        if fraction >= self.rate {
            return None;
        }
        let which = splitmix64(roll) % self.kinds.len() as u64;
        self.kinds.get(usize::try_from(which).ok()?).copied()
    }
}

/// A small, well-mixed hash (no `rand` dependency for a test server).
fn splitmix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rate_and_the_kinds_are_respected() {
        let faults = Faults::at_rate(0.3);
        let picked: Vec<Fault> = (1..=10_000).filter_map(|s| faults.pick(s)).collect();
        assert!((2_700..3_300).contains(&picked.len()), "{}", picked.len());
        for kind in Fault::ALL {
            assert!(picked.contains(&kind), "{kind:?} never picked");
        }
        // Seeded: the same requests again.
        assert_eq!(
            picked,
            (1..=10_000)
                .filter_map(|s| faults.pick(s))
                .collect::<Vec<_>>()
        );
        assert_eq!(Faults::default().pick(1), None);
        let only = Faults {
            rate: 1.0,
            kinds: vec![Fault::Dropped],
            seed: 1,
        };
        assert!((1..100).all(|s| only.pick(s) == Some(Fault::Dropped)));
    }
}
