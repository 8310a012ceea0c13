//! Formatters: turn canonical trajectories into a training or tool format.

use std::marker::PhantomData;

use crate::bindings::formatter::exports::plinth::plugin::formatter::{FormatterInfo, Guest};
use crate::bindings::group_formatter::exports::plinth::plugin::group_formatter::Guest as GroupGuest;
use crate::{Options, PluginError, PluginInfo, Trajectory};

/// A formatter plugin (world `formatter-plugin`): one record per trajectory.
/// Export it with [`crate::export_formatter!`], or, when it also implements
/// [`GroupFormatter`], with [`crate::export_group_formatter!`].
///
/// There is no `self`: the host runs every call in a fresh instance.
pub trait Formatter {
    /// Extension of a file holding one formatted trajectory, e.g.
    /// `.traj.json`.
    const FILE_EXTENSION: &'static str = ".jsonl";

    /// Whether records are meant to be lines of a JSONL file. When false,
    /// `plinth format` writes one file per trajectory.
    const ONE_RECORD_PER_LINE: bool = true;

    /// Who the plugin is (see [`crate::plugin_info!`]).
    fn info() -> PluginInfo;

    /// Formats one trajectory. `options` is the JSON object of options, in
    /// which the host always sets `"jsonl"` (whether the result will be one
    /// line of a JSONL file); options that are not a JSON object are
    /// refused before this is called. Malformed data in the trajectory is an
    /// `invalid-input` error, never a panic.
    fn format(trajectory: Trajectory, options: &Options) -> Result<String, PluginError>;
}

/// A formatter whose records describe a whole group of rollouts of one task
/// (`--group-size`), such as an Atropos ScoredDataGroup (world
/// `group-formatter-plugin`). The host calls [`GroupFormatter::format_group`]
/// once per group, and [`Formatter::format`] only for a lone trajectory: a
/// group formatter usually formats it as a group of one.
pub trait GroupFormatter: Formatter {
    /// Formats every rollout of one task, in rollout order, as one record;
    /// `options` as for [`Formatter::format`].
    fn format_group(group: Vec<Trajectory>, options: &Options) -> Result<String, PluginError>;
}

/// The generated `formatter` export, implemented for any [`Formatter`].
#[doc(hidden)]
pub struct FormatterExport<T>(PhantomData<T>);

impl<T: Formatter> Guest for FormatterExport<T> {
    fn info() -> FormatterInfo {
        FormatterInfo {
            info: T::info(),
            file_extension: T::FILE_EXTENSION.to_string(),
            one_record_per_line: T::ONE_RECORD_PER_LINE,
        }
    }

    fn format(trajectory: Trajectory, options: String) -> Result<String, PluginError> {
        T::format(trajectory, &Options::parse(&options)?)
    }
}

/// The generated `group-formatter` export, implemented for any
/// [`GroupFormatter`].
#[doc(hidden)]
pub struct GroupFormatterExport<T>(PhantomData<T>);

impl<T: GroupFormatter> GroupGuest for GroupFormatterExport<T> {
    fn format_group(group: Vec<Trajectory>, options: String) -> Result<String, PluginError> {
        T::format_group(group, &Options::parse(&options)?)
    }
}
