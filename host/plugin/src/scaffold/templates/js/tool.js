// `{{name}}`: a plinth tool. The model calls `{{name}}` with a file path and
// gets its line, word and byte counts. Replace it with your own.

import * as sdk from './plinth-sdk.js';

const SPEC = {
  name: '{{name}}',
  description: 'Line, word and byte counts of a file.',
  parameters: JSON.stringify({
    type: 'object',
    properties: { path: { type: 'string', description: 'The file to count.' } },
    required: ['path'],
  }),
};

export const tool = {
  info: sdk.guard(() => sdk.pluginInfo('{{name}}', '0.1.0', 'Counts the lines, words and bytes of a file')),
  listTools: sdk.guard(() => [SPEC]),
  invoke: sdk.guard((name, argumentsJson, session) => {
    if (name !== SPEC.name) throw new sdk.PluginFailure('unknown-tool', name);
    // The model's mistakes are `invalid-arguments`: it is told and may retry.
    const { path } = sdk.parseArguments(argumentsJson, ['path']);
    if (typeof path !== 'string') throw sdk.invalidArguments('`path` must be a string');
    // A sandbox failure is thrown as a `sandbox` error by sdk.run.
    const out = sdk.run(session, `wc -l -w -c -- ${sdk.shellQuote(path)}`);
    return sdk.toolResult(out.output, out);
  }),
};
