//! The export macros: they wire a type implementing a plugin trait to the
//! component's exports, in the plugin's own crate.
//!
//! The exports are emitted only when compiling for wasm. Natively (a
//! `cargo build` or `cargo test` of the whole workspace) the plugin is an
//! ordinary library: exporting symbols named like
//! `plinth:plugin/tool@0.2.0#invoke` from a native `cdylib` makes the
//! linker fail, and nothing native could call them anyway. The trait impls
//! still compile natively, so unit tests call them directly; the macros
//! then only mention the plugin's type, so that the dead-code lint does not
//! call the whole plugin unused.

/// Exports `$tool`, a type implementing [`Tool`](crate::Tool), as the
/// component's `tool` interface (world `tool-plugin`). Once per crate.
#[macro_export]
macro_rules! export_tool {
    ($tool:ty) => {
        const _: () = {
            type PlinthToolExport = $crate::__private::ToolExport<$tool>;
            #[cfg(target_family = "wasm")]
            $crate::__private::tool::export_tool_world!(
                PlinthToolExport with_types_in $crate::__private::tool
            );
            #[cfg(not(target_family = "wasm"))]
            let _ = ::core::marker::PhantomData::<PlinthToolExport>;
        };
    };
}

/// Exports `$scorer`, a type implementing [`Scorer`](crate::Scorer), as the
/// component's `scorer` interface (world `scorer-plugin`). Once per crate.
#[macro_export]
macro_rules! export_scorer {
    ($scorer:ty) => {
        const _: () = {
            type PlinthScorerExport = $crate::__private::ScorerExport<$scorer>;
            #[cfg(target_family = "wasm")]
            $crate::__private::scorer::export_scorer_world!(
                PlinthScorerExport with_types_in $crate::__private::scorer
            );
            #[cfg(not(target_family = "wasm"))]
            let _ = ::core::marker::PhantomData::<PlinthScorerExport>;
        };
    };
}

/// Exports `$formatter`, a type implementing
/// [`Formatter`](crate::Formatter), as the component's `formatter`
/// interface (world `formatter-plugin`). Once per crate; a
/// [`GroupFormatter`](crate::GroupFormatter) uses
/// [`export_group_formatter!`](crate::export_group_formatter) instead.
#[macro_export]
macro_rules! export_formatter {
    ($formatter:ty) => {
        const _: () = {
            type PlinthFormatterExport = $crate::__private::FormatterExport<$formatter>;
            #[cfg(target_family = "wasm")]
            $crate::__private::formatter::export_formatter_world!(
                PlinthFormatterExport with_types_in $crate::__private::formatter
            );
            #[cfg(not(target_family = "wasm"))]
            let _ = ::core::marker::PhantomData::<PlinthFormatterExport>;
        };
    };
}

/// Exports `$formatter`, a type implementing
/// [`GroupFormatter`](crate::GroupFormatter), as the component's
/// `formatter` and `group-formatter` interfaces (world
/// `group-formatter-plugin`). Once per crate, instead of
/// [`export_formatter!`](crate::export_formatter).
#[macro_export]
macro_rules! export_group_formatter {
    ($formatter:ty) => {
        $crate::export_formatter!($formatter);

        const _: () = {
            type PlinthGroupFormatterExport = $crate::__private::GroupFormatterExport<$formatter>;
            #[cfg(target_family = "wasm")]
            $crate::__private::group_formatter::export_group_formatter_world!(
                PlinthGroupFormatterExport with_types_in $crate::__private::group_formatter
            );
            #[cfg(not(target_family = "wasm"))]
            let _ = ::core::marker::PhantomData::<PlinthGroupFormatterExport>;
        };
    };
}

/// A [`PluginInfo`](crate::PluginInfo) named `$name`, described by
/// `$description`, whose version is the plugin crate's own
/// (`CARGO_PKG_VERSION` of the crate that invokes the macro).
#[macro_export]
macro_rules! plugin_info {
    ($name:expr, $description:expr $(,)?) => {
        $crate::PluginInfo {
            name: ::std::string::String::from($name),
            version: ::std::string::String::from(::core::env!("CARGO_PKG_VERSION")),
            description: ::std::string::String::from($description),
        }
    };
}
