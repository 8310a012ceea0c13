//! Token records: what one model call sampled, as a canonical record keeps
//! it on the assistant message the call produced (`--capture-tokens`), and
//! what a record says of its training data. Assembling records into training
//! samples is [`crate::training`]'s.

use serde::{Deserialize, Serialize};

/// Mask of a position the trainer must not learn from (atroposlib's, and the
/// `ignore_index` of PyTorch's cross-entropy); a learned position's mask is
/// its token id.
pub const MASKED: i64 = -100;
/// Logprob written for a masked position, as atroposlib's `ManagedServer`
/// does, so `inference_logprobs` rows line up with `tokens`.
pub const MASKED_LOGPROB: f64 = 1.0;

/// What one model call sampled, on the assistant message it produced.
///
/// To keep records small the prompt is stored as the number of leading ids it
/// shares with the previous recorded call's prompt + completion, followed by
/// the ids after them: under prefix consistency that is only the new tool
/// output and template tokens of the turn.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenRecord {
    /// Leading prompt ids equal to the previous recorded call's prompt +
    /// completion (0 on the first call).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub prompt_shared: usize,
    /// The prompt ids after the shared ones.
    pub prompt_ids: Vec<u32>,
    /// The ids the model sampled.
    pub completion_ids: Vec<u32>,
    /// One logprob per completion id (absent when the server sent none, or
    /// not one per id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logprobs: Option<Vec<f64>>,
    /// Why sampling stopped (`stop`, `length`, `tool_calls`, ...).
    #[serde(default)]
    pub finish_reason: Option<String>,
    /// Where the ids came from; omitted for the server's, so records of
    /// runs without `--tokenizer` are as they were.
    #[serde(default, skip_serializing_if = "TokenSource::is_sampled")]
    pub source: TokenSource,
}

/// Where a call's ids came from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenSource {
    /// The server returned them: what the model sampled.
    #[default]
    Sampled,
    /// The server returned none; `--tokenizer` computed them from the text.
    Recomputed,
    /// The server returned the completion's ids (and logprobs) but not the
    /// prompt's, as llama.cpp does (its `logprobs` entries carry ids; no
    /// prompt ids are sent): `prompt_ids` is empty and the call is kept for
    /// what it sampled, but cannot be trained on (`--tokenizer` computes
    /// both from the text instead).
    CompletionOnly,
}

impl TokenSource {
    fn is_sampled(&self) -> bool {
        *self == Self::Sampled
    }
}

/// Where a sample's ids came from: its calls' [`TokenSource`]s together.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SampleSource {
    #[default]
    Sampled,
    Recomputed,
    /// Some calls' ids are the server's, some recomputed.
    Mixed,
}

impl SampleSource {
    pub fn is_sampled(&self) -> bool {
        *self == Self::Sampled
    }

    /// The source of a sample holding ids from `self` and from `other`.
    fn and(self, other: Self) -> Self {
        if self == other { self } else { Self::Mixed }
    }
}

/// The sources of several samples or calls together (the server's when
/// there are none).
impl FromIterator<SampleSource> for SampleSource {
    fn from_iter<I: IntoIterator<Item = SampleSource>>(sources: I) -> Self {
        sources.into_iter().reduce(Self::and).unwrap_or_default()
    }
}

impl From<TokenSource> for SampleSource {
    fn from(source: TokenSource) -> Self {
        match source {
            // Its ids are the server's; training never assembles it (no
            // prompt), so no sample has this source.
            TokenSource::Sampled | TokenSource::CompletionOnly => Self::Sampled,
            TokenSource::Recomputed => Self::Recomputed,
        }
    }
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// What a canonical record says of its training data (`training`): the
/// samples themselves are assembled again from the messages when needed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "assembly", rename_all = "snake_case")]
pub enum TrainingNote {
    /// One sequence of `tokens` ids, `trained` of them sampled by the model.
    Sequence {
        tokens: usize,
        trained: usize,
        /// Omitted when every id is the server's.
        #[serde(default, skip_serializing_if = "SampleSource::is_sampled")]
        source: SampleSource,
    },
    /// One sample per call.
    PerTurn {
        samples: usize,
        reason: String,
        #[serde(default, skip_serializing_if = "SampleSource::is_sampled")]
        source: SampleSource,
    },
    Unavailable {
        reason: String,
    },
}
