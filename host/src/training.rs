//! Training data from what the server sampled (`--capture-tokens`).
//!
//! A trainer must see the ids the policy actually produced: ids rebuilt from
//! the text drift from them (a chat template renders an earlier turn
//! differently from how it was sampled, drops its reasoning, or a tokenizer
//! merges differently across a boundary). So each assistant message records
//! its call's ids as the server returned them ([`TokenRecord`]), and a run's
//! calls are assembled into training samples from those ids alone:
//!
//! - when every call's prompt starts with the previous call's prompt and
//!   completion (prefix consistency), one sequence: the last call's prompt and
//!   completion, with masks on exactly the spans the model sampled (every
//!   call's completion) and [`MASKED`] on the rest (system, user, tool and
//!   template tokens);
//! - when it does not, one sample per call, and the record says why;
//! - when the server returned no ids, no samples, and the record says so.
//!
//! Nothing here tokenizes text. With `--tokenizer`, a call the server
//! returned no ids for is recorded with ids recomputed from its text
//! ([`crate::tokenize`]) instead, flagged [`TokenSource::Recomputed`], and
//! every sample, note and scored group built from them says so: they are
//! what the template and tokenizer give, not what the model sampled, and
//! come without logprobs. Server ids always win; a run with both kinds says
//! it is [`SampleSource::Mixed`].

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::model::ModelReply;
use crate::tokenize::CallIds;
use crate::trajectory::{Message, Role};

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
            TokenSource::Sampled => Self::Sampled,
            TokenSource::Recomputed => Self::Recomputed,
        }
    }
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// Records a run's calls one after another, each against the one before.
#[derive(Debug, Default)]
pub(crate) struct TokenChain {
    /// The previous recorded call's prompt + completion.
    previous: Vec<u32>,
    /// Calls made so far.
    calls: usize,
    /// The first call whose ids could not be recomputed, and why.
    not_recomputed: Option<String>,
}

impl TokenChain {
    /// The record of `reply`'s call; `None` when the server sent no ids.
    pub(crate) fn record(&mut self, reply: &ModelReply) -> Option<TokenRecord> {
        self.calls += 1;
        let (Some(prompt), Some(completion)) =
            (&reply.prompt_token_ids, &reply.completion_token_ids)
        else {
            return None;
        };
        let logprobs = reply
            .logprobs
            .clone()
            .filter(|logprobs| logprobs.len() == completion.len());
        Some(self.push(
            prompt,
            completion.clone(),
            logprobs,
            reply.finish_reason.clone(),
            TokenSource::Sampled,
        ))
    }

    /// The record of the last call (which [`Self::record`] found without
    /// ids) from ids the tokenizer computed.
    pub(crate) fn recomputed(&mut self, ids: CallIds, reply: &ModelReply) -> TokenRecord {
        self.push(
            &ids.prompt,
            ids.completion,
            None,
            reply.finish_reason.clone(),
            TokenSource::Recomputed,
        )
    }

    /// Notes that the last call's ids could not be recomputed either.
    pub(crate) fn not_recomputed(&mut self, why: &str) {
        if self.not_recomputed.is_none() {
            self.not_recomputed = Some(format!(
                "call {}: the server returned no token ids, and recomputing them failed: {why}",
                self.calls
            ));
        }
    }

    /// What the record says of `assembly`: an unavailable one says why
    /// recomputing the missing ids failed, when it did.
    pub(crate) fn note(&self, assembly: &Assembly) -> TrainingNote {
        match (assembly, &self.not_recomputed) {
            (Assembly::Unavailable { .. }, Some(reason)) => TrainingNote::Unavailable {
                reason: reason.clone(),
            },
            _ => assembly.note(),
        }
    }

    fn push(
        &mut self,
        prompt: &[u32],
        completion: Vec<u32>,
        logprobs: Option<Vec<f64>>,
        finish_reason: Option<String>,
        source: TokenSource,
    ) -> TokenRecord {
        let shared = common_prefix(&self.previous, prompt);
        self.previous = prompt.to_vec();
        self.previous.extend_from_slice(&completion);
        TokenRecord {
            prompt_shared: shared,
            prompt_ids: prompt[shared..].to_vec(),
            completion_ids: completion,
            logprobs,
            finish_reason,
            source,
        }
    }
}

