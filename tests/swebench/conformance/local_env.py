"""Shared by build.py and oracle.py: where an instance lives in the cache, and the
harness (swebench 4.1.0) made to read repository files from the rebuilt tree instead of
GitHub.

The harness fetches `requirements.txt` / `environment.yml` from raw.githubusercontent at
the row's environment_setup_commit while it builds the *environment* script; `make_test_spec`
builds that script too, so even the oracle (which only needs the eval script) would go
to the network. Here `requests.get` inside `swebench.harness.test_spec.python` answers
from the local source tree (the PyPI sdist the instance was rebuilt from), which is the
one documented deviation on that side: the file comes from the sdist, not from
environment_setup_commit.
"""

import json
import os
from pathlib import Path

HERE = Path(__file__).resolve().parent
CACHE = Path(
    os.environ.get(
        "PLINTH_SWEBENCH_CONFORMANCE_CACHE",
        Path.home() / ".cache" / "plinth" / "swebench-conformance",
    )
)


def load_rows() -> list[dict]:
    with open(HERE / "instances.jsonl") as f:
        return [json.loads(line) for line in f if line.strip()]


def load_envs() -> dict:
    with open(HERE / "environments.json") as f:
        return json.load(f)


def instance_dir(instance_id: str) -> Path:
    return CACHE / instance_id


class _LocalResponse:
    def __init__(self, path: Path):
        self.status_code = 200 if path.is_file() else 404
        self.text = path.read_text() if path.is_file() else ""


def serve_repo_files_from(repo_dir: Path) -> None:
    """Make the harness's raw.githubusercontent fetches read `repo_dir` instead.

    URLs look like <SWE_BENCH_URL_RAW>/<owner>/<name>/<commit>/<path>; the path is
    everything after the commit.
    """
    import swebench.harness.test_spec.python as tsp
    from swebench.harness.constants import SWE_BENCH_URL_RAW

    class _Requests:
        @staticmethod
        def get(url, headers=None):
            rest = url[len(SWE_BENCH_URL_RAW) :].lstrip("/")
            rel = "/".join(rest.split("/")[3:])
            return _LocalResponse(repo_dir / rel)

    tsp.requests = _Requests
    tsp.get_requirements_by_commit.cache_clear()
    tsp.get_environment_yml_by_commit.cache_clear()
