// Helpers shared by the Node test suites (tests/browser, tests/interop) that run the real `fedishop`
// binary: free ports, polling, a hermetic environment, starting a server and waiting for /healthz,
// the CLI (`user add`, `token issue`), the JSON API, and stopping child processes by PID.
//
// Node built-ins only: tests/browser and tests/interop are separate npm projects and both import
// this file by relative path (`../support/fedishop.mjs`).
// Env: FEDISHOP_BIN (the binary; default target/debug/fedishop of this checkout).

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));

/** The binary under test: $FEDISHOP_BIN, or target/debug/fedishop of this checkout. */
export const FEDISHOP_BIN = path.resolve(process.env.FEDISHOP_BIN || path.join(HERE, '../../target/debug/fedishop'));

export const STARTUP_MS = 30_000; // a server's /healthz
export const CLI_MS = 30_000; // one CLI command

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A TCP port that was free on 127.0.0.1 a moment ago. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/**
 * Polls `fn` every `pauseMs` until it returns a truthy value, and returns that value. Any truthy
 * value counts (a non-empty string, an object, even an empty array), so `fn` must return `false`,
 * `null` or `undefined` deliberately while not done. A throw counts as "not yet". After `ms`,
 * throws `message` (a string, or a function giving one, called at the end so it can describe the
 * last state) with the last value or error.
 */
export async function eventually(fn, message, ms = 15_000, pauseMs = 150) {
  const deadline = Date.now() + ms;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) {
      const what = typeof message === 'function' ? message() : message;
      throw new Error(`${what} (after ${ms} ms; last: ${last instanceof Error ? last.message : JSON.stringify(last)})`);
    }
    await sleep(pauseMs);
  }
}

/** The last `lines` lines of a log file. */
export function tailOf(file, lines = 40) {
  try {
    return fs.readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/** Throws a helpful error when the binary is missing. */
export function requireBinary(bin = FEDISHOP_BIN) {
  if (!fs.existsSync(bin)) {
    throw new Error(`fedishop binary not found at ${bin}: run \`cargo build --bin fedishop\` or set FEDISHOP_BIN`);
  }
}

/**
 * A hermetic environment for fedishop: the caller's, minus every FEDISHOP_* variable (except
 * FEDISHOP_DATABASE_URL with `keepDatabaseUrl`), plus FEDISHOP_DOMAIN and FEDISHOP_BIND = `addr`,
 * FEDISHOP_DATA_DIR = `dataDir`, FEDISHOP_DEV_FEDERATION=true with `devFederation` (each only when
 * given), then `extra`.
 */
export function fedishopEnv({ addr, dataDir, devFederation = false, keepDatabaseUrl = false, extra = {} } = {}) {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!k.startsWith('FEDISHOP_') || (keepDatabaseUrl && k === 'FEDISHOP_DATABASE_URL')) env[k] = v;
  }
  if (devFederation) env.FEDISHOP_DEV_FEDERATION = 'true';
  if (addr !== undefined) Object.assign(env, { FEDISHOP_DOMAIN: addr, FEDISHOP_BIND: addr });
  if (dataDir !== undefined) env.FEDISHOP_DATA_DIR = dataDir;
  return { ...env, ...extra };
}

/** Spawns `cmd` with stdout and stderr into `logFile` (truncated first); returns the child. */
export function spawnLogged(cmd, args, { cwd, env, logFile }) {
  const log = fs.openSync(logFile, 'w');
  let child;
  try {
    child = spawn(cmd, args, { cwd, env, stdio: ['ignore', log, log] });
  } finally {
    fs.closeSync(log);
  }
  // A spawn failure (e.g. ENOENT) is reported by waitForHealthz/stopProcess, not as an uncaught error.
  child.on('error', (e) => {
    child.spawnError = e;
  });
  return child;
}

export const isRunning = (child) => !!child && child.exitCode === null && child.signalCode === null && !child.spawnError;

/**
 * Waits until GET `base`/healthz answers 200; throws (with the log's tail) when `child` exits first
 * or after `ms`. `label` names the server in errors.
 */
export async function waitForHealthz(child, base, { logFile, label = 'fedishop', ms = STARTUP_MS } = {}) {
  const deadline = Date.now() + ms;
  for (;;) {
    if (!isRunning(child)) {
      const how = child.spawnError ? String(child.spawnError) : JSON.stringify({ code: child.exitCode, signal: child.signalCode });
      throw new Error(`${label} exited during startup (${how}); log:\n${tailOf(logFile)}`);
    }
    try {
      const r = await fetch(`${base}/healthz`, { signal: AbortSignal.timeout(2_000) });
      if (r.status === 200) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      throw new Error(`GET ${base}/healthz did not answer 200 within ${ms} ms; log:\n${tailOf(logFile)}`);
    }
    await sleep(100);
  }
}