fn common_prefix(a: &[u32], b: &[u32]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

/// One training sample in the shape trainers read (atroposlib's
/// `ScoredDataGroup` rows): `masks` and `logprobs` are as long as `tokens`.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub tokens: Vec<u32>,
    /// [`MASKED`], or the token id where the trainer learns.
    pub masks: Vec<i64>,
    /// The sampling logprob where the trainer learns, [`MASKED_LOGPROB`]
    /// elsewhere; absent when a call came without logprobs.
    pub logprobs: Option<Vec<f64>>,
    pub source: SampleSource,
}

/// A trajectory's calls assembled for training.
#[derive(Debug, Clone, PartialEq)]
pub enum Assembly {
    /// Prefix consistency held: one sequence covering every call.
    Sequence(Sample),
    /// It did not: one sample per call, and why.
    PerTurn {
        samples: Vec<Sample>,
        reason: String,
    },
    /// No samples: no call, or a call without ids.
    Unavailable { reason: String },
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

/// One call's ids, the prompt rebuilt from its record.
struct Call {
    prompt: Vec<u32>,
    completion: Vec<u32>,
    logprobs: Option<Vec<f64>>,
    source: TokenSource,
    /// The prompt extends the previous call's prompt + completion.
    extends: bool,
    /// Where it parts from them (when it does not extend them).
    shared: usize,
    previous_len: usize,
}

/// Each assistant message's call, or why one is missing.
fn calls(messages: &[Message]) -> Result<Vec<Call>, String> {
    let mut calls: Vec<Call> = Vec::new();
    let mut previous: Vec<u32> = Vec::new();
    for (n, message) in messages
        .iter()
        .filter(|m| m.role == Role::Assistant)
        .enumerate()
    {
        let number = n + 1;
        let record = message
            .tokens
            .as_ref()
            .ok_or_else(|| format!("call {number}: the server returned no token ids"))?;
        let shared = previous.get(..record.prompt_shared).ok_or_else(|| {
            format!(
                "call {number}: its record shares {} ids with a call of {}",
                record.prompt_shared,
                previous.len()
            )
        })?;
        let mut prompt = shared.to_vec();
        prompt.extend_from_slice(&record.prompt_ids);
        calls.push(Call {
            extends: n == 0 || record.prompt_shared == previous.len(),
            shared: record.prompt_shared,
            previous_len: previous.len(),
            // Only when they line up with the ids (a record edited by hand
            // might not).
            logprobs: record
                .logprobs
                .clone()
                .filter(|l| l.len() == record.completion_ids.len()),
            completion: record.completion_ids.clone(),
            source: record.source,
            prompt: prompt.clone(),
        });
        previous = prompt;
        previous.extend_from_slice(&record.completion_ids);
    }
    if calls.is_empty() {
        return Err("no model calls".into());
    }
    Ok(calls)
}

/// Assembles the training samples of a trajectory's `messages`.
pub fn assemble(messages: &[Message]) -> Assembly {
    let calls = match calls(messages) {
        Ok(calls) => calls,
        Err(reason) => return Assembly::Unavailable { reason },
    };
    if let Some((n, call)) = calls.iter().enumerate().find(|(_, c)| !c.extends) {
        let reason = format!(
            "call {}'s prompt does not start with call {n}'s prompt and completion \
             (they part at token {} of {})",
            n + 1,
            call.shared,
            call.previous_len
        );
        let samples = calls
            .iter()
            .map(|c| sample(c, std::slice::from_ref(c)))
            .collect();
        return Assembly::PerTurn { samples, reason };
    }
    let last = calls.last().expect("calls() returns at least one call");
    Assembly::Sequence(sample(last, &calls))
}

/// The sample of `last`'s prompt + completion, learning on the completion of
/// each of `trained` (calls whose spans lie within it, in order).
fn sample(last: &Call, trained: &[Call]) -> Sample {
    let mut tokens = last.prompt.clone();
    tokens.extend_from_slice(&last.completion);
    let mut masks = vec![MASKED; tokens.len()];
    let mut logprobs = trained
        .iter()
        .all(|c| c.logprobs.is_some())
        .then(|| vec![MASKED_LOGPROB; tokens.len()]);
    for call in trained {
        let start = call.prompt.len();
        for (i, id) in call.completion.iter().enumerate() {
            masks[start + i] = i64::from(*id);
        }
        if let (Some(out), Some(sampled)) = (logprobs.as_mut(), &call.logprobs) {
            out[start..start + sampled.len()].copy_from_slice(sampled);
        }
    }
    let source = trained
        .iter()
        .map(|c| SampleSource::from(c.source))
        .collect();
    Sample {
        tokens,
        masks,
        logprobs,
        source,
    }
}

impl Assembly {
    /// What the record says of it.
    pub fn note(&self) -> TrainingNote {
        match self {
            Self::Sequence(sample) => TrainingNote::Sequence {
                tokens: sample.tokens.len(),
                trained: sample.masks.iter().filter(|m| **m != MASKED).count(),
                source: sample.source,
            },
            Self::PerTurn { samples, reason } => TrainingNote::PerTurn {
                samples: samples.len(),
                reason: reason.clone(),
                source: self.source(),
            },
            Self::Unavailable { reason } => TrainingNote::Unavailable {
                reason: reason.clone(),
            },
        }
    }

