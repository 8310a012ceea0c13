"""`{{name}}`: a plinth formatter. One JSON line per trajectory: its id, exit
status, reward and number of messages. Replace it with your own."""

import json

import plinth_sdk as sdk
from wit_world import exports
from wit_world.exports.formatter import FormatterInfo


class Formatter(exports.Formatter):
    def info(self):
        return FormatterInfo(
            info=sdk.plugin_info("{{name}}", "0.1.0", "Id, exit status, reward and message count, one line each"),
            file_extension=".jsonl",
            one_record_per_line=True,
        )

    @sdk.errors
    def format(self, trajectory, options):
        record = {
            "id": trajectory.id,
            # As the canonical JSON spells it: LIMITS_EXCEEDED -> LimitsExceeded.
            "exit_status": "".join(w.capitalize() for w in trajectory.exit_status.name.split("_")),
            "reward": trajectory.score.reward if trajectory.score else None,
            "messages": len(trajectory.messages),
        }
        return json.dumps(record)
