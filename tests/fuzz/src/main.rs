//! `plinth-fuzz TARGET`: under `cargo afl fuzz`, AFL++'s persistent loop
//! over one target. Built without AFL++ (`cargo build -p plinth-fuzz`),
//! `plinth-fuzz TARGET FILE...` runs the target once per file, to reproduce
//! a finding under a debugger.

use std::process::ExitCode;

use plinth_fuzz::Target;

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let Some(target) = args.next().as_deref().and_then(Target::from_name) else {
        let names: Vec<&str> = Target::ALL.iter().map(|t| t.name()).collect();
        eprintln!(
            "usage: plinth-fuzz TARGET [FILE...]; targets: {}",
            names.join(", ")
        );
        return ExitCode::from(2);
    };
    run(target, args.collect())
}

#[cfg(fuzzing)]
fn run(target: Target, _files: Vec<String>) -> ExitCode {
    afl::fuzz!(|data: &[u8]| target.run(data));
    ExitCode::SUCCESS
}

#[cfg(not(fuzzing))]
fn run(target: Target, files: Vec<String>) -> ExitCode {
    for file in files {
        match std::fs::read(&file) {
            Ok(data) => {
                target.run(&data);
                println!("{file}: ok");
            }
            Err(e) => {
                eprintln!("{file}: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    ExitCode::SUCCESS
}
