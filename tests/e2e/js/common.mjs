// Helpers shared by the matrix-js-sdk end-to-end suites (chat.mjs, crypto.mjs):
// the server URL, bounded waits, account registration and a step runner that
// reports every step and ends with one summary line.
//
//   const run = new Steps("js-chat");
//   const alice = await run.step("register alice", () => registerUser("alice"));
//   await run.step("bob sees it", () => waitFor(emitter, "event", pred, 10000, "bob sees it"));
//   run.finish();  // prints "js-chat: N passed, M failed" and sets the exit code
//
// Every wait is bounded: waitFor/withTimeout reject with a message naming what was
// awaited. A step whose failure leaves nothing to test after it is `critical`: it
// stops the suite (the remaining steps are listed as not run).
import * as sdk from "matrix-js-sdk";
import { logger } from "matrix-js-sdk/lib/logger.js";

export { sdk };

// The Client-Server API base URL of the nebu under test (scripts/e2e.sh sets it).
export const baseUrl = process.env.NEBU_E2E_URL ?? "http://127.0.0.1:8008";
// Upper bound of one awaited step; NEBU_E2E_STEP_TIMEOUT_MS overrides it.
export const stepTimeoutMs = Number(process.env.NEBU_E2E_STEP_TIMEOUT_MS ?? 20000);

// The SDK logs every sync at info and warns about things a test does not care for
// (push rule defaults, MatrixRTC); keep its errors only unless NEBU_E2E_SDK_LOG says
// otherwise ("debug", "info", "warn"). The Rust crypto's tracing writes through
// console.debug: silenced likewise.
const sdkLogLevel = process.env.NEBU_E2E_SDK_LOG ?? "error";
logger.setLevel?.(sdkLogLevel);
const noop = () => {};
if (sdkLogLevel !== "debug") console.debug = noop;
if (sdkLogLevel !== "debug" && sdkLogLevel !== "info") console.info = noop;
// matrix-js-sdk's MatrixRTCSessionManager logs an error for the state events of a room
// it is still building during a sync (the SDK stores the room after its state):
// noise from the SDK itself, with any server.
const consoleError = console.error.bind(console);
console.error = (...args) => {
  if (args.map(String).join(" ").includes("Got room state event for unknown room")) return;
  consoleError(...args);
};

// A suffix that keeps user names unique when a suite runs twice against one server.
export const runId = `${Date.now().toString(36)}${Math.floor(Math.random() * 1e4)}`;

// Rejects after `ms` with "timed out after N ms waiting for WHAT".
export function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

// Resolves with the arguments of the first `event` emitted by `emitter` for which
// predicate(...args) is true; `check()` (optional) is tried first, for something
// that may already have happened. Rejects after `ms`.
export function waitFor(emitter, event, predicate, ms, what, check) {
  let listener;
  const done = new Promise((resolve) => {
    if (check) {
      const already = check();
      if (already) return resolve(already);
    }
    listener = (...args) => {
      try {
        if (predicate(...args)) resolve(args);
      } catch (err) {
        // A predicate over a half-built event: wait for the next one.
      }
    };
    emitter.on(event, listener);
  });
  return withTimeout(done, ms, what).finally(() => {
    if (listener) emitter.removeListener(event, listener);
  });
}

// Polls `check` (sync or async) every 50 ms until it returns a truthy value.
export async function poll(check, ms, what) {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

// The server's error body (errcode, error, status) when the SDK threw a MatrixError.
export function describeError(err) {
  if (err && err.errcode) {
    const path = err.url ? new URL(err.url).pathname : "?";
    return `HTTP ${err.httpStatus} ${err.errcode} from ${path}: ` +
      `${err.data?.error ?? err.message} (${JSON.stringify(err.data)})`;
  }
  return err?.stack ?? String(err);
}

// Registers `${name}-${runId}` with the m.login.dummy flow in one request; returns
// { userId, accessToken, deviceId }.
export async function registerUser(name) {
  const http = sdk.createClient({ baseUrl });
  const res = await withTimeout(
    http.registerRequest({
      username: `${name}-${runId}`,
      password: `pw-${runId}-${name}`,
      initial_device_display_name: `e2e ${name}`,
      auth: { type: "m.login.dummy" },
    }),
    stepTimeoutMs,
    `registration of ${name}`,
  );
  if (!res.access_token || !res.user_id || !res.device_id) {
    throw new Error(`register answered without credentials: ${JSON.stringify(res)}`);
  }
  return { userId: res.user_id, accessToken: res.access_token, deviceId: res.device_id };
}

// A client for registered credentials (not started).
export function clientFor(creds) {
  return sdk.createClient({
    baseUrl,
    userId: creds.userId,
    accessToken: creds.accessToken,
    deviceId: creds.deviceId,
    timelineSupport: true,
  });
}

// Starts the sync loop and resolves once the first sync is processed (PREPARED).
export async function startAndWaitPrepared(client, opts = {}) {
  const prepared = waitFor(
    client,
    sdk.ClientEvent.Sync,
    (state) => state === "PREPARED" || state === "SYNCING",
    stepTimeoutMs,
    `first sync of ${client.getUserId()}`,
  );
  // A sync that keeps failing shows up as ERROR: report the server's answer.
  const failed = new Promise((_, reject) => {
    const onSync = (state, _prev, data) => {
      if (state === "ERROR") {
        client.removeListener(sdk.ClientEvent.Sync, onSync);
        reject(new Error(`sync of ${client.getUserId()} failed: ${describeError(data?.error)}`));
      }
    };
    client.on(sdk.ClientEvent.Sync, onSync);
    prepared.finally(() => client.removeListener(sdk.ClientEvent.Sync, onSync));
  });
  await client.startClient({ initialSyncLimit: 20, ...opts });
  await Promise.race([prepared, failed]);
}

// Runs named steps in order, prints "ok"/"FAIL" per step with the reason, and ends
// with "<name>: N passed, M failed" (plus the steps not run after a critical failure).
export class Steps {
  constructor(name) {
    this.name = name;
    this.passed = [];
    this.failed = [];
    this.skipped = [];
    this.stopped = false;
    this.started = Date.now();
  }

  // Runs fn (async) bounded by stepTimeoutMs * 3; returns its value, or undefined
  // after a failure. A failed critical step stops every later step.
  async step(title, fn, { critical = false, timeoutMs = stepTimeoutMs * 3 } = {}) {
    if (this.stopped) {
      this.skipped.push(title);
      console.log(`  skip ${title}`);
      return undefined;
    }
    const start = Date.now();
    try {
      const value = await withTimeout(Promise.resolve().then(fn), timeoutMs, title);
      this.passed.push(title);
      console.log(`  ok   ${title} (${Date.now() - start} ms)`);
      return value;
    } catch (err) {
      this.failed.push(title);
      console.log(`  FAIL ${title} (${Date.now() - start} ms): ${describeError(err)}`);
      if (critical) this.stopped = true;
      return undefined;
    }
  }

  finish() {
    const secs = ((Date.now() - this.started) / 1000).toFixed(1);
    if (this.failed.length) console.log(`${this.name} failed steps: ${this.failed.join("; ")}`);
    if (this.skipped.length) console.log(`${this.name} not run: ${this.skipped.join("; ")}`);
    console.log(`${this.name} took ${secs} s`);
    console.log(`${this.name}: ${this.passed.length} passed, ` +
      `${this.failed.length + this.skipped.length} failed`);
    // The SDK may leave timers behind (retries, keep-alives): exit now.
    process.exit(this.failed.length || this.skipped.length ? 1 : 0);
  }
}
