// Write plinth plugins in JavaScript: the small surface the Rust SDK
// (`plugins/sdk`) gives, for components built by componentize-js against
// `plinth:plugin@0.2.0` (`wit/0.2.0`).
//
// componentize-js maps WIT to plain JavaScript: records are objects with
// camelCase fields (`exitCode`, `timedOut`), variants are `{tag, val}`,
// options are a value or `undefined`, and an import returning a `result`
// throws its `err` side. A plugin exports plain objects named after the
// interfaces (`export const tool = {info, listTools, invoke}`,
// `export const scorer = {info, score}`).
//
// This module adds what every tool or scorer would otherwise repeat:
// - `parseArguments` / `parseConfig`: JSON text to an object, or the typed
//   error the host expects (`invalid-arguments` is the model's mistake and is
//   shown to it; `invalid-input` is a bad task row or scorer config);
// - `run`: a command in the lent sandbox session, returning its exit code and
//   output; a sandbox that fails is a `sandbox` error, never a failed command;
// - `toolResult`, `scoreResult`, `pluginInfo`: the export records;
// - `guard`: wraps an export so that any other exception becomes a `failed`
//   error naming it, instead of a trap with the reason lost;
// - `shellQuote`: one argument for `bash -c`, safely quoted;
// - `log`: the host's structured log.
//
// componentize-js takes one source directory: copy this file next to your
// plugin and `import * as sdk from './plinth-sdk.js'` (the examples' build.sh
// does the copy).

import { log as hostLog } from 'plinth:plugin/host@0.2.0';

/** A typed plugin error; thrown from an export, it is the `err` result. */
export class PluginFailure extends Error {
  constructor(tag, message) {
    super(`${tag}: ${message}`);
    // componentize-js lowers the thrown value's `payload` when it has one,
    // else the value itself: give it both shapes of `{tag, val}`.
    this.tag = tag;
    this.val = message;
    this.payload = { tag, val: message };
  }
}

/** The model sent arguments the tool cannot use; it is told `message`. */
export const invalidArguments = (message) => new PluginFailure('invalid-arguments', message);
/** The task row or the plugin's config is wrong: the operator's mistake. */
export const invalidInput = (message) => new PluginFailure('invalid-input', message);
/** The sandbox failed: an infrastructure failure, never a reward of 0. */
export const sandboxError = (message) => new PluginFailure('sandbox', message);
/** The plugin's own failure. */
export const failed = (message) => new PluginFailure('failed', message);

/**
 * Wraps an export function: a `PluginFailure` passes through, any other
 * exception becomes a `failed` error with its message and stack.
 */
export function guard(fn) {
  return (...args) => {
    try {
      return fn(...args);
    } catch (e) {
      if (e instanceof PluginFailure) throw e;
      throw failed(`${e && e.stack ? e.stack : String(e)}`.slice(0, 4000));
    }
  };
}

function parseObject(text, what, error) {
  if (text === undefined || text === null || text.trim() === '') return {};
  let value;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw error(`${what} are not valid JSON: ${e.message}`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw error(`${what} must be a JSON object, not ${Array.isArray(value) ? 'an array' : typeof value}`);
  }
  return value;
}

/**
 * A tool's arguments (the JSON text exactly as the model sent it) as an
 * object; empty text is `{}`. Text that is not a JSON object, or that lacks
 * one of `required`, is an `invalid-arguments` error the model is shown.
 */
export function parseArguments(text, required = []) {
  const args = parseObject(text, 'the arguments', invalidArguments);
  const missing = required.filter((name) => !(name in args));
  if (missing.length > 0) throw invalidArguments(`missing required argument(s): ${missing.join(', ')}`);
  return args;
}

/** A scorer's config or a task row as an object; else `invalid-input`. */
export function parseConfig(text) {
  return parseObject(text, 'the config', invalidInput);
}

/**
 * Runs `bash -c command` in the lent sandbox session: `{exitCode, output,
 * truncated, timedOut}` (stdout and stderr merged). A command that fails is
 * a normal result with its exit code; a sandbox that fails throws a
 * `sandbox` error.
 */
export function run(session, command, { timeoutSecs, env = {}, cwd } = {}) {
  try {
    return session.exec({ command, timeoutSecs, env: Object.entries(env), cwd });
  } catch (e) {
    const error = e && e.payload !== undefined ? e.payload : e;
    const detail = error && error.tag ? `${error.tag}: ${error.val}` : String(error);
    throw sandboxError(detail);
  }
}

/** One word for `bash -c`: single-quoted, so nothing in it is interpreted. */
export function shellQuote(word) {
  return `'${String(word).replaceAll("'", `'\\''`)}'`;
}

/** Who the plugin is; the host names it by `name`, never by its file. */
export const pluginInfo = (name, version, description) => ({ name, version, description });

/**
 * A tool's answer: `content` is what the model sees; `exec`, when the tool
 * ran one command, lets the host find completion markers in it.
 */
export const toolResult = (content, exec) => ({ content, exec });

/**
 * A scorer's answer. `subScores` maps names to numbers; `details` is any
 * JSON value (or JSON text).
 */
export function scoreResult(reward, subScores = {}, details = null) {
  return {
    reward,
    subScores: Object.entries(subScores).map(([name, value]) => ({ name, value })),
    details: typeof details === 'string' ? details : JSON.stringify(details),
  };
}

/** Writes to the host's log under the plugin's name (`trace` ... `error`). */
export function log(level, message) {
  hostLog(level, message);
}
