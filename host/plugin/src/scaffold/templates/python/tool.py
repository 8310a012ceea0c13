"""`{{name}}`: a plinth tool. The model calls `{{name}}` with a file path and
gets its line, word and byte counts. Replace it with your own."""

import json
import shlex

import plinth_sdk as sdk
from componentize_py_types import Err
from wit_world import exports
from wit_world.imports import types

SPEC = {
    "type": "object",
    "properties": {"path": {"type": "string", "description": "The file to count."}},
    "required": ["path"],
}


class Tool(exports.Tool):
    def info(self):
        return sdk.plugin_info("{{name}}", "0.1.0", "Counts the lines, words and bytes of a file")

    def list_tools(self):
        return [types.ToolSpec(name="{{name}}", description="Line, word and byte counts of a file.", parameters=json.dumps(SPEC))]

    @sdk.errors
    def invoke(self, name, arguments, session):
        if name != "{{name}}":
            raise Err(types.PluginError_UnknownTool(name))
        # The model's mistakes are `invalid-arguments`: it is told and may retry.
        path = sdk.parse_arguments(arguments, required=("path",))["path"]
        if not isinstance(path, str):
            raise sdk.invalid_arguments("`path` must be a string")
        # A sandbox failure is raised as a `sandbox` error by sdk.run.
        out = sdk.run(session, f"wc -l -w -c -- {shlex.quote(path)}")
        return sdk.tool_result(out.output, out)
