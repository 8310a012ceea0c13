//! Scorers: grade a finished run, usually by running tests in its sandbox.

use std::marker::PhantomData;

use crate::bindings::scorer::exports::plinth::plugin::scorer::Guest;
use crate::{PluginError, PluginInfo, ScoreResult, Session, Trajectory};

/// A scorer plugin (world `scorer-plugin`); export it with
/// [`crate::export_scorer!`].
///
/// There is no `self`: the host runs every call in a fresh instance.
pub trait Scorer {
    /// Who the plugin is (see [`crate::plugin_info!`]).
    fn info() -> PluginInfo;

    /// Grades `trajectory`. `task` is the task row as JSON text, `config`
    /// the scorer's JSON options (`--scorer-config`), and `session` the
    /// run's sandbox, still in the state the agent left it. A test command
    /// that cannot run is a `sandbox` error, not a reward of 0: the run then
    /// has no reward rather than a wrong one.
    fn score(
        task: &str,
        trajectory: Trajectory,
        config: &str,
        session: &Session,
    ) -> Result<ScoreResult, PluginError>;
}

/// The generated `scorer` export, implemented for any [`Scorer`].
#[doc(hidden)]
pub struct ScorerExport<T>(PhantomData<T>);

impl<T: Scorer> Guest for ScorerExport<T> {
    fn info() -> PluginInfo {
        T::info()
    }

    fn score(
        task: String,
        trajectory: Trajectory,
        config: String,
        session: &Session,
    ) -> Result<ScoreResult, PluginError> {
        T::score(&task, trajectory, &config, session)
    }
}