    /// Where the samples' ids came from.
    pub fn source(&self) -> SampleSource {
        self.samples().iter().map(|s| s.source).collect()
    }

    /// The samples (none when unavailable).
    pub fn samples(&self) -> &[Sample] {
        match self {
            Self::Sequence(sample) => std::slice::from_ref(sample),
            Self::PerTurn { samples, .. } => samples,
            Self::Unavailable { .. } => &[],
        }
    }
}

/// A trajectory's training data as formatters get it, in their options
/// (`"training"`, see `format` in the WIT): what [`TrainingNote`] says, and
/// the samples as rows (`tokens`, `masks`, `logprobs` or `null`). `None`
/// when no call recorded ids (a run without `--capture-tokens`), so
/// formatters of ordinary runs get nothing new.
pub fn for_formatters(messages: &[Message]) -> Option<Value> {
    if !messages.iter().any(|m| m.tokens.is_some()) {
        return None;
    }
    let assembly = assemble(messages);
    let mut view = serde_json::to_value(assembly.note()).expect("a note serialises");
    let samples: Vec<Value> = assembly
        .samples()
        .iter()
        .map(|s| json!({"tokens": s.tokens, "masks": s.masks, "logprobs": s.logprobs}))
        .collect();
    if let Value::Object(view) = &mut view {
        // The rows replace a per-turn note's count of them, which is their
        // length.
        view.insert("samples".into(), samples.into());
    }
    Some(view)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(prompt: &[u32], completion: &[u32], logprobs: Option<&[f64]>) -> ModelReply {
        ModelReply {
            content: None,
            reasoning: None,
            tool_calls: Vec::new(),
            finish_reason: Some("stop".into()),
            usage: Default::default(),
            cost: 0.0,
            attempts: 1,
            prompt_token_ids: Some(prompt.to_vec()),
            completion_token_ids: Some(completion.to_vec()),
            logprobs: logprobs.map(<[f64]>::to_vec),
        }
    }

    fn assistant(tokens: Option<TokenRecord>) -> Message {
        let mut m = Message::new(Role::Assistant, "a");
        m.tokens = tokens;
        m
    }

    #[test]
    fn a_consistent_run_is_one_sequence_masked_on_the_sampled_spans() {
        let mut chain = TokenChain::default();
        let first = chain.record(&reply(&[1, 2], &[10, 11], Some(&[-0.1, -0.2])));
        let second = chain.record(&reply(&[1, 2, 10, 11, 3], &[12], Some(&[-0.3])));
        // Stored small: the second prompt is a reference plus its new id.
        let second = second.unwrap();
        assert_eq!(
            (second.prompt_shared, second.prompt_ids.as_slice()),
            (4, &[3][..])
        );
        let messages = [
            Message::new(Role::System, "s"),
            assistant(first),
            Message::new(Role::Tool, "t"),
            assistant(Some(second)),
        ];
        let Assembly::Sequence(sample) = assemble(&messages) else {
            panic!("not one sequence")
        };
        assert_eq!(sample.tokens, [1, 2, 10, 11, 3, 12]);
        assert_eq!(sample.masks, [MASKED, MASKED, 10, 11, MASKED, 12]);
        assert_eq!(sample.logprobs.unwrap(), [1.0, 1.0, -0.1, -0.2, 1.0, -0.3]);
    }

    #[test]
    fn a_broken_prefix_falls_back_to_one_sample_per_call() {
        let mut chain = TokenChain::default();
        let first = chain.record(&reply(&[1, 2], &[10, 11], None));
        // The template re-rendered the first reply differently.
        let second = chain.record(&reply(&[1, 2, 10, 99, 3], &[12], None));
        let assembly = assemble(&[assistant(first), assistant(second)]);
        let Assembly::PerTurn { samples, reason } = &assembly else {
            panic!("{assembly:?}")
        };
        assert!(
            reason.contains("call 2's prompt") && reason.contains("token 3 of 4"),
            "{reason}"
        );
        assert_eq!(samples[1].tokens, [1, 2, 10, 99, 3, 12]);
        assert_eq!(
            samples[1].masks,
            [MASKED, MASKED, MASKED, MASKED, MASKED, 12]
        );
        assert_eq!(samples[0].masks, [MASKED, MASKED, 10, 11]);
        assert_eq!(samples[0].logprobs, None);
    }

    #[test]
    fn recomputed_ids_are_flagged_and_a_mix_says_so() {
        let recomputed = |chain: &mut TokenChain, prompt: &[u32], completion: &[u32]| {
            let mut without = reply(prompt, completion, None);
            (without.prompt_token_ids, without.completion_token_ids) = (None, None);
            assert_eq!(chain.record(&without), None, "no server ids");
            let ids = CallIds {
                prompt: prompt.to_vec(),
                completion: completion.to_vec(),
            };
            Some(chain.recomputed(ids, &without))
        };
        // Every call recomputed: one sequence, flagged, without logprobs.
        let mut chain = TokenChain::default();
        let first = recomputed(&mut chain, &[1, 2], &[10]);
        let second = recomputed(&mut chain, &[1, 2, 10, 3], &[11]);
        assert_eq!(second.as_ref().unwrap().prompt_shared, 3);
        let messages = [assistant(first.clone()), assistant(second)];
        let assembly = assemble(&messages);
        let Assembly::Sequence(sample) = &assembly else {
            panic!("{assembly:?}")
        };
        assert_eq!(sample.masks, [MASKED, MASKED, 10, MASKED, 11]);
        assert_eq!(sample.logprobs, None);
        assert_eq!(sample.source, SampleSource::Recomputed);
        let note = serde_json::to_value(assembly.note()).unwrap();
        assert_eq!(note["source"], "recomputed");
        let record = serde_json::to_value(first.unwrap()).unwrap();
        assert_eq!(record["source"], "recomputed");

        // The server's ids for one call, recomputed for the next: mixed.
        let mut chain = TokenChain::default();
        let served = chain.record(&reply(&[1, 2], &[10], Some(&[-0.5])));
        let next = recomputed(&mut chain, &[1, 2, 10, 3], &[11]);
        let assembly = assemble(&[assistant(served.clone()), assistant(next)]);
        assert_eq!(assembly.source(), SampleSource::Mixed);
        assert_eq!(
            assembly.samples()[0].logprobs,
            None,
            "not every call has them"
        );
        let view = for_formatters(&[assistant(served.clone())]).unwrap();
        assert!(
            view.get("source").is_none(),
            "server ids are not flagged: {view}"
        );
        let record = serde_json::to_value(served.unwrap()).unwrap();
        assert!(record.get("source").is_none(), "{record}");
    }

    #[test]
    fn a_call_that_could_not_be_recomputed_says_why() {
        let mut chain = TokenChain::default();
        let mut without = reply(&[1], &[2], None);
        without.prompt_token_ids = None;
        assert_eq!(chain.record(&without), None);
        chain.not_recomputed("the template broke");
        assert_eq!(
            chain.note(&assemble(&[assistant(None)])),
            TrainingNote::Unavailable {
                reason: "call 1: the server returned no token ids, and recomputing them \
                         failed: the template broke"
                    .into()
            }
        );
    }

    #[test]
    fn a_call_without_ids_is_named() {
        let mut chain = TokenChain::default();
        let mut without = reply(&[1], &[2], None);
        without.prompt_token_ids = None;
        assert_eq!(chain.record(&without), None);
        let note = assemble(&[assistant(None)]).note();
        assert_eq!(
            note,
            TrainingNote::Unavailable {
                reason: "call 1: the server returned no token ids".into()
            }
        );
        assert!(matches!(assemble(&[]), Assembly::Unavailable { .. }));
    }
}
