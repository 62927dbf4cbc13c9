// js-sso: single sign-on with OpenID Connect against a real provider (oidc-provider,
// oidc_provider.mjs) started here on NEBU_E2E_OIDC_PORT; nebu was started by
// scripts/e2e.sh with that issuer, NEBU_PASSWORD_LOGIN=off and a client allow-list.
// The browser's side is driven over HTTP (redirects, cookies, the provider's login
// and consent forms, nebu's confirmation page). Covered: GET /login, password login
// and registration refused; first login provisions, second maps (also after a rename
// at the provider), localpart collisions; every refusal (wrong state, no cookie,
// replayed loginToken, replayed and expired code, wrong aud, bad signature, unknown
// kid, redirectUrl outside the allow-list) with its errcode and no account created;
// rotated keys accepted after a JWKS refresh; matrix-js-sdk's getSsoLoginUrl +
// loginWithToken, then two SSO users chat; deleting a device through the m.login.sso
// UIA stage and its fallback page; the provider's error page; a deactivated user
// (deactivated through m.login.sso UIA) refused.
import {
  baseUrl, poll, runId, sdk, startAndWaitPrepared, stepTimeoutMs, Steps, waitFor,
} from "./common.mjs";
import {
  confirmLink, CookieJar, pageErrcode, request, startProvider, throughProvider,
} from "./oidc_provider.mjs";

const run = new Steps("js-sso");
const port = Number(process.env.NEBU_E2E_OIDC_PORT);
const clientRedirect = process.env.NEBU_E2E_SSO_CLIENT ?? "http://127.0.0.1:9/client/";
const callbackPrefix = `${baseUrl}/_nebu/sso/callback`;
const serverName = "localhost";
const clients = [];

const idp = await startProvider({
  port,
  clientId: "nebu-e2e",
  clientSecret: process.env.NEBU_E2E_OIDC_SECRET ?? "e2e-oidc-secret",
  redirectUri: callbackPrefix,
});

function redirectUrlFor(redirectUrl = clientRedirect) {
  return `${baseUrl}/_matrix/client/v3/login/sso/redirect?redirectUrl=${encodeURIComponent(redirectUrl)}`;
}

// GET nebu's redirect; the provider's authorization URL.
async function startLogin(jar, url = redirectUrlFor()) {
  const res = await request(jar, url);
  if (res.status !== 302) throw new Error(`redirect answered ${res.status}: ${await res.text()}`);
  return res.headers.get("location");
}

// The whole browser flow as `login`; { loginToken, html } from the confirmation page.
async function ssoFlow(login, url) {
  const jar = new CookieJar();
  const { res, html } = await throughProvider(jar, await startLogin(jar, url), login, callbackPrefix);
  if (res.status !== 200) throw new Error(`callback answered ${res.status}: ${html}`);
  return { ...confirmLink(html), html };
}

// The flow up to the callback URL, not fetched; the jar holds nebu's cookie.
async function flowToCallback(login) {
  const jar = new CookieJar();
  const { callbackUrl } = await throughProvider(jar, await startLogin(jar), login, callbackPrefix,
    { stopBeforeCallback: true });
  return { jar, callbackUrl };
}

async function loginWithToken(token) {
  const res = await fetch(`${baseUrl}/_matrix/client/v3/login`, {
    method: "POST",
    body: JSON.stringify({ type: "m.login.token", token }),
  });
  return { status: res.status, body: await res.json() };
}

function expect(cond, what) {
  if (!cond) throw new Error(what);
}

// A refused callback: its status and errcode on the error page.
async function expectRefused(res, status, errcode) {
  const html = await res.text();
  expect(res.status === status && pageErrcode(html) === errcode,
    `expected ${status} ${errcode}, got ${res.status} ${pageErrcode(html)}: ${html.slice(0, 300)}`);
}

let probeToken;  // an access token to look profiles up with
async function userExists(localpart) {
  const res = await fetch(
    `${baseUrl}/_matrix/client/v3/profile/${encodeURIComponent(`@${localpart}:${serverName}`)}`,
    { headers: { authorization: `Bearer ${probeToken}` } });
  return res.status === 200;
}

