#!/usr/bin/env python3
"""What Harbor itself makes of the fixtures in this directory: the reference the
plinth-harbor tests (host/harbor/tests/) compare with.

Run with the python of the venv tests/harbor-setup.sh makes (PyPI harbor, pinned there):

    "$(tests/harbor-setup.sh)" tests/harbor/make_expected.py           # writes expected.json
    "$(tests/harbor-setup.sh)" tests/harbor/make_expected.py --tasks D  # prints D's tasks as JSON

expected.json holds, with Harbor's own code doing the reading:

- "configs": every configs/*.toml through `TaskConfig.model_validate_toml`, summarised
  (the fields plinth-harbor models), or {"error": true} where Harbor refuses it;
- "tasks": every directory of tasks/ through `Task.is_valid_dir` and `Task(...)`;
- "dataset": the task directories Harbor's local dataset (`harbor run -p tasks/`) keeps;
- "commands": the verifier's and the oracle's command lines in the container;
- "rewards": every rewards/<case>/ read as `Verifier.verify` reads /logs/verifier
  (`_parse_reward_json` / `_parse_reward_text`, then `VerifierResult`), or the kind of
  error: "missing", "empty" or "garbage".

Error messages are Harbor's and plinth's own; only the outcome is compared.
"""

import json
import sys
import warnings
from pathlib import Path
from types import SimpleNamespace

from pydantic import ValidationError

from harbor.models.task.config import TaskConfig
from harbor.models.task.task import Task
from harbor.models.verifier.result import VerifierResult
from harbor.verifier.verifier import (
    RewardFileEmptyError,
    RewardFileNotFoundError,
    Verifier,
    VerifierOutputParseError,
)

HERE = Path(__file__).resolve().parent
warnings.simplefilter("ignore", DeprecationWarning)


def network(policy_config):
    return {"network_mode": policy_config.network_mode.value, "allowed_hosts": list(policy_config.allowed_hosts or [])}


def phase_network(phase):
    policy = phase.explicit_phase_policy()
    return None if policy is None else {"network_mode": policy.network_mode.value, "allowed_hosts": policy.allowed_hosts}


def user(u):
    return u


def config_summary(c: TaskConfig):
    e = c.environment
    v = c.verifier
    separate = v.environment_mode is not None and v.environment_mode.value == "separate"
    mode = "separate" if separate or (v.environment_mode is None and v.environment is not None) else "shared"
    return {
        "schema_version": c.schema_version,
        "task": None
        if c.task is None
        else {
            "name": c.task.name,
            "version": c.task.version,
            "description": c.task.description,
            "keywords": c.task.keywords,
        },
        "metadata": json.loads(json.dumps(c.model_dump(mode="json")["metadata"])),
        "source": c.source,
        "agent": {"timeout_sec": c.agent.timeout_sec, "user": user(c.agent.user), "network": phase_network(c.agent)},
        "verifier": {
            "timeout_sec": v.timeout_sec,
            "env": dict(sorted(v.env.items())),
            "user": user(v.user),
            "network": phase_network(v),
            "environment_mode": mode,
        },
        "environment": {
            "build_timeout_sec": e.build_timeout_sec,
            "docker_image": e.docker_image,
            "os": e.os.value,
            "cpus": e.cpus,
            "memory_mb": e.memory_mb,
            "storage_mb": e.storage_mb,
            "gpus": e.gpus,
            "network": network(e),
            "env": dict(sorted(e.env.items())),
            "workdir": e.workdir,
        },
        "solution_env": dict(sorted(c.solution.env.items())),
        "steps": [s.name for s in c.steps or []],
    }


def configs():
    out = {}
    for path in sorted((HERE / "configs").glob("*.toml")):
        try:
            out[path.stem] = config_summary(TaskConfig.model_validate_toml(path.read_text()))
        except (ValidationError, ValueError) as e:  # tomllib.TOMLDecodeError is a ValueError
            out[path.stem] = {"error": True, "harbor_says": str(e).splitlines()[0]}
    return out


