// A real OpenID Connect provider for the single sign-on suites (sso.mjs,
// sso_browser.mjs): oidc-provider (npm, pinned in package.json) on a loopback port
// with one confidential test client and its development login form (any login name,
// any password; the login name is the account). Around it, test-only switches that
// tamper with what the token endpoint answers, so nebu's refusals can be tested
// against the real provider:
//
//   const idp = await startProvider({ port, clientId, clientSecret, redirectUri });
//   idp.issuer                      // http://127.0.0.1:PORT
//   idp.setUsername("alice", "alice2")  // the account's preferred_username from now on
//   idp.tamper("wrong-aud" | "bad-signature" | "unknown-kid" | "rotate" | null)
//   idp.setCodeTtl(1)               // seconds an authorization code lives
//   await idp.close()
//
// Accounts: sub is "sub-" + login name (stable), preferred_username the login name
// unless renamed, name "Login Name" capitalised, email login@example.org.
import crypto from "node:crypto";
import http from "node:http";
import Provider from "oidc-provider";

function b64url(buf) {
  return Buffer.from(buf).toString("base64url");
}

function newKey(kid) {
  const { privateKey } = crypto.generateKeyPairSync("rsa", { modulusLength: 2048 });
  const jwk = { ...privateKey.export({ format: "jwk" }), kid, alg: "RS256", use: "sig" };
  const { d, p, q, dp, dq, qi, ...pub } = jwk;
  return { privateKey, jwk, pub };
}

// Re-signs the claims of `idToken` (changed by `edit`) with `key` (RS256).
function resign(idToken, key, edit = (c) => c) {
  const claims = edit(JSON.parse(Buffer.from(idToken.split(".")[1], "base64url").toString()));
  const header = { alg: "RS256", kid: key.jwk.kid, typ: "JWT" };
  const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
  const sig = crypto.sign("sha256", Buffer.from(input), key.privateKey);
  return `${input}.${b64url(sig)}`;
}

export async function startProvider({ port, clientId, clientSecret, redirectUri }) {
  const issuer = `http://127.0.0.1:${port}`;
  const signing = newKey("main");
  const published = [signing.pub];  // what /jwks serves
  const usernames = new Map();
  let mode = null;
  let codeTtl = 60;
  let rotations = 0;

  const provider = new Provider(issuer, {
    clients: [{
      client_id: clientId,
      client_secret: clientSecret,
      redirect_uris: [redirectUri],
      grant_types: ["authorization_code"],
      response_types: ["code"],
      token_endpoint_auth_method: "client_secret_basic",
    }],
    jwks: { keys: [signing.jwk] },
    pkce: { required: () => true },
    conformIdTokenClaims: false,  // profile and email claims in the ID token
    claims: { openid: ["sub"], profile: ["name", "preferred_username"], email: ["email", "email_verified"] },
    features: { devInteractions: { enabled: true } },
    ttl: { AuthorizationCode: () => codeTtl, Session: 3600, Interaction: 600, Grant: 3600, IdToken: 300 },
    cookies: { keys: [crypto.randomBytes(32).toString("hex")] },
    async findAccount(_ctx, id) {
      return {
        accountId: id,
        async claims() {
          return {
            sub: `sub-${id}`,
            preferred_username: usernames.get(id) ?? id,
            name: id.charAt(0).toUpperCase() + id.slice(1),
            email: `${id}@example.org`,
            email_verified: true,
          };
        },
      };
    },
  });
  provider.on("server_error", (_ctx, err) => console.error("oidc-provider:", err));
  const handler = provider.callback();

  // The token endpoint's answer, changed per `mode` (the provider's own answer otherwise).
  function tamperTokenReply(body) {
    const reply = JSON.parse(body);
    if (!reply.id_token || !mode) return body;
    if (mode === "wrong-aud") {
      reply.id_token = resign(reply.id_token, signing, (c) => ({ ...c, aud: "another-client" }));
    } else if (mode === "bad-signature") {
      const [h, p, s] = reply.id_token.split(".");
      const sig = Buffer.from(s, "base64url");
      sig[10] ^= 0xff;
      reply.id_token = `${h}.${p}.${b64url(sig)}`;
    } else if (mode === "unknown-kid") {
      reply.id_token = resign(reply.id_token, newKey("never-published"));
    } else if (mode === "rotate") {
      const key = newKey(`rotated-${++rotations}`);
      published.push(key.pub);
      reply.id_token = resign(reply.id_token, key);
    }
    return JSON.stringify(reply);
  }

  const server = http.createServer((req, res) => {
    const path = req.url.split("?")[0];
    if (path === "/jwks") {
      res.setHeader("content-type", "application/json");
      return res.end(JSON.stringify({ keys: published }));
    }
    if (path === "/token" && mode) {
      const end = res.end.bind(res);
      res.end = (chunk, ...rest) => {
        if (chunk && res.statusCode === 200) {
          const text = tamperTokenReply(chunk.toString());
          if (!res.headersSent) res.setHeader("content-length", Buffer.byteLength(text));
          return end(text, ...rest);
        }
        return end(chunk, ...rest);
      };
    }
    handler(req, res);
  });
  await new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", resolve);
  });
  return {
    issuer,
    setUsername(login, username) { usernames.set(login, username); },
    tamper(newMode) { mode = newMode; },
    setCodeTtl(seconds) { codeTtl = seconds; },
    close() {
      server.closeAllConnections?.();
      return new Promise((resolve) => server.close(resolve));
    },
  };
}

