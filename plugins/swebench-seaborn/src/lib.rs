//! The `swebench-seaborn` scorer: SWE-bench rows graded byte for byte as swebench 4.1.0
//! grades them (its eval script, its `seaborn` log parser, `get_eval_report`), in the sandbox
//! plinth grades in. Task row: a SWE-bench instance. Config: `env_activation`,
//! `repo_dir`, `test_cmd`, `timeout_secs` (see `plinth_swebench::scorer::Config`).
//! Reward 1.0 when resolved; sub-scores `f2p`, `p2p`.

plinth_swebench::export_parser_scorer!(SwebenchSeaborn, Seaborn, "swebench-seaborn");
