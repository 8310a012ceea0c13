//! What a persistent shell session promises, checked the same way on every
//! backend (`Sandbox::exec_in_session`).

use std::time::{Duration, Instant};

use plinth_sandbox::{ExecOutput, ExecRequest, Sandbox};

async fn run(sb: &dyn Sandbox, command: &str) -> ExecOutput {
    sb.exec_in_session(command, None)
        .await
        .unwrap_or_else(|e| panic!("{command}: {e}"))
}

/// Runs every check on `sb`, whose working directory is empty.
pub async fn contract(sb: &dyn Sandbox) {
    let cwd = sb.cwd().to_string();
    // State carries over: directory, variables, functions; children see
    // exported variables.
    let out = run(
        sb,
        "mkdir -p sub && cd sub; export V=1; W=2; f() { echo \"f:$1\"; }",
    )
    .await;
    assert_eq!((out.output.as_str(), out.exit_code), ("", 0));
    let out = run(sb, "pwd; echo \"$V$W\"; f x; sh -c 'echo child:$V'").await;
    assert_eq!(out.output, format!("{cwd}/sub\n12\nf:x\nchild:1\n"));

    // bash speaks of itself as it does under `bash -c` (a fresh command):
    // the same name and `$0`, lines counted from each command's first line,
    // however many commands the session ran before.
    for command in [
        "foo_not_a_command",
        "echo a\nfoo_not_a_command",
        "cd /nonexistent-dir",
        "echo \"$0 $LINENO [${BASH_SOURCE[*]}]\"",
    ] {
        let session = run(sb, command).await;
        let fresh = sb.exec(ExecRequest::new(command)).await.unwrap();
        assert_eq!(
            (session.output.as_str(), session.exit_code),
            (fresh.output.as_str(), fresh.exit_code),
            "{command:?}"
        );
    }
    assert_eq!(
        run(sb, "foo_not_a_command").await.output,
        "bash: line 1: foo_not_a_command: command not found\n"
    );

    // Exit codes, stream order, no trailing newline, binary bytes.
    let out = run(sb, "echo one; echo two >&2; echo three; false").await;
    assert_eq!(
        (out.output.as_str(), out.exit_code),
        ("one\ntwo\nthree\n", 1)
    );
    let out = run(sb, "printf 'no newline'").await;
    assert_eq!((out.output.as_str(), out.exit_code), ("no newline", 0));
    let out = run(sb, "printf 'a\\001b\\377c'; (exit 7)").await;
    assert_eq!(
        (out.output.as_str(), out.exit_code),
        ("a\u{1}b\u{fffd}c", 7)
    );

    // A marker of another nonce is plain output.
    let out = run(
        sb,
        "printf '\\036plinth-exit-0123456789abcdef:0\\n'; echo after",
    )
    .await;
    assert_eq!(out.output, "\u{1e}plinth-exit-0123456789abcdef:0\nafter\n");

    // stdin is empty; a command that moves stdin or stdout does not take
    // the session's stream with it.
    let out = run(sb, "cat; read x; echo \"read=$? x=[$x]\"").await;
    assert_eq!(out.output, "read=1 x=[]\n");
    let out = run(sb, "exec 0</etc/hostname >/dev/null 2>&1; echo hidden").await;
    assert_eq!((out.output.as_str(), out.exit_code), ("", 0));
    assert_eq!(
        run(sb, "read x; echo \"$? visible\"").await.output,
        "1 visible\n"
    );

    // Background processes neither hold the answer nor leak into the next
    // command; `$!` carries over.
    let started = Instant::now();
    let out = run(sb, "(sleep 1; echo late) & P=$!; echo started").await;
    assert_eq!(out.output, "started\n");
    assert!(started.elapsed() < Duration::from_millis(900));
    tokio::time::sleep(Duration::from_millis(1300)).await;
    let out = run(sb, "wait $P; echo \"next $?\"").await;
    assert_eq!(out.output, "next 0\n");

    // A timeout kills the session (and what it started); the next command
    // gets a new one, in the sandbox's directory.
    run(sb, "sleep 300 & echo $! > /tmp/plinth-bg.pid").await;
    let started = Instant::now();
    let out = sb
        .exec_in_session(
            "echo before; while :; do :; done",
            Some(Duration::from_secs(1)),
        )
        .await
        .unwrap();
    assert!(started.elapsed() < Duration::from_secs(20));
    assert!(out.timed_out);
    assert_eq!(out.exit_code, 124);
    assert!(out.output.starts_with("before\n"), "{}", out.output);
    assert!(out.output.contains("new shell session"), "{}", out.output);
    // Killed: gone, or a zombie nobody has reaped yet (init need not reap).
    let out = run(
        sb,
        "pwd; s=$(cut -d' ' -f3 /proc/$(cat /tmp/plinth-bg.pid)/stat 2>/dev/null); [ \"${s:-Z}\" = Z ] && echo gone",
    )
    .await;
    assert_eq!(out.output, format!("{cwd}\ngone\n"));

    // `exit`, `exec` and a killed shell end the session with their status;
    // the next command runs in a new one.
    let out = run(sb, "cd sub; echo bye; exit 3").await;
    assert_eq!(out.exit_code, 3);
    assert!(out.output.starts_with("bye\n"), "{}", out.output);
    assert!(out.output.contains("shell session ended"), "{}", out.output);
    assert_eq!(run(sb, "pwd").await.output, format!("{cwd}\n"));
    let out = run(sb, "exec sh -c 'echo replaced; exit 5'").await;
    assert_eq!(out.exit_code, 5);
    assert!(out.output.starts_with("replaced\n"), "{}", out.output);
    let out = run(sb, "kill -9 $$").await;
    assert_eq!(out.exit_code, 137);
    // Killed between two commands (by a background process of its own).
    run(sb, "(sleep 0.3; kill -9 $$) >/dev/null 2>&1 &").await;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let out = run(sb, "echo new").await;
    assert_eq!(out.exit_code, 0);
    assert!(out.output.starts_with("new\n"), "{}", out.output);
    assert!(
        out.output.contains("previous shell session had ended"),
        "{}",
        out.output
    );
    assert_eq!(run(sb, "echo clean").await.output, "clean\n");
}
