// js-sso-browser: single sign-on in a real browser. Headless Chromium (Debian's
// chromium, driven by playwright-core) starts at nebu's SSO redirect, fills in the
// provider's login form (oidc-provider, oidc_provider.mjs) and clicks through its
// consent page, reaches nebu's confirmation page and clicks Continue to the client
// URL (answered inside the browser by a route: nothing listens there), whose
// loginToken then logs in with m.login.token. So the redirects, the SameSite flow
// cookie and the pages work in a browser, not only over fetch. Chromium runs with
// --no-sandbox only when this process is root (CI containers).
import { chromium } from "playwright-core";
import { baseUrl, runId, Steps } from "./common.mjs";
import { startProvider } from "./oidc_provider.mjs";

const run = new Steps("js-sso-browser");
const port = Number(process.env.NEBU_E2E_OIDC_PORT);
const clientRedirect = "http://127.0.0.1:9/client/";
const chromiumPath = process.env.NEBU_E2E_CHROMIUM ?? "/usr/bin/chromium";
const timeout = 20000;

const idp = await startProvider({
  port, clientId: "nebu-e2e", clientSecret: "e2e-oidc-secret",
  redirectUri: `${baseUrl}/_nebu/sso/callback`,
});
let browser;
try {
  const args = ["--disable-dev-shm-usage"];
  if (process.getuid?.() === 0) args.push("--no-sandbox");
  browser = await run.step("headless Chromium starts", () =>
    chromium.launch({ executablePath: chromiumPath, args, timeout }), { critical: true });
  const page = await browser.newPage();
  page.setDefaultTimeout(timeout);
  let clientUrl;
  await page.route("http://127.0.0.1:9/**", (route) => {
    clientUrl = route.request().url();
    return route.fulfill({ status: 200, contentType: "text/html", body: "<p id=client>client</p>" });
  });
  const login = `browser${runId}`.toLowerCase();

  await run.step("the provider's login page, reached through nebu's redirect", async () => {
    await page.goto(`${baseUrl}/_matrix/client/v3/login/sso/redirect/oidc?redirectUrl=` +
      encodeURIComponent(clientRedirect));
    await page.waitForSelector('input[name="login"]');
  }, { critical: true });

  await run.step("sign in and consent on the provider's pages", async () => {
    await page.fill('input[name="login"]', login);
    await page.fill('input[name="password"]', "any password");
    await page.click('button[type="submit"]');
    await page.waitForSelector('button[type="submit"]:has-text("Continue")');
    await page.click('button[type="submit"]');
    await page.waitForSelector("#continue");
  }, { critical: true });

  await run.step("nebu's confirmation page names the new user; Continue goes to the client", async () => {
    const userId = await page.textContent("#user-id");
    if (userId !== `@${login}:localhost`) throw new Error(`confirmation page names ${userId}`);
    await page.click("#continue");
    await page.waitForSelector("#client");
    if (!clientUrl?.startsWith(clientRedirect)) throw new Error(`client URL ${clientUrl}`);
  }, { critical: true });

  await run.step("the client's loginToken logs in (m.login.token)", async () => {
    const token = new URL(clientUrl).searchParams.get("loginToken");
    const res = await fetch(`${baseUrl}/_matrix/client/v3/login`, {
      method: "POST", body: JSON.stringify({ type: "m.login.token", token }),
    });
    const body = await res.json();
    if (res.status !== 200 || body.user_id !== `@${login}:localhost`) {
      throw new Error(`login ${res.status} ${JSON.stringify(body)}`);
    }
  });
} finally {
  await browser?.close();
  await idp.close();
  run.finish();
}
