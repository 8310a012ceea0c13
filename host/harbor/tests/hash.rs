//! The environment hash keys the image cache: the same build context hashes
//! the same wherever it is and whenever its files were written, and any change
//! Docker's build would see changes it.

#![allow(clippy::unwrap_used)] // In a test, an unwrap is an assertion.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use plinth_harbor::environment_hash;

fn write(dir: &Path, rel: &str, text: &str) {
    let path = dir.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn context(dir: &Path) {
    write(
        dir,
        "Dockerfile",
        "FROM plinth-test-python\nCOPY app /app\n",
    );
    write(dir, "app/run.sh", "#!/bin/sh\necho hi\n");
    write(dir, "app/data/x.txt", "x\n");
}

#[test]
fn same_content_same_hash_anywhere() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    context(a.path());
    std::thread::sleep(std::time::Duration::from_millis(20));
    context(b.path());
    let h = environment_hash(a.path()).unwrap();
    assert_eq!(h.len(), 64);
    assert_eq!(h, environment_hash(b.path()).unwrap());
}

#[test]
fn every_change_docker_sees_changes_it() {
    let dir = tempfile::tempdir().unwrap();
    context(dir.path());
    let mut seen = vec![environment_hash(dir.path()).unwrap()];
    let mut changed = |what: &str| {
        let h = environment_hash(dir.path()).unwrap();
        assert!(!seen.contains(&h), "{what} did not change the hash");
        seen.push(h);
    };
    write(dir.path(), "app/data/x.txt", "y\n");
    changed("content");
    let script = dir.path().join("app/run.sh");
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    changed("the executable bit");
    std::fs::create_dir(dir.path().join("empty")).unwrap();
    changed("an empty directory");
    std::fs::rename(
        dir.path().join("app/data/x.txt"),
        dir.path().join("app/data/z.txt"),
    )
    .unwrap();
    changed("a rename");
    std::os::unix::fs::symlink("data/z.txt", dir.path().join("app/link")).unwrap();
    changed("a symlink");
}

#[test]
fn unreadable_context_is_an_error_naming_the_path() {
    let missing = Path::new("/nonexistent/plinth-harbor-env");
    let e = environment_hash(missing).unwrap_err();
    assert!(
        e.to_string().contains("/nonexistent/plinth-harbor-env"),
        "{e}"
    );
}

#[test]
fn fixture_hashes_are_stable() {
    // The real fixture's context: two reads agree.
    let env = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/harbor/tasks/tb2-shaped/environment");
    assert_eq!(
        environment_hash(&env).unwrap(),
        environment_hash(&env).unwrap()
    );
}
