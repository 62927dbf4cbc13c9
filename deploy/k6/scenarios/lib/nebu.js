// Shared by gold-tier.js and silver-tier.js: the seed's mix (each VU iteration logs in,
// syncs and sends one message) and its custom metrics.
//
// Environment (k6 run -e NAME=VALUE):
//   NEBU_BASE_URL   the Client-Server API (default http://127.0.0.1:8008)
//   NEBU_USER_PREFIX, NEBU_PASSWORD   the load accounts are PREFIX1..PREFIXn (n = VUs)
//   NEBU_REGISTER   1: setup() registers the accounts (needs NEBU_REGISTRATION=open and,
//                   for a fast start, NEBU_RATE_LIMIT=off); 0: they exist already
//   NEBU_SYNC_TIMEOUT_MS  the /sync long-poll timeout (default 0: answer at once)
//   NEBU_LOGIN_BUDGET_MS  how long one login may take, 429 waits included (default
//                   60000, k6's default request timeout)
//
// A login answered 429 M_LIMIT_EXCEEDED (the server's argon2id queue is full, or the
// wait would pass its bound) is sent again after its retry_after_ms, as matrix-nio does,
// for at most NEBU_LOGIN_BUDGET_MS and LOGIN_ATTEMPTS_MAX calls: only a login that still
// failed counts in nebu_login_errors, nebu_login_duration is the whole login (waits
// included), and nebu_login_retries counts the retries. The built-in driver
// (bench/load_bench.cpp) does the same.
import http from 'k6/http';
import { check, sleep } from 'k6';
import { Counter, Rate, Trend } from 'k6/metrics';

export const baseUrl = __ENV.NEBU_BASE_URL || 'http://127.0.0.1:8008';
const userPrefix = __ENV.NEBU_USER_PREFIX || 'k6load';
const password = __ENV.NEBU_PASSWORD || 'k6-load-password-0123';
const register = (__ENV.NEBU_REGISTER || '1') === '1';
const syncTimeoutMs = parseInt(__ENV.NEBU_SYNC_TIMEOUT_MS || '0', 10);
const loginBudgetMs = parseInt(__ENV.NEBU_LOGIN_BUDGET_MS || '60000', 10);
const LOGIN_ATTEMPTS_MAX = 1000;   // calls of one login, retries included
const RETRY_AFTER_MS_DEFAULT = 5000;  // a 429 without retry_after_ms (matrix-nio's default)

// The seed's custom trends (p50/p95/p99 in the summary) and per-endpoint error rates.
export const loginDuration = new Trend('nebu_login_duration', true);
export const syncDuration = new Trend('nebu_sync_duration', true);
export const sendDuration = new Trend('nebu_send_duration', true);
export const loginErrors = new Rate('nebu_login_errors');
export const syncErrors = new Rate('nebu_sync_errors');
export const sendErrors = new Rate('nebu_send_errors');
export const loginRetries = new Counter('nebu_login_retries');

export const summaryTrendStats = ['avg', 'min', 'med', 'p(50)', 'p(95)', 'p(99)', 'max', 'count'];

// One tier: `vus` virtual users for `duration`, send p95 under `sendP95Ms`.
export function tierOptions(vus, duration, sendP95Ms) {
  return {
    scenarios: {
      chat: { executor: 'constant-vus', vus, duration, gracefulStop: '30s' },
    },
    setupTimeout: '10m',
    summaryTrendStats,
    thresholds: {
      nebu_send_duration: [`p(95)<${sendP95Ms}`],
      nebu_send_errors: ['rate<0.01'],
      nebu_sync_errors: ['rate<0.01'],
      nebu_login_errors: ['rate<0.01'],
    },
  };
}

