// Goal: matrix-js-sdk 37.5.0 keeps a session alive through nebu's refresh tokens.
// Method: alice registers with refresh_token: true on a nebu whose access tokens live
// NEBU_E2E_TOKEN_LIFETIME_MS (scripts/e2e.sh starts it with 3 s); her client gets the
// refresh token and a tokenRefreshFunction (POST /refresh through the SDK's
// refreshToken()); she creates a room and sends a message, waits past the lifetime,
// and sends again: the SDK meets 401 M_UNKNOWN_TOKEN (soft logout), refreshes and
// retries without the test's help. Then the rotated-out refresh token is refused.
// Every wait is bounded; the suite prints each step and exits non-zero on a failure.
//
//   NEBU_E2E_URL=http://127.0.0.1:8008 NEBU_E2E_TOKEN_LIFETIME_MS=3000 node refresh.mjs
import { sdk, Steps, baseUrl, runId, stepTimeoutMs, withTimeout, startAndWaitPrepared } from "./common.mjs";

const lifetimeMs = Number(process.env.NEBU_E2E_TOKEN_LIFETIME_MS ?? 3000);
const run = new Steps("js-refresh");
console.log(`js-refresh: matrix-js-sdk against ${baseUrl}, access tokens live ${lifetimeMs} ms`);
const clients = [];

try {
  const plain = sdk.createClient({ baseUrl });
  const creds = await run.step("register alice with refresh_token: true", async () => {
    const res = await plain.registerRequest({
      username: `alice-${runId}`,
      password: `pw-${runId}`,
      auth: { type: "m.login.dummy" },
      refresh_token: true,
    });
    if (!res.refresh_token || res.expires_in_ms !== lifetimeMs) {
      throw new Error(`no refresh token or wrong expires_in_ms: ${JSON.stringify(res)}`);
    }
    return res;
  }, { critical: true });

  const refreshed = [];  // refresh tokens handed out, in order
  const firstRefreshToken = creds.refresh_token;
  const alice = sdk.createClient({
    baseUrl,
    userId: creds.user_id,
    deviceId: creds.device_id,
    accessToken: creds.access_token,
    refreshToken: creds.refresh_token,
    tokenRefreshFunction: async (refreshToken) => {
      const res = await plain.refreshToken(refreshToken);
      refreshed.push(res.refresh_token);
      return {
        accessToken: res.access_token,
        refreshToken: res.refresh_token,
        expiry: new Date(Date.now() + res.expires_in_ms),
      };
    },
  });
  clients.push(alice);
  await run.step("alice's sync loop starts", () => startAndWaitPrepared(alice), { critical: true });

  const roomId = await run.step("alice creates a room and sends", async () => {
    const { room_id: id } = await alice.createRoom({ name: "refresh" });
    await alice.sendTextMessage(id, "before expiry");
    return id;
  }, { critical: true });

  await run.step("after the lifetime, a send refreshes the token and succeeds", async () => {
    await new Promise((r) => setTimeout(r, lifetimeMs + 500));
    const before = alice.getAccessToken();
    await withTimeout(alice.sendTextMessage(roomId, "after expiry"), stepTimeoutMs, "send after expiry");
    if (refreshed.length < 1) throw new Error("the SDK never refreshed");
    if (alice.getAccessToken() === before) throw new Error("the access token did not change");
  });

  await run.step("whoami answers with the refreshed token", async () => {
    const who = await alice.whoami();
    if (who.user_id !== creds.user_id || who.device_id !== creds.device_id) {
      throw new Error(`whoami: ${JSON.stringify(who)}`);
    }
  });

  await run.step("the rotated-out refresh token is refused (M_UNKNOWN_TOKEN)", async () => {
    // Plain fetch: the SDK's own 401 handling would log about a missing refresh function.
    const res = await fetch(`${baseUrl}/_matrix/client/v3/refresh`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ refresh_token: firstRefreshToken }),
    });
    const body = await res.json();
    if (res.status !== 401 || body.errcode !== "M_UNKNOWN_TOKEN") {
      throw new Error(`reused refresh token: HTTP ${res.status} ${JSON.stringify(body)}`);
    }
  });
} finally {
  for (const c of clients) c.stopClient();
  run.finish();
}