def task_summary(d: Path):
    if not Task.is_valid_dir(d):
        return {"error": True}
    try:
        t = Task(d)
    except Exception as e:  # noqa: BLE001 - every refusal is an outcome here
        return {"error": True, "harbor_says": f"{type(e).__name__}: {e}"}
    env = t.paths.environment_dir
    solve = t.paths.discovered_solve_path_for(t.config.environment.os)
    return {
        "name": t.name,
        "instruction": t.instruction,
        "dockerfile": (env / "Dockerfile").is_file(),
        "compose": (env / "docker-compose.yaml").is_file(),
        "docker_image": t.config.environment.docker_image,
        "solve_script": None if solve is None else solve.relative_to(t.paths.task_dir).as_posix(),
        "steps": [s.name for s in t.config.steps or []],
        "config": config_summary(t.config),
    }


def tasks(root: Path):
    return {d.name: task_summary(d) for d in sorted(root.iterdir()) if d.is_dir()}


def dataset(root: Path):
    # LocalDatasetConfig._get_local_task_configs
    return [d.name for d in sorted(root.iterdir()) if Task.is_valid_dir(d)]


def reward(d: Path):
    paths = SimpleNamespace(reward_text_path=d / "reward.txt", reward_json_path=d / "reward.json")
    this = SimpleNamespace(trial_paths=paths)
    try:
        # The tail of Verifier.verify.
        if paths.reward_json_path.exists():
            rewards = Verifier._parse_reward_json(this)
        elif paths.reward_text_path.exists():
            rewards = Verifier._parse_reward_text(this)
        else:
            raise RewardFileNotFoundError(str(d))
        result = VerifierResult(rewards=rewards)
    except RewardFileNotFoundError:
        return {"error": "missing"}
    except RewardFileEmptyError:
        return {"error": "empty"}
    except (VerifierOutputParseError, ValidationError):
        return {"error": "garbage"}
    return {"rewards": result.rewards}


def rewards():
    return {d.name: reward(d) for d in sorted((HERE / "rewards").iterdir()) if d.is_dir()}


def commands():
    """The command lines Harbor's verifier and oracle agent run in the container."""
    from harbor.models.task.config import TaskOS
    from harbor.models.trial.paths import EnvironmentPaths
    from harbor.utils.scripts import build_execution_command

    p = EnvironmentPaths.for_os(TaskOS.LINUX)
    return {
        "verifier": build_execution_command(
            str(p.tests_dir / "test.sh"), stdout_path=str(p.verifier_dir / "test-stdout.txt"), task_os=TaskOS.LINUX
        ),
        "oracle": build_execution_command(
            str(p.solution_dir / "solve.sh"), stdout_path=str(p.agent_dir / "oracle.txt"), task_os=TaskOS.LINUX
        ),
        "reward_txt": str(p.reward_text_path),
        "reward_json": str(p.reward_json_path),
    }


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--tasks":
        root = Path(sys.argv[2])
        json.dump({"tasks": tasks(root), "dataset": dataset(root)}, sys.stdout, indent=2, ensure_ascii=False)
        return
    expected = {
        "harbor": __import__("importlib.metadata").metadata.version("harbor"),
        "configs": configs(),
        "tasks": tasks(HERE / "tasks"),
        "dataset": dataset(HERE / "tasks"),
        "rewards": rewards(),
        "commands": commands(),
    }
    text = json.dumps(expected, indent=2, ensure_ascii=False) + "\n"
    (HERE / "expected.json").write_text(text, encoding="utf-8")
    print(f"expected.json: {len(expected['configs'])} configs, {len(expected['tasks'])} tasks, "
          f"{len(expected['rewards'])} reward cases (harbor {expected['harbor']})")


if __name__ == "__main__":
    main()