const json = { headers: { 'Content-Type': 'application/json' } };
function authed(token) {
  return { headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` } };
}

function registerUser(localpart) {
  const body = JSON.stringify({
    username: localpart, password, auth: { type: 'm.login.dummy' }, inhibit_login: true,
  });
  const res = http.post(`${baseUrl}/_matrix/client/v3/register`, body, json);
  // 400 M_USER_IN_USE: it exists from an earlier run, which is fine.
  if (res.status !== 200 && !(res.status === 400 && res.body.includes('M_USER_IN_USE'))) {
    throw new Error(`register ${localpart}: HTTP ${res.status} ${res.body}`);
  }
}

// timeoutMs: this request's timeout (k6's default is 60 s).
function login(localpart, deviceId, timeoutMs = 60000) {
  const body = JSON.stringify({
    type: 'm.login.password',
    identifier: { type: 'm.id.user', user: localpart },
    password,
    // One device per VU, logged into again each iteration: no device pile-up.
    device_id: deviceId,
    initial_device_display_name: 'k6',
  });
  // A 429 is expected under a login storm (it is retried), not a failed request.
  return http.post(`${baseUrl}/_matrix/client/v3/login`, body, Object.assign(
    {
      tags: { endpoint: 'login' },
      responseCallback: http.expectedStatuses(200, 429),
      timeout: timeoutMs,
    }, json));
}

// retry_after_ms of a 429 M_LIMIT_EXCEEDED, or null for any other answer.
function retryAfterMs(res) {
  if (res.status !== 429) return null;
  let body = null;
  try { body = res.json(); } catch (e) { return null; }
  if (!body || body.errcode !== 'M_LIMIT_EXCEEDED') return null;
  const ms = body.retry_after_ms;
  return Number.isInteger(ms) && ms >= 0 ? ms : RETRY_AFTER_MS_DEFAULT;
}

// login(), sent again after each 429's retry_after_ms while the budget lasts (each
// call's timeout is what is left of it). Returns { res: the last answer, retries,
// durationMs: the whole login, waits included }.
export function loginPatiently(localpart, deviceId) {
  const start = Date.now();
  let retries = 0;
  for (let attempt = 1; ; attempt++) {
    const res = login(localpart, deviceId, Math.max(1, loginBudgetMs - (Date.now() - start)));
    const waitMs = retryAfterMs(res);
    const giveUp = waitMs === null || attempt >= LOGIN_ATTEMPTS_MAX ||
      Date.now() + waitMs - start > loginBudgetMs;
    if (giveUp) return { res, retries, durationMs: Date.now() - start };
    sleep(waitMs / 1000);
    retries += 1;
  }
}

// setup(): the accounts and one public room every VU joins on its first iteration.
export function setupTier(vus) {
  if (register) {
    for (let i = 0; i <= vus; i++) registerUser(`${userPrefix}${i}`);
  }
  const { res } = loginPatiently(`${userPrefix}0`, 'k6-setup');
  if (res.status !== 200) throw new Error(`setup login: HTTP ${res.status} ${res.body}`);
  const token = res.json('access_token');
  const room = http.post(`${baseUrl}/_matrix/client/v3/createRoom`,
    JSON.stringify({ preset: 'public_chat', name: 'k6 load' }), authed(token));
  if (room.status !== 200) throw new Error(`createRoom: HTTP ${room.status} ${room.body}`);
  return { roomId: room.json('room_id') };
}

const state = { token: null, since: null, joined: false, txn: 0 };

// One iteration: login, sync, send (the seed's three endpoints).
export function iteration(data) {
  const localpart = `${userPrefix}${__VU}`;
  // The whole login, 429 waits included; an iteration that k6 stops during a wait
  // (gracefulStop) records nothing, like bench_load's "cut" logins.
  const { res: login_, retries, durationMs } = loginPatiently(localpart, `k6-vu-${__VU}`);
  loginDuration.add(durationMs);
  loginRetries.add(retries);
  const loggedIn = check(login_, { 'login 200': (r) => r.status === 200 });
  loginErrors.add(!loggedIn);
  if (!loggedIn) return;
  state.token = login_.json('access_token');
  const params = authed(state.token);
  if (!state.joined) {
    const room = encodeURIComponent(data.roomId);
    state.joined = http.post(`${baseUrl}/_matrix/client/v3/join/${room}`, '{}', params).status === 200;
  }

  const filter = encodeURIComponent(JSON.stringify({ room: { timeline: { limit: 10 } } }));
  let url = `${baseUrl}/_matrix/client/v3/sync?timeout=${syncTimeoutMs}&filter=${filter}`;
  if (state.since) url += `&since=${encodeURIComponent(state.since)}`;
  const sync = http.get(url, Object.assign({ tags: { endpoint: 'sync' } }, params));
  syncDuration.add(sync.timings.duration);
  const synced = check(sync, { 'sync 200': (r) => r.status === 200 });
  syncErrors.add(!synced);
  if (synced) state.since = sync.json('next_batch');

  state.txn += 1;
  const txnId = `k6-${__VU}-${__ITER}-${state.txn}`;
  const sendUrl = `${baseUrl}/_matrix/client/v3/rooms/${encodeURIComponent(data.roomId)}` +
    `/send/m.room.message/${txnId}`;
  const send = http.put(sendUrl, JSON.stringify({ msgtype: 'm.text', body: `load ${txnId}` }),
    Object.assign({ tags: { endpoint: 'send' } }, params));
  sendDuration.add(send.timings.duration);
  const sent = check(send, { 'send 200': (r) => r.status === 200 });
  sendErrors.add(!sent);
}
