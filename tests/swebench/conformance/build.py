#!/usr/bin/env python3
"""Builds, for each conformance instance, the source repository at base_commit (as far
as the row's patches can tell) and a venv with the spec's packages, under
~/.cache/plinth/swebench-conformance/<instance_id>/{repo,venv}. Run through setup.sh,
with the python of the swebench 4.1.0 venv (the specs are read from the harness itself).

Per instance (see README.md for the why):
1. The PyPI sdist named in environments.json is unpacked and committed to a fresh git
   repository (minus PKG-INFO and *.egg-info, which the real repository does not hold).
2. If the gold patch and the test patch both reverse-apply, the sdist already carries
   the fix: they are reverse-applied and committed as the base. If both apply forward,
   the sdist predates the fix and is the base as it is. Anything else is an error.
   `refs/replace/<base_commit>` points at that commit, so the harness's own
   `git checkout <base_commit> <test files>` and `git diff <base_commit>` resolve.
3. The venv: Python `python` from environments.json; the spec's `packages`
   (requirements.txt through the harness's own get_requirements, read from the tree;
   environment.yml's dependencies installed by name from PyPI; or a conda package
   list installed by name from PyPI), then `pip_packages`, then `pre_install`, then the
   spec's `install` command as written. Unpinned packages resolve with
   `uv pip install --exclude-newer <exclude_newer>` so a rebuild gets the same versions.
4. `git commit --allow-empty -am SWE-bench`, as the harness's image build ends.
"""

import argparse
import glob
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path

from local_env import CACHE, HERE, instance_dir, load_envs, load_rows, serve_repo_files_from

from swebench.harness.constants import MAP_REPO_VERSION_TO_SPECS
from swebench.harness.test_spec.python import get_environment_yml, get_requirements

SDISTS = CACHE / "sdists"
TOOLS = CACHE / "tools"
UV = TOOLS / "bin" / "uv"
# conda package names whose PyPI distribution is named otherwise.
CONDA_TO_PYPI = {"matplotlib-base": "matplotlib", "dask-core": "dask", "iris": "scitools-iris"}
GIT_ID = ["-c", "user.name=SWE-bench", "-c", "user.email=setup@swebench.config"]


class BuildError(Exception):
    pass


