"""`{{name}}`: a plinth scorer. Reward 1.0 when the configured command
(`--scorer-config '{"command": "make test"}'`) exits 0 in the graded sandbox,
else 0.0. Replace it with your own."""

import plinth_sdk as sdk
from wit_world import exports


class Scorer(exports.Scorer):
    def info(self):
        return sdk.plugin_info("{{name}}", "0.1.0", "Reward 1.0 when the configured command exits 0")

    @sdk.errors
    def score(self, task, trajectory, config, session):
        # A bad config is `invalid-input`: the run gets no reward, not a wrong 0.
        command = sdk.parse_config(config).get("command")
        if not isinstance(command, str):
            raise sdk.invalid_input("config needs `command` (a string)")
        out = sdk.run(session, command)
        passed = 1.0 if out.exit_code == 0 else 0.0
        return sdk.score_result(passed, {"passed": passed}, {"exit_code": out.exit_code, "output": out.output})
