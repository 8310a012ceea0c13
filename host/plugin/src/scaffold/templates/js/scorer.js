// `{{name}}`: a plinth scorer. Reward 1.0 when the configured command
// (`--scorer-config '{"command": "make test"}'`) exits 0 in the graded
// sandbox, else 0.0. Replace it with your own.

import * as sdk from './plinth-sdk.js';

export const scorer = {
  info: sdk.guard(() => sdk.pluginInfo('{{name}}', '0.1.0', 'Reward 1.0 when the configured command exits 0')),
  score: sdk.guard((task, trajectory, config, session) => {
    // A bad config is `invalid-input`: the run gets no reward, not a wrong 0.
    const { command } = sdk.parseConfig(config);
    if (typeof command !== 'string') throw sdk.invalidInput('config needs `command` (a string)');
    const out = sdk.run(session, command);
    const passed = out.exitCode === 0 ? 1.0 : 0.0;
    return sdk.scoreResult(passed, { passed }, { exit_code: out.exitCode, output: out.output });
  }),
};
