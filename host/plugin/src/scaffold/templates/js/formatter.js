// `{{name}}`: a plinth formatter. One JSON line per trajectory: its id, exit
// status, reward and number of messages. Replace it with your own.

import * as sdk from './plinth-sdk.js';

export const formatter = {
  info: sdk.guard(() => ({
    info: sdk.pluginInfo('{{name}}', '0.1.0', 'Id, exit status, reward and message count, one line each'),
    fileExtension: '.jsonl',
    oneRecordPerLine: true,
  })),
  format: sdk.guard((trajectory, options) =>
    JSON.stringify({
      id: trajectory.id,
      // As the canonical JSON spells it: limits-exceeded -> LimitsExceeded.
      exit_status: trajectory.exitStatus.replace(/(^|-)(\w)/g, (_, _dash, c) => c.toUpperCase()),
      reward: trajectory.score ? trajectory.score.reward : null,
      messages: trajectory.messages.length,
    }),
  ),
};
