//! Request counters, kept in atomics so counting costs nothing next to serving.
//!
//! Names follow `shared/bench/mock_llm.py` so benchmark tooling reads either mock.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

#[derive(Default)]
pub(crate) struct Stats {
    requests_total: AtomicU64,
    chat_completions: AtomicU64,
    tool_call_responses: AtomicU64,
    text_responses: AtomicU64,
    final_responses: AtomicU64,
    error_responses: AtomicU64,
    faults_injected: AtomicU64,
    bad_requests: AtomicU64,
    models_requests: AtomicU64,
    not_found: AtomicU64,
    prompt_tokens: AtomicU64,
    completion_tokens: AtomicU64,
    in_flight: AtomicU64,
    max_in_flight: AtomicU64,
    /// Unix milliseconds; 0 until the first chat request.
    first_request_ms: AtomicU64,
    last_response_ms: AtomicU64,
}

/// A copy of the counters, as served on `GET /stats`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct StatsSnapshot {
    /// Every request except `/stats` itself.
    pub requests_total: u64,
    /// Chat requests, whatever was answered.
    pub chat_completions: u64,
    pub tool_call_responses: u64,
    pub text_responses: u64,
    /// Benchmark-mode answers to the step after the last work step.
    pub final_responses: u64,
    /// Scripted HTTP errors.
    pub error_responses: u64,
    /// Faults, injected at the configured rate or scripted ([`crate::Fault`]).
    pub faults_injected: u64,
    /// Chat requests whose body was not JSON.
    pub bad_requests: u64,
    pub models_requests: u64,
    pub not_found: u64,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub max_in_flight: u64,
    /// When the first chat request arrived (Unix seconds).
    pub first_request_unix: Option<f64>,
    /// When the last chat response was produced (Unix seconds).
    pub last_request_unix: Option<f64>,
}

/// Decrements the in-flight gauge when a chat request ends, even if the client hangs up
/// and the handler is dropped mid-delay.
pub(crate) struct InFlight<'a> {
    stats: &'a Stats,
    /// Serial number of this chat request (1-based), for the response id.
    pub serial: u64,
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.stats.in_flight.fetch_sub(1, Relaxed);
    }
}

/// The kind of answer a chat request got.
pub(crate) enum Answer {
    ToolCalls,
    Text,
    Error,
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn seconds(ms: &AtomicU64) -> Option<f64> {
    match ms.load(Relaxed) {
        0 => None,
        ms => Some(ms as f64 / 1000.0),
    }
}

impl Stats {
    pub fn request(&self) {
        self.requests_total.fetch_add(1, Relaxed);
    }

    pub fn models_request(&self) {
        self.models_requests.fetch_add(1, Relaxed);
    }

    pub fn not_found(&self) {
        self.not_found.fetch_add(1, Relaxed);
    }

    pub fn bad_request(&self) {
        self.bad_requests.fetch_add(1, Relaxed);
    }

    /// Counts a chat request in; the guard counts it out.
    pub fn chat_started(&self) -> InFlight<'_> {
        let serial = self.chat_completions.fetch_add(1, Relaxed) + 1;
        let _ = self
            .first_request_ms
            .compare_exchange(0, now_ms(), Relaxed, Relaxed);
        let now = self.in_flight.fetch_add(1, Relaxed) + 1;
        self.max_in_flight.fetch_max(now, Relaxed);
        InFlight {
            stats: self,
            serial,
        }
    }

    pub fn fault(&self) {
        self.faults_injected.fetch_add(1, Relaxed);
        self.last_response_ms.store(now_ms(), Relaxed);
    }

    pub fn answered(&self, answer: Answer, is_final: bool, tokens: (u64, u64)) {
        let counter = match answer {
            Answer::ToolCalls => &self.tool_call_responses,
            Answer::Text => &self.text_responses,
            Answer::Error => &self.error_responses,
        };
        counter.fetch_add(1, Relaxed);
        if is_final {
            self.final_responses.fetch_add(1, Relaxed);
        }
        self.prompt_tokens.fetch_add(tokens.0, Relaxed);
        self.completion_tokens.fetch_add(tokens.1, Relaxed);
        self.last_response_ms.store(now_ms(), Relaxed);
    }

    pub fn snapshot(&self) -> StatsSnapshot {
        StatsSnapshot {
            requests_total: self.requests_total.load(Relaxed),
            chat_completions: self.chat_completions.load(Relaxed),
            tool_call_responses: self.tool_call_responses.load(Relaxed),
            text_responses: self.text_responses.load(Relaxed),
            final_responses: self.final_responses.load(Relaxed),
            error_responses: self.error_responses.load(Relaxed),
            faults_injected: self.faults_injected.load(Relaxed),
            bad_requests: self.bad_requests.load(Relaxed),
            models_requests: self.models_requests.load(Relaxed),
            not_found: self.not_found.load(Relaxed),
            prompt_tokens: self.prompt_tokens.load(Relaxed),
            completion_tokens: self.completion_tokens.load(Relaxed),
            max_in_flight: self.max_in_flight.load(Relaxed),
            first_request_unix: seconds(&self.first_request_ms),
            last_request_unix: seconds(&self.last_response_ms),
        }
    }
}