def run(cmd, cwd=None, env=None, input=None, log=None, check=True):
    """Runs cmd (a list, or a string for bash -c), appending its output to log."""
    shell = isinstance(cmd, str)
    p = subprocess.run(
        ["bash", "-c", cmd] if shell else cmd,
        cwd=cwd,
        env=env,
        input=input.encode() if isinstance(input, str) else input,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    out = p.stdout.decode(errors="replace")
    if log is not None:
        log.write(f"$ {cmd if shell else ' '.join(map(str, cmd))}\n{out}\n[exit {p.returncode}]\n")
        log.flush()
    if check and p.returncode != 0:
        raise BuildError(f"{cmd!r} failed ({p.returncode}) in {cwd}:\n{out[-3000:]}")
    return p.returncode, out


def find_python(version: str) -> str:
    """The real binary of CPython `version`: pyenv's build if there is one, else PATH."""
    home = os.environ.get("PYENV_ROOT", str(Path.home() / ".pyenv"))
    found = sorted(glob.glob(f"{home}/versions/{version}.*/bin/python{version}"))
    if found:
        return found[-1]
    for candidate in (f"/usr/bin/python{version}", shutil.which(f"python{version}")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    raise BuildError(f"no python{version} on this machine (pyenv or PATH)")


def sdist_path(requirement: str, log) -> Path:
    name, version = requirement.split("==")
    SDISTS.mkdir(parents=True, exist_ok=True)
    for f in SDISTS.iterdir():
        stem = f.name.lower().replace("_", "-")
        if stem.startswith(f"{name.lower()}-{version}.tar"):
            return f
    run(
        [str(TOOLS / "bin" / "pip"), "download", "--quiet", "--no-deps",
         "--no-binary", ":all:", requirement, "-d", str(SDISTS)],
        log=log,
    )
    return sdist_path(requirement, log)


def git_apply_check(repo: Path, patch: str, *flags: str) -> bool:
    p = subprocess.run(["git", "apply", "--check", *flags, "-"], cwd=repo, input=patch.encode(),
                       capture_output=True)
    return p.returncode == 0


def build_repo(row: dict, env: dict, repo: Path, log) -> dict:
    if repo.exists():
        shutil.rmtree(repo)
    repo.mkdir(parents=True)
    with tarfile.open(sdist_path(env["sdist"], log)) as t:
        top = t.getnames()[0].split("/")[0]
        t.extractall(repo.parent / "sdist-unpack", filter="tar")
    unpacked = repo.parent / "sdist-unpack" / top
    for item in unpacked.iterdir():
        shutil.move(str(item), repo / item.name)
    shutil.rmtree(repo.parent / "sdist-unpack")
    (repo / "PKG-INFO").unlink(missing_ok=True)
    for egg in list(repo.glob("*.egg-info")) + list(repo.glob("src/*.egg-info")):
        shutil.rmtree(egg)
    # Files the repository has and the sdist lacks, that the spec's commands run
    # (overlays/<owner>__<name>/, e.g. sympy's bin/test): part of the base.
    overlay = HERE / "overlays" / row["repo"].replace("/", "__")
    if overlay.is_dir():
        shutil.copytree(overlay, repo, dirs_exist_ok=True)
    run(["git", "init", "-q", "-b", "main"], cwd=repo, log=log)
    run(["git", "add", "-A", "-f"], cwd=repo, log=log)
    run(["git", *GIT_ID, "commit", "-q", "-m", f"sdist {env['sdist']}"], cwd=repo, log=log)

    patch, test_patch = row["patch"], row["test_patch"]
    if git_apply_check(repo, test_patch, "-R") and git_apply_check(repo, patch, "-R"):
        mode = "reverse-applied"
        run(["git", "apply", "-R", "-"], cwd=repo, input=test_patch, log=log)
        run(["git", "apply", "-R", "-"], cwd=repo, input=patch, log=log)
        message = f"base: {env['sdist']} with the test and gold patches reverse-applied"
    elif git_apply_check(repo, test_patch) and git_apply_check(repo, patch):
        mode = "as-is"
        message = f"base: {env['sdist']} (predates the fix)"
    else:
        raise BuildError(f"{row['instance_id']}: the patches neither reverse- nor forward-apply on {env['sdist']}")
    run(["git", *GIT_ID, "commit", "-q", "--allow-empty", "-am", message], cwd=repo, log=log)
    _, base = run(["git", "rev-parse", "HEAD"], cwd=repo)
    base = base.strip()
    run(["git", "update-ref", f"refs/replace/{row['base_commit']}", base], cwd=repo, log=log)
    # A tag for setuptools_scm (pytest, xarray...): the eval script's own reinstall reads
    # the version from git, and the real clone has its release tags.
    run(["git", "tag", env["sdist"].split("==")[1], base], cwd=repo, log=log)

    checks = {
        "test_patch": git_apply_check(repo, test_patch),
        "patch": git_apply_check(repo, patch),
    }
    run(["git", "apply", "-"], cwd=repo, input=test_patch, log=log)
    checks["patch_after_test_patch"] = git_apply_check(repo, patch)
    run(["git", "checkout", "-q", "--", "."], cwd=repo, log=log)
    run(["git", "clean", "-qfd"], cwd=repo, log=log)
    if not all(checks.values()):
        raise BuildError(f"{row['instance_id']}: git apply --check failed on the base: {checks}")
    return {"mode": mode, "base": base, "apply_check": checks}


def uv_install(venv: Path, args: list[str], env: dict, log, cwd=None, check=True, extra_env=None):
    return run(
        [str(UV), "pip", "install", "--python", str(venv / "bin" / "python"),
         "--exclude-newer", env["exclude_newer"], *args],
        cwd=cwd, env={**os.environ, **(extra_env or {}), "UV_CACHE_DIR": str(CACHE / "uv-cache")},
        log=log, check=check,
    )


def install_names(venv: Path, names: list[str], env: dict, log) -> list[str]:
    """Installs what it can of `names` (all at once, else one by one); returns the rest."""
    names = [n for n in names if n]
    if not names or uv_install(venv, names, env, log, check=False)[0] == 0:
        return []
    return [n for n in names if uv_install(venv, [n], env, log, check=False)[0] != 0]


def environment_yml_names(text: str) -> list[str]:
    """conda dependency lines (and the pip: sub-list) of an environment.yml as PyPI names."""
    import yaml

    names = []
    for dep in yaml.safe_load(text).get("dependencies", []):
        deps = dep["pip"] if isinstance(dep, dict) else [dep]
        for d in deps:
            d = str(d).strip()
            name = re.split(r"[=<>!~ ]", d, maxsplit=1)[0]
            if name in ("python", "pip"):
                continue
            spec = d[len(name):].strip()
            if spec.startswith("=") and not spec.startswith("=="):
                spec = "=" + spec  # conda's name=1.2 is pip's name==1.2
            names.append(CONDA_TO_PYPI.get(name, name) + spec.replace("=*", ""))
    return names


def build_venv(row: dict, env: dict, repo: Path, venv: Path, log) -> dict:
    specs = MAP_REPO_VERSION_TO_SPECS[row["repo"]][row["version"]]
    python = find_python(env["python"])
    if venv.exists():
        shutil.rmtree(venv)
    run([python, "-m", "venv", str(venv)], log=log)
    activate = f"source {venv}/bin/activate && cd {repo}"
    skipped = []

    packages = specs.get("packages", "")
    serve_repo_files_from(repo)
    if packages == "requirements.txt":
        reqs = get_requirements(row)
        (repo.parent / "requirements.txt").write_text(reqs)
        uv_install(venv, ["-r", str(repo.parent / "requirements.txt")], env, log)
    elif packages == "environment.yml":
        skipped += install_names(venv, environment_yml_names(get_environment_yml(row, "testbed")), env, log)
    elif packages:
        skipped += install_names(venv, packages.split(), env, log)
    if specs.get("pip_packages"):
        uv_install(venv, list(specs["pip_packages"]), env, log)

    for cmd in specs.get("pre_install", []):
        if cmd.startswith("apt-get") or "apt-get install" in cmd:
            wanted = cmd.split("apt-get install -y", 1)[1].split()
            missing = [p for p in wanted if run(["dpkg", "-s", p], check=False)[0] != 0]
            if missing:
                run(f"apt-get update -qq && apt-get install -y -qq {' '.join(missing)}", log=log)
            continue
        run(f"{activate} && {cmd}", log=log)

    install = specs.get("install", "")
    version = env["sdist"].split("==")[1]
    # setuptools_scm has no tags to read in this repository: give it the sdist's version.
    scm = {"SETUPTOOLS_SCM_PRETEND_VERSION": version}
    m = re.fullmatch(r"python -m pip install (.*)", install)
    if m:
        # Resolve the project's own dependencies at the era's pins first, so that the
        # spec's pip command finds them satisfied instead of taking today's releases.
        uv_install(venv, m.group(1).split(), env, log, cwd=repo, check=False, extra_env=scm)
    if install:
        run(f"{activate} && {install}", env={**os.environ, **scm}, log=log)
    run(["git", *GIT_ID, "commit", "-q", "--allow-empty", "-am", "SWE-bench"], cwd=repo, log=log)
    _, freeze = run([str(venv / "bin" / "python"), "-m", "pip", "freeze", "--all"])
    _, pyver = run([str(venv / "bin" / "python"), "--version"])
    return {"python": pyver.strip(), "python_in_spec": specs.get("python"),
            "not_installable": skipped, "freeze": freeze.splitlines()}


def fingerprint(row: dict, env: dict) -> str:
    h = hashlib.sha256()
    h.update(json.dumps([row, env], sort_keys=True).encode())
    h.update((HERE / "build.py").read_bytes())
    for f in sorted((HERE / "overlays" / row["repo"].replace("/", "__")).rglob("*")):
        if f.is_file():
            h.update(f.read_bytes())
    return h.hexdigest()[:16]


def build(row: dict, env: dict, force: bool) -> dict:
    d = instance_dir(row["instance_id"])
    d.mkdir(parents=True, exist_ok=True)
    state_path = d / "state.json"
    fp = fingerprint(row, env)
    if not force and state_path.exists():
        state = json.loads(state_path.read_text())
        if state.get("fingerprint") == fp:
            return state
    started = time.monotonic()
    with open(d / "build.log", "w") as log:
        state = {"instance_id": row["instance_id"], "sdist": env["sdist"]}
        state.update(build_repo(row, env, d / "repo", log))
        state.update(build_venv(row, env, d / "repo", d / "venv", log))
        _, head = run(["git", "rev-parse", "HEAD"], cwd=d / "repo")
        state["head"] = head.strip()
    state["setup_seconds"] = round(time.monotonic() - started, 1)
    state["fingerprint"] = fp
    state_path.write_text(json.dumps(state, indent=2) + "\n")
    return state


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("instances", nargs="*", help="instance ids (default: all)")
    ap.add_argument("--force", action="store_true", help="rebuild even if up to date")
    args = ap.parse_args()
    envs = load_envs()
    rows = [r for r in load_rows() if not args.instances or r["instance_id"] in args.instances]
    failed = 0
    for row in rows:
        iid = row["instance_id"]
        started = time.monotonic()
        try:
            state = build(row, envs[iid], args.force)
            print(f"{iid}: ready ({state['mode']}, {state['python']}, built in "
                  f"{state['setup_seconds']}s; this call {time.monotonic() - started:.1f}s)", flush=True)
        except BuildError as e:
            failed += 1
            print(f"{iid}: FAILED: {e}", file=sys.stderr, flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
