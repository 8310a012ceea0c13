"""Write plinth plugins in Python: the small surface the Rust SDK (`plugins/sdk`) gives.

A Python plugin is built by componentize-py against `plinth:plugin@0.2.0`
(`wit/0.2.0`); the typed bindings (`wit_world`) come from the toolchain:

    componentize-py -d wit/0.2.0 -w scorer-plugin bindings .   # for your editor
    componentize-py -d wit/0.2.0 -w scorer-plugin componentize -p . -p path/to/sdk-python app -o NAME.wasm

This module adds what every tool or scorer would otherwise repeat:

- `parse_arguments` / `parse_config`: JSON text to a dict, or the typed error
  the host expects (`invalid-arguments` is the model's mistake and is shown to
  it; `invalid-input` is a bad task row or scorer config);
- `run`: a command in the lent sandbox session, returning its exit code and
  output; a sandbox that fails is a `sandbox` error, never a failed command;
- `tool_result`, `score_result`, `plugin_info`: the export records;
- `errors`: a decorator turning an uncaught Python exception into a `failed`
  error naming it, instead of a trap with the traceback lost in stderr;
- `log`: the host's structured log.

Errors are raised as `componentize_py_types.Err(PluginError_*)`, which is how
componentize-py returns the `err` side of a WIT `result`.

Only the `types`, `host` and (for tools and scorers) `sandbox` interfaces are
imported, so the module works in every world.
"""

import functools
import json
import traceback
from typing import Any, Callable, Dict, List, Optional, Tuple, TypeVar, Union

from componentize_py_types import Err
from wit_world.imports import host, types

__all__ = [
    "PluginFailure",
    "errors",
    "failed",
    "invalid_arguments",
    "invalid_input",
    "log",
    "parse_arguments",
    "parse_config",
    "plugin_info",
    "run",
    "sandbox_error",
    "score_result",
    "tool_result",
]

F = TypeVar("F", bound=Callable[..., Any])

# Most a `failed` error carries of a traceback: the host caps what it keeps anyway.
_TRACEBACK_CHARS = 4000


def invalid_arguments(message: str) -> Err:
    """The model sent arguments the tool cannot use; it is told `message`."""
    return Err(types.PluginError_InvalidArguments(message))


def invalid_input(message: str) -> Err:
    """The task row or the plugin's config is wrong: the operator's mistake."""
    return Err(types.PluginError_InvalidInput(message))


def sandbox_error(message: str) -> Err:
    """The sandbox failed: an infrastructure failure, never a reward of 0."""
    return Err(types.PluginError_Sandbox(message))


def failed(message: str) -> Err:
    """The plugin's own failure."""
    return Err(types.PluginError_Failed(message))


PluginFailure = Err
"""What the helpers raise; `except PluginFailure` catches any typed plugin error."""


def errors(function: F) -> F:
    """Decorates an export method: a typed error passes through, any other
    exception becomes a `failed` error with its traceback, so the run records
    why the plugin failed rather than a bare trap."""

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        except Err:
            raise
        except Exception as e:  # noqa: BLE001 - every other exception is the plugin's bug
            trace = traceback.format_exc()[-_TRACEBACK_CHARS:]
            raise failed(f"{type(e).__name__}: {e}\n{trace}") from e

    return wrapper  # type: ignore[return-value]


def _parse_object(text: str, what: str, error: Callable[[str], Err]) -> Dict[str, Any]:
    if text is None or not text.strip():
        return {}
    try:
        value = json.loads(text)
    except ValueError as e:
        raise error(f"{what} are not valid JSON: {e}") from None
    if not isinstance(value, dict):
        raise error(f"{what} must be a JSON object, not {type(value).__name__}")
    return value


def parse_arguments(text: str, required: Tuple[str, ...] = ()) -> Dict[str, Any]:
    """A tool's arguments (the JSON text exactly as the model sent it) as a
    dict; empty text is `{}`. Text that is not a JSON object, or that lacks one
    of `required`, is an `invalid-arguments` error the model is shown."""
    arguments = _parse_object(text, "the arguments", invalid_arguments)
    missing = [name for name in required if name not in arguments]
    if missing:
        raise invalid_arguments(f"missing required argument(s): {', '.join(missing)}")
    return arguments


def parse_config(text: str) -> Dict[str, Any]:
    """A scorer's config or a task row as a dict; anything but a JSON object
    is an `invalid-input` error."""
    return _parse_object(text, "the config", invalid_input)


def run(
    session: Any,
    command: str,
    timeout_secs: Optional[int] = None,
    env: Optional[Dict[str, str]] = None,
    cwd: Optional[str] = None,
) -> types.ExecOutput:
    """Runs `bash -c command` in the lent sandbox session: `.exit_code`,
    `.output` (stdout and stderr merged), `.truncated`, `.timed_out`. A command
    that fails is a normal result with its exit code; a sandbox that fails
    (dead container, missing working directory) raises a `sandbox` error."""
    from wit_world.imports import sandbox  # tools and scorers only

    request = sandbox.ExecRequest(
        command=command,
        timeout_secs=timeout_secs,
        env=list((env or {}).items()),
        cwd=cwd,
    )
    try:
        return session.exec(request)
    except Err as e:
        raise sandbox_error(_sandbox_message(e.value)) from None


def _sandbox_message(error: Any) -> str:
    kind = type(error).__name__.rsplit("_", 1)[-1]
    return f"{kind}: {getattr(error, 'value', error)}"


def plugin_info(name: str, version: str, description: str) -> types.PluginInfo:
    """Who the plugin is; the host names it by `name`, never by its file."""
    return types.PluginInfo(name=name, version=version, description=description)


def tool_result(content: str, exec: Optional[types.ExecOutput] = None) -> Any:
    """A tool's answer: `content` is what the model sees; `exec`, when the
    tool ran one command, lets the host find completion markers in it."""
    from wit_world.exports import tool  # tools only

    return tool.ToolResult(content=content, exec=exec)


def score_result(
    reward: float,
    sub_scores: Union[Dict[str, float], List[Tuple[str, float]], None] = None,
    details: Any = None,
) -> types.ScoreResult:
    """A scorer's answer. `sub_scores` maps names to numbers; `details` is any
    JSON value (or JSON text). A reward that is not a finite number fails
    the run on the host, so check your arithmetic."""
    pairs = sub_scores.items() if isinstance(sub_scores, dict) else (sub_scores or [])
    text = details if isinstance(details, str) else json.dumps(details)
    return types.ScoreResult(
        reward=float(reward),
        sub_scores=[types.SubScore(name=n, value=float(v)) for n, v in pairs],
        details=text,
    )


_LEVELS = {
    "trace": host.LogLevel.TRACE,
    "debug": host.LogLevel.DEBUG,
    "info": host.LogLevel.INFO,
    "warn": host.LogLevel.WARN,
    "error": host.LogLevel.ERROR,
}


def log(level: str, message: str) -> None:
    """Writes to the host's log under the plugin's name; `level` is one of
    trace, debug, info, warn, error."""
    host.log(_LEVELS[level], message)