const name = (base) => `${base}${runId}`.toLowerCase();

try {
  await run.step("GET /login lists m.login.sso and m.login.token, not m.login.password", async () => {
    const flows = (await (await fetch(`${baseUrl}/_matrix/client/v3/login`)).json()).flows;
    const types = flows.map((f) => f.type);
    expect(types.includes("m.login.sso") && types.includes("m.login.token") &&
      !types.includes("m.login.password"), `flows ${JSON.stringify(flows)}`);
    const sso = flows.find((f) => f.type === "m.login.sso");
    expect(sso.identity_providers?.[0]?.id === "oidc", `idps ${JSON.stringify(sso)}`);
  });

  await run.step("password login and registration are refused (NEBU_PASSWORD_LOGIN=off)", async () => {
    const login = await fetch(`${baseUrl}/_matrix/client/v3/login`, {
      method: "POST",
      body: JSON.stringify({ type: "m.login.password", identifier: { type: "m.id.user", user: "x" }, password: "x" }),
    });
    expect(login.status === 403 && (await login.json()).errcode === "M_FORBIDDEN", `login ${login.status}`);
    const reg = await fetch(`${baseUrl}/_matrix/client/v3/register`, {
      method: "POST", body: JSON.stringify({ username: "x", password: "x", auth: { type: "m.login.dummy" } }),
    });
    expect(reg.status === 403, `register ${reg.status}`);
  });

  const alice = name("alice");
  let aliceUserId;
  await run.step("first login provisions the user (display name from the claims)", async () => {
    const { loginToken, html } = await ssoFlow(alice);
    expect(html.includes(`@${alice}:${serverName}`), "confirmation page names the user");
    const { status, body } = await loginWithToken(loginToken);
    expect(status === 200, `login ${status} ${JSON.stringify(body)}`);
    aliceUserId = body.user_id;
    probeToken = body.access_token;
    expect(aliceUserId === `@${alice}:${serverName}`, `user ${aliceUserId}`);
    const profile = await (await fetch(`${baseUrl}/_matrix/client/v3/profile/${encodeURIComponent(aliceUserId)}`,
      { headers: { authorization: `Bearer ${probeToken}` } })).json();
    expect(profile.displayname === alice.charAt(0).toUpperCase() + alice.slice(1),
      `displayname ${JSON.stringify(profile)}`);
  }, { critical: true });

  await run.step("a replayed loginToken is refused (403 M_FORBIDDEN)", async () => {
    const { loginToken } = await ssoFlow(alice);
    expect((await loginWithToken(loginToken)).status === 200, "first use");
    const again = await loginWithToken(loginToken);
    expect(again.status === 403 && again.body.errcode === "M_FORBIDDEN", `replay ${again.status}`);
  });

  await run.step("second login maps to the same user, also after a rename at the provider", async () => {
    idp.setUsername(alice, `${alice}-renamed`);
    const { loginToken } = await ssoFlow(alice);
    const { body } = await loginWithToken(loginToken);
    expect(body.user_id === aliceUserId, `mapped to ${body.user_id}`);
    expect(!(await userExists(`${alice}-renamed`)), "no user for the new name");
  });

  await run.step("a taken localpart gets the next number (collision rule)", async () => {
    const other = `${alice}-other`;
    idp.setUsername(other, alice);  // another subject whose username is alice's
    const { loginToken } = await ssoFlow(other);
    const { body } = await loginWithToken(loginToken);
    expect(body.user_id === `@${alice}1:${serverName}`, `got ${body.user_id}`);
  });

  await run.step("redirectUrl outside the allow-list: 400 M_INVALID_PARAM, no redirect", async () => {
    const res = await fetch(redirectUrlFor("https://evil.example.org/steal"), { redirect: "manual" });
    const body = await res.json();
    expect(res.status === 400 && body.errcode === "M_INVALID_PARAM", `${res.status} ${JSON.stringify(body)}`);
    const prefix = await fetch(redirectUrlFor(`${clientRedirect.replace(/\/$/, "")}.evil.com/`), { redirect: "manual" });
    expect(prefix.status === 400, `prefix trick ${prefix.status}`);
  });

  await run.step("wrong state: 403 M_FORBIDDEN, nothing created", async () => {
    const login = name("mallory-state");
    const { jar, callbackUrl } = await flowToCallback(login);
    const url = new URL(callbackUrl);
    url.searchParams.set("state", "forged-state");
    await expectRefused(await request(jar, url.toString()), 403, "M_FORBIDDEN");
    expect(!(await userExists(login)), "user created");
  });

  await run.step("callback without the flow cookie (another browser): 403 M_FORBIDDEN", async () => {
    const login = name("mallory-cookie");
    const { callbackUrl } = await flowToCallback(login);
    await expectRefused(await request(new CookieJar(), callbackUrl), 403, "M_FORBIDDEN");
    expect(!(await userExists(login)), "user created");
  });

  await run.step("a replayed authorization code is refused", async () => {
    const login = name("replay");
    const { jar, callbackUrl } = await flowToCallback(login);
    const cookie = jar.header(callbackUrl);
    const first = await fetch(callbackUrl, { headers: { cookie }, redirect: "manual" });
    expect(first.status === 200, `first ${first.status}`);
    await expectRefused(await fetch(callbackUrl, { headers: { cookie }, redirect: "manual" }), 403, "M_FORBIDDEN");
  });

  await run.step("an expired authorization code is refused, nothing created", async () => {
    const login = name("expired");
    idp.setCodeTtl(1);
    try {
      const { jar, callbackUrl } = await flowToCallback(login);
      const issued = Date.now();
      await poll(() => Date.now() - issued > 2100, 5000, "the code's 1 s lifetime to pass");
      await expectRefused(await request(jar, callbackUrl), 403, "M_FORBIDDEN");
    } finally {
      idp.setCodeTtl(60);
    }
    expect(!(await userExists(login)), "user created");
  });

  await run.step("rotated keys: a new kid is fetched from the JWKS and accepted", async () => {
    const login = name("rotated");
    const { jar, callbackUrl } = await flowToCallback(login);
    idp.tamper("rotate");
    let res;
    try {
      res = await request(jar, callbackUrl);
    } finally {
      idp.tamper(null);
    }
    const html = await res.text();
    expect(res.status === 200, `callback ${res.status}: ${html.slice(0, 300)}`);
    const { body } = await loginWithToken(confirmLink(html).loginToken);
    expect(body.user_id === `@${login}:${serverName}`, `user ${body.user_id}`);
  });

  for (const [mode, title] of [["wrong-aud", "an ID token for another audience"],
    ["bad-signature", "an ID token with a bad signature"],
    ["unknown-kid", "an ID token signed with an unpublished key (unknown kid)"]]) {
    await run.step(`${title}: 403 M_FORBIDDEN, nothing created`, async () => {
      const login = name(`mallory-${mode}`);
      const { jar, callbackUrl } = await flowToCallback(login);
      idp.tamper(mode);
      try {
        await expectRefused(await request(jar, callbackUrl), 403, "M_FORBIDDEN");
      } finally {
        idp.tamper(null);
      }
      expect(!(await userExists(login)), "user created");
    });
  }

  // matrix-js-sdk: getSsoLoginUrl + loginWithToken for two users, then a chat.
  const sdkLogin = async (login) => {
    const anon = sdk.createClient({ baseUrl });
    const url = anon.getSsoLoginUrl(clientRedirect, "sso", "oidc");
    const { loginToken } = await ssoFlow(login, url);
    const res = await anon.loginWithToken(loginToken);
    const client = sdk.createClient({
      baseUrl, userId: res.user_id, accessToken: res.access_token, deviceId: res.device_id,
    });
    clients.push(client);
    return client;
  };
  let bob, carol;
  await run.step("matrix-js-sdk: getSsoLoginUrl + loginWithToken for bob and carol", async () => {
    bob = await sdkLogin(name("bob"));
    carol = await sdkLogin(name("carol"));
    await Promise.all([startAndWaitPrepared(bob), startAndWaitPrepared(carol)]);
  }, { critical: true });

  await run.step("bob and carol (SSO users) chat", async () => {
    const { room_id: roomId } = await bob.createRoom({ preset: "private_chat", invite: [carol.getUserId()] });
    await poll(() => carol.getRoom(roomId), stepTimeoutMs, "carol's invite");
    await carol.joinRoom(roomId);
    const seen = waitFor(carol, sdk.RoomEvent.Timeline,
      (event) => event.getRoomId() === roomId && event.getContent().body === "hello over SSO",
      stepTimeoutMs, "carol receives bob's message");
    await bob.sendTextMessage(roomId, "hello over SSO");
    await seen;
  });

  await run.step("deleting a device through UIA m.login.sso and its fallback page", async () => {
    const { loginToken } = await ssoFlow(alice);
    const { body: session } = await loginWithToken(loginToken);
    const del = (auth) => fetch(`${baseUrl}/_matrix/client/v3/devices/${session.device_id}`, {
      method: "DELETE",
      headers: { authorization: `Bearer ${probeToken}` },
      body: JSON.stringify(auth ? { auth } : {}),
    });
    const challenge = await del();
    const uia = await challenge.json();
    expect(challenge.status === 401 && uia.flows.some((f) => f.stages[0] === "m.login.sso"),
      `challenge ${JSON.stringify(uia)}`);
    const refused = await del({ type: "m.login.sso", session: uia.session });
    expect(refused.status === 401, `unconfirmed session ${refused.status}`);
    // The fallback page -> its link -> the provider -> nebu's callback -> done page.
    const jar = new CookieJar();
    const page = await (await request(jar,
      `${baseUrl}/_matrix/client/v3/auth/m.login.sso/fallback/web?session=${uia.session}`)).text();
    const start = new URL(page.match(/id="start" href="([^"]*)"/)[1].replace(/&amp;/g, "&"), baseUrl);
    const toIdp = await request(jar, start.toString());
    expect(toIdp.status === 302, `uia start ${toIdp.status}`);
    const { res, html } = await throughProvider(jar, toIdp.headers.get("location"), alice, callbackPrefix);
    expect(res.status === 200 && html.includes("Identity confirmed"), `done page ${res.status} ${html.slice(0, 200)}`);
    const deleted = await del({ type: "m.login.sso", session: uia.session });
    expect(deleted.status === 200, `delete ${deleted.status} ${await deleted.text()}`);
    expect((await del({ type: "m.login.sso", session: uia.session })).status !== 200, "session reused");
  });

  await run.step("the provider's error (access_denied) is shown on a readable page", async () => {
    const { jar, callbackUrl } = await flowToCallback(name("denied"));
    const url = new URL(callbackUrl);
    url.searchParams.delete("code");
    url.searchParams.set("error", "access_denied");
    url.searchParams.set("error_description", "The user said no");
    const res = await request(jar, url.toString());
    const html = await res.text();
    expect(res.status === 403 && pageErrcode(html) === "M_FORBIDDEN" &&
      html.includes("access_denied: The user said no"), `${res.status} ${html.slice(0, 300)}`);
  });

  await run.step("a deactivated SSO user cannot sign in again (403 M_USER_DEACTIVATED)", async () => {
    const login = name("dave");
    const { loginToken } = await ssoFlow(login);
    const { body: dave } = await loginWithToken(loginToken);
    const deactivate = (auth) => fetch(`${baseUrl}/_matrix/client/v3/account/deactivate`, {
      method: "POST", headers: { authorization: `Bearer ${dave.access_token}` },
      body: JSON.stringify(auth ? { auth } : {}),
    });
    const { session } = await (await deactivate()).json();
    const jar = new CookieJar();
    const toIdp = await request(jar, `${baseUrl}/_nebu/sso/uia?session=${session}`);
    await throughProvider(jar, toIdp.headers.get("location"), login, callbackPrefix);
    const done = await deactivate({ type: "m.login.sso", session });
    expect(done.status === 200, `deactivate ${done.status} ${await done.text()}`);
    const again = new CookieJar();
    const { res, html } = await throughProvider(again, await startLogin(again), login, callbackPrefix);
    expect(res.status === 403 && pageErrcode(html) === "M_USER_DEACTIVATED",
      `${res.status} ${pageErrcode(html)}`);
  });
} finally {
  for (const c of clients) c.stopClient();
  await idp.close();
  run.finish();
}
