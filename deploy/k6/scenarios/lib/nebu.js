// Shared by gold-tier.js and silver-tier.js: the seed's mix (each VU iteration logs in,
// syncs and sends one message) and its custom metrics.
//
// Environment (k6 run -e NAME=VALUE):
//   NEBU_BASE_URL   the Client-Server API (default http://127.0.0.1:8008)
//   NEBU_USER_PREFIX, NEBU_PASSWORD   the load accounts are PREFIX1..PREFIXn (n = VUs)
//   NEBU_REGISTER   1: setup() registers the accounts (needs NEBU_REGISTRATION=open and,
//                   for a fast start, NEBU_RATE_LIMIT=off); 0: they exist already
//   NEBU_SYNC_TIMEOUT_MS  the /sync long-poll timeout (default 0: answer at once)
import http from 'k6/http';
import { check } from 'k6';
import { Rate, Trend } from 'k6/metrics';

export const baseUrl = __ENV.NEBU_BASE_URL || 'http://127.0.0.1:8008';
const userPrefix = __ENV.NEBU_USER_PREFIX || 'k6load';
const password = __ENV.NEBU_PASSWORD || 'k6-load-password-0123';
const register = (__ENV.NEBU_REGISTER || '1') === '1';
const syncTimeoutMs = parseInt(__ENV.NEBU_SYNC_TIMEOUT_MS || '0', 10);

// The seed's custom trends (p50/p95/p99 in the summary) and per-endpoint error rates.
export const loginDuration = new Trend('nebu_login_duration', true);
export const syncDuration = new Trend('nebu_sync_duration', true);
export const sendDuration = new Trend('nebu_send_duration', true);
export const loginErrors = new Rate('nebu_login_errors');
export const syncErrors = new Rate('nebu_sync_errors');
export const sendErrors = new Rate('nebu_send_errors');

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

function login(localpart, deviceId) {
  const body = JSON.stringify({
    type: 'm.login.password',
    identifier: { type: 'm.id.user', user: localpart },
    password,
    // One device per VU, logged into again each iteration: no device pile-up.
    device_id: deviceId,
    initial_device_display_name: 'k6',
  });
  return http.post(`${baseUrl}/_matrix/client/v3/login`, body,
    Object.assign({ tags: { endpoint: 'login' } }, json));
}

// setup(): the accounts and one public room every VU joins on its first iteration.
export function setupTier(vus) {
  if (register) {
    for (let i = 0; i <= vus; i++) registerUser(`${userPrefix}${i}`);
  }
  const res = login(`${userPrefix}0`, 'k6-setup');
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
  const login_ = login(localpart, `k6-vu-${__VU}`);
  loginDuration.add(login_.timings.duration);
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
