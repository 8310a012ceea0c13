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
//! - when the server returned no ids, or the completion's only (llama.cpp),
//!   no samples, and the record says so.
//!
//! Nothing here tokenizes text. With `--tokenizer`, a call the server
//! returned no ids for is recorded with ids recomputed from its text
//! ([`plinth_model::tokenize`]) instead, flagged [`TokenSource::Recomputed`], and
//! every sample, note and scored group built from them says so: they are
//! what the template and tokenizer give, not what the model sampled, and
//! come without logprobs. Server ids always win; a run with both kinds says
//! it is [`SampleSource::Mixed`].

use serde_json::{Value, json};

use crate::tokens::{MASKED, MASKED_LOGPROB, SampleSource, TokenSource, TrainingNote};
use crate::trajectory::{Message, Role};

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
        if record.source == TokenSource::CompletionOnly {
            return Err(format!(
                "call {number}: the server returned the completion's token ids but not the \
                 prompt's (llama.cpp sends none); --tokenizer computes both from the text"
            ));
        }
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
