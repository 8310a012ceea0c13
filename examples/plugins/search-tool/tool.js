// `search`: find text and files in the task's workspace, for models that
// should not need a shell to look around. Two tools:
//
// - `search {pattern, path?, glob?, fixed_strings?, ignore_case?, max_matches?}`:
//   grep (extended regex by default) through the files under `path`,
//   skipping `.git` and binary files; `file:line:text` per match, long lines
//   cut, at most `max_matches` (default 50, at most 500);
// - `find_files {name, path?, max_results?}`: files whose name matches the
//   glob `name`, skipping `.git`.
//
// Every argument reaches the shell single-quoted, so a pattern is never
// interpreted by it. A bad argument (missing pattern, a regex grep refuses,
// a path that does not exist) is an `invalid-arguments` error the model is
// shown; a sandbox that fails is a `sandbox` error.
//
// Build: examples/plugins/search-tool/build.sh (componentize-js).

import * as sdk from './plinth-sdk.js';

const DEFAULT_MAX = 50;
const MAX_MAX = 500;
// Characters kept of each result line: a minified file is one huge line.
const LINE_CHARS = 300;
// Exit code of our own "no such path" check, apart from grep's 1 and 2.
const NO_PATH = 3;
// A pipeline cut short by `head` ends its writer with SIGPIPE: 128 + 13.
const SIGPIPE = 141;

const schema = (properties, required) => JSON.stringify({ type: 'object', properties, required });

const SEARCH = {
  name: 'search',
  description:
    'Search file contents under a directory (grep -rn, skipping .git and binary files). ' +
    'Returns file:line:text for each match.',
  parameters: schema(
    {
      pattern: { type: 'string', description: 'Extended regular expression (or a fixed string with fixed_strings).' },
      path: { type: 'string', description: 'File or directory to search, relative to the working directory. Default: .' },
      glob: { type: 'string', description: 'Only files whose name matches this glob, e.g. *.py.' },
      fixed_strings: { type: 'boolean', description: 'Match the pattern literally. Default: false.' },
      ignore_case: { type: 'boolean', description: 'Case-insensitive. Default: false.' },
      max_matches: { type: 'integer', minimum: 1, maximum: MAX_MAX, description: `Default: ${DEFAULT_MAX}.` },
    },
    ['pattern'],
  ),
};

const FIND_FILES = {
  name: 'find_files',
  description: 'List files whose name matches a glob (e.g. test_*.py) under a directory, skipping .git.',
  parameters: schema(
    {
      name: { type: 'string', description: 'Glob the file name must match.' },
      path: { type: 'string', description: 'Directory to search. Default: .' },
      max_results: { type: 'integer', minimum: 1, maximum: MAX_MAX, description: `Default: ${DEFAULT_MAX}.` },
    },
    ['name'],
  ),
};

function text(args, key, { required = false, fallback } = {}) {
  const value = args[key];
  if (value === undefined || value === null) {
    if (required) throw sdk.invalidArguments(`\`${key}\` is required`);
    return fallback;
  }
  if (typeof value !== 'string' || value === '') throw sdk.invalidArguments(`\`${key}\` must be a non-empty string`);
  if (/[\0\n\r]/.test(value)) throw sdk.invalidArguments(`\`${key}\` must be one line`);
  return value;
}

function flag(args, key) {
  const value = args[key] ?? false;
  if (typeof value !== 'boolean') throw sdk.invalidArguments(`\`${key}\` must be true or false`);
  return value;
}

function limit(args, key) {
  const value = args[key] ?? DEFAULT_MAX;
  if (!Number.isInteger(value) || value < 1 || value > MAX_MAX) {
    throw sdk.invalidArguments(`\`${key}\` must be an integer from 1 to ${MAX_MAX}`);
  }
  return value;
}

