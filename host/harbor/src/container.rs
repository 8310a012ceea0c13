//! Where Harbor puts things inside the task's container, and the commands it
//! runs there (harbor 0.26: `EnvironmentPaths`, `OracleAgent.run`,
//! `Verifier.verify`, `build_execution_command`). A runner that follows these
//! runs a task's `test.sh` and `solve.sh` exactly as they were written to be run.

/// The tests directory, uploaded only after the agent has stopped.
pub const TESTS_DIR: &str = "/tests";
/// The oracle's directory (`solution/` uploaded by the oracle agent).
pub const SOLUTION_DIR: &str = "/solution";
/// Logs Harbor collects; `test.sh` writes its reward under `verifier/`.
pub const LOGS_DIR: &str = "/logs";
pub const AGENT_LOGS_DIR: &str = "/logs/agent";
pub const VERIFIER_LOGS_DIR: &str = "/logs/verifier";
pub const ARTIFACTS_DIR: &str = "/logs/artifacts";
pub const REWARD_TXT_PATH: &str = "/logs/verifier/reward.txt";
pub const REWARD_JSON_PATH: &str = "/logs/verifier/reward.json";
/// Where the verifier's stdout and stderr go.
pub const TEST_STDOUT_PATH: &str = "/logs/verifier/test-stdout.txt";
/// Where the oracle's stdout and stderr go.
pub const ORACLE_LOG_PATH: &str = "/logs/agent/oracle.txt";
pub const TEST_SCRIPT_PATH: &str = "/tests/test.sh";
pub const SOLVE_SCRIPT_PATH: &str = "/solution/solve.sh";

/// Run as root before the verifier: stale rewards removed (Harbor's
/// `_remove_reward_files`), the log directories made writable for any user
/// (`TrialPaths` makes them 0777), the script made executable.
pub fn verifier_prepare_command() -> String {
    format!(
        "rm -f -- {REWARD_TXT_PATH} {REWARD_JSON_PATH} && mkdir -p {AGENT_LOGS_DIR} {VERIFIER_LOGS_DIR} {ARTIFACTS_DIR} && chmod 777 {AGENT_LOGS_DIR} {VERIFIER_LOGS_DIR} {ARTIFACTS_DIR} && chmod +x {TEST_SCRIPT_PATH}"
    )
}

/// The verifier, as `build_execution_command` spells it, run as the
/// verifier's user in the image's (or `[environment].workdir`'s) directory,
/// with `[verifier].env`, under `[verifier].timeout_sec`.
pub fn verifier_command() -> String {
    format!("({TEST_SCRIPT_PATH}) > {TEST_STDOUT_PATH} 2>&1")
}

/// Run as root before the oracle: the log directory and an executable script.
pub fn oracle_prepare_command() -> String {
    format!(
        "mkdir -p {AGENT_LOGS_DIR} && chmod 777 {AGENT_LOGS_DIR} && chmod +x {SOLVE_SCRIPT_PATH}"
    )
}

/// The oracle (`harbor run -a oracle`): `solve.sh`, with
/// `DEBIAN_FRONTEND=noninteractive` and `[solution].env`, under the agent's
/// timeout (Harbor truncates it to whole seconds).
pub fn oracle_command() -> String {
    format!("({SOLVE_SCRIPT_PATH}) > {ORACLE_LOG_PATH} 2>&1")
}

/// The environment the oracle's command gets besides `[solution].env`.
pub const ORACLE_ENV: &[(&str, &str)] = &[("DEBIAN_FRONTEND", "noninteractive")];