/**
 * Spawns `fedishop ARGS` (default `serve`) logging into `logFile`; returns the child at once, so the
 * caller holds it (and can stop it) even when waitForHealthz fails. `cwd` should be a temp dir, so no
 * ./fedishop.toml of the developer's is read.
 */
export function spawnFedishop({ bin = FEDISHOP_BIN, args = ['serve'], cwd, env, logFile }) {
  requireBinary(bin);
  return spawnLogged(bin, args, { cwd, env, logFile });
}

/** Stops `child` by PID: SIGTERM, then SIGKILL after `graceMs`. */
export async function stopProcess(child, graceMs = 5_000) {
  if (!isRunning(child)) return;
  const { pid } = child;
  const gone = new Promise((r) => child.once('exit', r));
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return; // already gone
  }
  const timedOut = await Promise.race([gone.then(() => false), sleep(graceMs).then(() => true)]);
  if (timedOut) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone meanwhile
    }
    await Promise.race([gone, sleep(graceMs)]);
  }
}

/**
 * Whatever happens (an uncaught error, Ctrl-C), the children `children()` lists (it may list
 * undefined ones) do not outlive this process: SIGKILL by PID on exit; SIGINT/SIGTERM exit 130.
 */
export function killChildrenOnExit(children) {
  process.on('exit', () => {
    for (const child of children()) {
      if (isRunning(child)) {
        try {
          process.kill(child.pid, 'SIGKILL');
        } catch {
          // gone
        }
      }
    }
  });
  for (const sig of ['SIGINT', 'SIGTERM']) {
    process.once(sig, () => process.exit(130));
  }
}

/**
 * Runs `fedishop ARGS` with `input` on stdin; resolves with its stdout (untrimmed), rejects when
 * it exits non-zero or runs over `ms`. `label` (e.g. "instance A") is added to errors.
 */
export function cli(args, { bin = FEDISHOP_BIN, cwd, env, input = '', label = '', ms = CLI_MS } = {}) {
  const what = `fedishop ${args.join(' ')}${label ? ` (${label})` : ''}`;
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { cwd, env, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    const timer = setTimeout(() => {
      try {
        process.kill(child.pid, 'SIGKILL');
      } catch {
        // gone
      }
      reject(new Error(`${what} took over ${ms} ms`));
    }, ms);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(new Error(`${what} failed to run: ${e.message}`));
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new Error(`${what} exited ${code ?? signal}: ${err.trim()}`));
    });
    child.stdin.on('error', () => {}); // EPIPE when it exits without reading: reported by 'exit'
    child.stdin.end(input);
  });
}

/** `fedishop user add USERNAME --role ROLE [--display-name NAME]`, the password on stdin. */
export function addUser({ username, password, role, displayName }, cliOptions) {
  const args = ['user', 'add', username, '--role', role];
  if (displayName !== undefined) args.push('--display-name', displayName);
  return cli(args, { ...cliOptions, input: `${password}\n` });
}

/** `fedishop token issue USERNAME`; resolves with the token (trimmed stdout). */
export async function issueToken(username, cliOptions) {
  return (await cli(['token', 'issue', username], cliOptions)).trim();
}

/** A request with a time limit; a `body` is sent as JSON. Resolves with { status, type, text, json }. */
export async function request(url, { method = 'GET', headers = {}, body, timeoutMs = 10_000 } = {}) {
  const init = { method, headers: { ...headers }, signal: AbortSignal.timeout(timeoutMs) };
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers['content-type'] = 'application/json';
  }
  const r = await fetch(url, init);
  const text = await r.text();
  let json = null;
  try {
    json = JSON.parse(text);
  } catch {
    // not JSON
  }
  return { status: r.status, type: r.headers.get('content-type') || '', text, json };
}

/**
 * A JSON API call (`p` like "/api/v1/shops") on the instance at `base` with a bearer token.
 * Asserts the status is `expectStatus`; returns the parsed body (null when empty; a non-JSON body
 * throws).
 */
export async function api(base, token, method, p, body, expectStatus, { timeoutMs = 15_000 } = {}) {
  const url = new URL(p, base).href;
  const r = await request(url, {
    method,
    body,
    timeoutMs,
    headers: { authorization: `Bearer ${token}`, accept: 'application/json' },
  });
  assert.equal(r.status, expectStatus, `${method} ${url} answered ${r.status}: ${r.text}`);
  if (!r.text) return null;
  try {
    return JSON.parse(r.text);
  } catch {
    assert.fail(`${method} ${url} answered ${r.status} with a body that is not JSON: ${r.text}`);
  }
}