/** `command`'s first `max + 1` lines, cut to LINE_CHARS, after checking `path` exists. */
function pipeline(path, command, max) {
  const q = sdk.shellQuote(path);
  return (
    `if [ ! -e ${q} ]; then echo "no such file or directory: "${q}; exit ${NO_PATH}; fi; ` +
    `${command} 2>&1 | cut -c1-${LINE_CHARS} | head -n ${max + 1}; exit "\${PIPESTATUS[0]}"`
  );
}

/** The lines of a listing, and whether there were more than `max`. */
function listing(output, max) {
  const lines = output.split('\n').filter((line) => line !== '');
  return { lines: lines.slice(0, max), more: lines.length > max };
}

/** A `file:line:text` line of grep's (`-H -n`), not one of its messages. */
const isMatch = (line) => /^[^\n]*?:[0-9]+:/.test(line);

function summary(count, more, what, hint) {
  return more ? `More than ${count} ${what}; the first ${count} (${hint}):` : `${count} ${what}:`;
}

function search(args, session) {
  const pattern = text(args, 'pattern', { required: true });
  const path = text(args, 'path', { fallback: '.' });
  const glob = text(args, 'glob');
  const max = limit(args, 'max_matches');
  const options = ['-rnIHs', '--color=never', '--exclude-dir=.git', flag(args, 'fixed_strings') ? '-F' : '-E'];
  if (flag(args, 'ignore_case')) options.push('-i');
  if (glob !== undefined) options.push(sdk.shellQuote(`--include=${glob}`));
  const grep = `grep ${options.join(' ')} -e ${sdk.shellQuote(pattern)} -- ${sdk.shellQuote(path)}`;
  const out = sdk.run(session, pipeline(path, grep, max));
  if (out.timedOut) return sdk.toolResult(`The search timed out; narrow it with \`path\` or \`glob\`.`);
  const { lines, more } = listing(out.output, max);
  switch (out.exitCode) {
    case 0:
    case SIGPIPE:
      break;
    case 1:
      return sdk.toolResult(`No matches for ${JSON.stringify(pattern)} in ${path}.`);
    case NO_PATH:
      throw sdk.invalidArguments(out.output.trim());
    default:
      // grep says 2 for a pattern it refuses (its message is the output),
      // and for unreadable files beside real matches (`-s` silences those):
      // matches are still results.
      if (out.exitCode !== 2 || !lines.some(isMatch)) {
        throw sdk.invalidArguments(`grep failed (exit ${out.exitCode}): ${out.output.trim() || 'no message'}`);
      }
  }
  const header = summary(lines.length, more, 'matches', 'narrow the search with `path` or `glob`');
  // No `exec` in the result: the host looks for completion markers there,
  // and a search for the marker itself must not end the run.
  return sdk.toolResult([header, ...lines].join('\n'));
}

function findFiles(args, session) {
  const name = text(args, 'name', { required: true });
  const path = text(args, 'path', { fallback: '.' });
  const max = limit(args, 'max_results');
  const find = `find ${sdk.shellQuote(path)} -name .git -prune -o -type f -name ${sdk.shellQuote(name)} -print`;
  const out = sdk.run(session, pipeline(path, find, max));
  if (out.exitCode === NO_PATH) throw sdk.invalidArguments(out.output.trim());
  const { lines, more } = listing(out.output, max);
  if (lines.length === 0) return sdk.toolResult(`No files named ${JSON.stringify(name)} under ${path}.`);
  const header = summary(lines.length, more, 'files', 'narrow the search with `path`');
  return sdk.toolResult([header, ...lines].join('\n'));
}

export const tool = {
  info: sdk.guard(() => sdk.pluginInfo('search', '0.1.0', 'Search file contents and names in the workspace')),
  listTools: sdk.guard(() => [SEARCH, FIND_FILES]),
  invoke: sdk.guard((name, argumentsJson, session) => {
    const args = sdk.parseArguments(argumentsJson);
    switch (name) {
      case SEARCH.name:
        return search(args, session);
      case FIND_FILES.name:
        return findFiles(args, session);
      default:
        throw new sdk.PluginFailure('unknown-tool', name);
    }
  }),
};
