//! A run's calls recorded one after another as [`TokenRecord`]s, each
//! against the one before (`--capture-tokens`): the ids the server returned,
//! or those [`crate::tokenize`] recomputed for a call it returned none for.

use plinth_record::tokens::{TokenRecord, TokenSource, TrainingNote};
use plinth_record::training::Assembly;

use crate::ModelReply;
use crate::tokenize::CallIds;

/// Records a run's calls one after another, each against the one before.
#[derive(Debug, Default)]
pub struct TokenChain {
    /// The previous recorded call's prompt + completion.
    previous: Vec<u32>,
    /// Calls made so far.
    calls: usize,
    /// The first call whose ids could not be recomputed, and why.
    not_recomputed: Option<String>,
}

impl TokenChain {
    /// The record of `reply`'s call; `None` when the server sent no ids.
    pub fn record(&mut self, reply: &ModelReply) -> Option<TokenRecord> {
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
    /// prompt ids) when the server returned its completion's ids alone
    /// (llama.cpp): kept for what the model sampled, never assembled for
    /// training. `None` when it returned no ids at all.
    pub fn completion_only(&mut self, reply: &ModelReply) -> Option<TokenRecord> {
        let completion = reply.completion_token_ids.clone()?;
        // What comes next cannot be placed against a prompt never seen.
        self.previous.clear();
        let logprobs = reply
            .logprobs
            .clone()
            .filter(|logprobs| logprobs.len() == completion.len());
        Some(TokenRecord {
            prompt_shared: 0,
            prompt_ids: Vec::new(),
            completion_ids: completion,
            logprobs,
            finish_reason: reply.finish_reason.clone(),
            source: TokenSource::CompletionOnly,
        })
    }

    /// The record of the last call (which [`Self::record`] found without
    /// ids) from ids the tokenizer computed.
    pub fn recomputed(&mut self, ids: CallIds, reply: &ModelReply) -> TokenRecord {
        self.push(
            &ids.prompt,
            ids.completion,
            None,
            reply.finish_reason.clone(),
            TokenSource::Recomputed,
        )
    }

    /// Notes that the last call's ids could not be recomputed either.
    pub fn not_recomputed(&mut self, why: &str) {
        if self.not_recomputed.is_none() {
            self.not_recomputed = Some(format!(
                "call {}: the server returned no token ids, and recomputing them failed: {why}",
                self.calls
            ));
        }
    }

    /// What the record says of `assembly`: an unavailable one says why
    /// recomputing the missing ids failed, when it did.
    pub fn note(&self, assembly: &Assembly) -> TrainingNote {
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

#[cfg(test)]
mod tests {
    use plinth_record::tokens::{MASKED, SampleSource};
    use plinth_record::training::{assemble, for_formatters};
    use plinth_record::trajectory::{Message, Role};

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

    #[test]
    fn completion_ids_alone_are_kept_but_not_trained_on() {
        // llama.cpp: the completion's ids (from its logprobs), no prompt's.
        let mut chain = TokenChain::default();
        let mut served = reply(&[1], &[7, 8], Some(&[-0.5, -0.25]));
        served.prompt_token_ids = None;
        assert_eq!(chain.record(&served), None, "no prompt ids");
        let record = chain.completion_only(&served).unwrap();
        assert_eq!(record.completion_ids, [7, 8]);
        assert_eq!(record.logprobs.as_deref(), Some(&[-0.5, -0.25][..]));
        assert!(record.prompt_ids.is_empty());
        let json = serde_json::to_value(&record).unwrap();
        assert_eq!(json["source"], "completion_only", "{json}");
        let note = assemble(&[assistant(Some(record))]).note();
        let TrainingNote::Unavailable { reason } = &note else {
            panic!("{note:?}")
        };
        assert!(
            reason.starts_with("call 1: the server returned the completion's token ids")
                && reason.contains("--tokenizer"),
            "{reason}"
        );
        served.completion_token_ids = None;
        assert_eq!(chain.completion_only(&served), None, "no ids at all");
    }
}
