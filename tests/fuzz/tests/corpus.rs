//! Every seed of every target, and every input a fuzzer found to crash,
//! hang or blow up, runs through its target in the ordinary test suite: a
//! fixed finding stays fixed without AFL++ on the machine.

use std::path::{Path, PathBuf};

use plinth_fuzz::Target;

fn inputs(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .map(|e| e.expect("a directory entry").path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

#[test]
fn every_seed_and_every_past_finding_runs_clean() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for target in Target::ALL {
        let seeds = inputs(&root.join("corpus").join(target.name()));
        assert!(!seeds.is_empty(), "{}: no seed corpus", target.name());
        let findings = inputs(&root.join("regressions").join(target.name()));
        for file in seeds.iter().chain(&findings) {
            let data = std::fs::read(file).expect("a corpus file reads");
            target.run(&data);
        }
    }
}

#[test]
fn targets_are_named_for_their_corpus_directories() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for target in Target::ALL {
        assert_eq!(Target::from_name(target.name()), Some(target));
        assert!(root.join("corpus").join(target.name()).is_dir());
    }
    assert_eq!(Target::from_name("nope"), None);
}