// ---- driving the browser side over plain HTTP ----

// Cookies per origin, from Set-Cookie (name=value only; enough for these servers).
export class CookieJar {
  constructor() { this.jars = new Map(); }
  store(url, res) {
    const origin = new URL(url).origin;
    const jar = this.jars.get(origin) ?? new Map();
    for (const line of res.headers.getSetCookie()) {
      const [pair, ...attrs] = line.split(";");
      const eq = pair.indexOf("=");
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      const expired = attrs.some((a) => /^\s*max-age=0\s*$/i.test(a)) || value === "";
      if (expired) jar.delete(name); else jar.set(name, value);
    }
    this.jars.set(origin, jar);
  }
  header(url) {
    const jar = this.jars.get(new URL(url).origin);
    return jar ? [...jar].map(([k, v]) => `${k}=${v}`).join("; ") : "";
  }
  drop(url, name) { this.jars.get(new URL(url).origin)?.delete(name); }
}

// One request without following redirects, with the jar's cookies.
export async function request(jar, url, { method = "GET", form } = {}) {
  const headers = { cookie: jar.header(url) };
  let body;
  if (form) {
    headers["content-type"] = "application/x-www-form-urlencoded";
    body = new URLSearchParams(form).toString();
  }
  let res;
  try {
    res = await fetch(url, { method, headers, body, redirect: "manual" });
  } catch (err) {
    throw new Error(`${method} ${url}: ${err.cause?.message ?? err.message}`);
  }
  jar.store(url, res);
  return res;
}

function decodeHtml(text) {
  return text.replace(/&amp;/g, "&").replace(/&quot;/g, '"').replace(/&#39;/g, "'")
    .replace(/&lt;/g, "<").replace(/&gt;/g, ">");
}

// The first <form>'s action (absolute) and hidden inputs of an HTML page.
function parseForm(html, pageUrl) {
  const form = html.match(/<form[^>]*action="([^"]*)"/);
  if (!form) throw new Error(`no form on ${pageUrl}: ${html.slice(0, 300)}`);
  const fields = {};
  for (const m of html.matchAll(/<input[^>]*type="hidden"[^>]*name="([^"]*)"[^>]*value="([^"]*)"/g)) {
    fields[m[1]] = decodeHtml(m[2]);
  }
  return { action: new URL(decodeHtml(form[1]), pageUrl).toString(), fields };
}

// Follows the provider's pages from `startUrl` (the authorization URL): submits the
// login form as `login` and the consent form, follows redirects, and stops at the
// first response from nebu's callback (returned with its URL), which it does NOT
// fetch when `stopBeforeCallback` is set (then { callbackUrl } only).
export async function throughProvider(jar, startUrl, login, callbackPrefix, { stopBeforeCallback = false } = {}) {
  let url = startUrl;
  for (let hops = 0; hops < 20; hops++) {
    if (url.startsWith(callbackPrefix) && stopBeforeCallback) return { callbackUrl: url };
    const res = await request(jar, url);
    if (url.startsWith(callbackPrefix)) return { callbackUrl: url, res, html: await res.text() };
    if (res.status >= 300 && res.status < 400) {
      url = new URL(res.headers.get("location"), url).toString();
      continue;
    }
    const html = await res.text();
    if (res.status !== 200) throw new Error(`provider answered ${res.status} at ${url}: ${html.slice(0, 300)}`);
    const { action, fields } = parseForm(html, url);
    const form = fields.prompt === "login" ? { ...fields, login, password: "any" } : fields;
    const posted = await request(jar, action, { method: "POST", form });
    if (posted.status < 300 || posted.status >= 400) {
      throw new Error(`form ${action} answered ${posted.status}: ${(await posted.text()).slice(0, 300)}`);
    }
    url = new URL(posted.headers.get("location"), action).toString();
  }
  throw new Error("too many redirects");
}

// The continue link of nebu's confirmation page, and the loginToken in it.
export function confirmLink(html) {
  const m = html.match(/id="continue" href="([^"]*)"/);
  if (!m) throw new Error(`no continue link: ${html.slice(0, 400)}`);
  const link = decodeHtml(m[1]);
  return { link, loginToken: new URL(link).searchParams.get("loginToken") };
}

// The errcode of nebu's error page.
export function pageErrcode(html) {
  return html.match(/id="errcode">([^<]*)</)?.[1];
}
