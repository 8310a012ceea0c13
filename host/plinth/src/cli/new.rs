//! `plinth new tool|scorer|formatter NAME --lang rust|python|js`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::Args;

use plinth_plugin::scaffold::{Kind, Lang, Scaffold};

#[derive(Args)]
pub struct NewArgs {
    /// What the plugin is.
    #[arg(value_enum)]
    kind: Kind,
    /// Its name: what plinth calls it (lowercase letters, digits, dashes).
    name: String,
    /// The language to write it in.
    #[arg(long, value_enum, default_value = "rust")]
    lang: Lang,
    /// Where to write the project (created, or empty). Default: ./NAME.
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Make a Rust project use the guest SDK crate of a plinth checkout by
    /// path (its `plugins/sdk`) instead of its own copy in `vendor/`.
    #[arg(long, value_name = "DIR")]
    sdk: Option<PathBuf>,
}

pub fn run(args: NewArgs) -> Result<ExitCode> {
    let dir = args.dir.unwrap_or_else(|| PathBuf::from(&args.name));
    let scaffold = Scaffold {
        kind: args.kind,
        lang: args.lang,
        name: args.name,
        sdk: args.sdk,
    };
    for path in scaffold.write(&dir)? {
        println!("wrote {}", path.display());
    }
    println!(
        "\nbuild it: {}/build.sh   (see its README.md; then `plinth plugins inspect {}.wasm`)",
        dir.display(),
        scaffold.name
    );
    Ok(ExitCode::SUCCESS)
}
