// Goal: matrix-js-sdk 37.5.0 chats through a three-node nebu cluster (issue 8): any
// node serves any client, and a sync token issued by one node is valid on another.
// Method: alice registers on node 1 and bob on node 3; alice creates a room and bob
// joins it (on node 3); a message alice sends on node 1 reaches bob's sync loop on
// node 3, and one bob sends on node 3 reaches alice's on node 1. Then bob's client
// switches to node 2 mid-session: the old client stops, alice sends a message while
// bob has no client, and a new client on node 2 (same access token and device, its
// first /sync from the old client's last sync token) receives that message and the
// next one, with no sync error. Every wait is bounded; exits non-zero on a failure.
//
//   NEBU_E2E_URLS=http://127.0.0.1:P1,http://127.0.0.1:P2,http://127.0.0.1:P3 node cluster.mjs
import {
  sdk, Steps, stepTimeoutMs, runId, startAndWaitPrepared, waitFor, poll, withTimeout,
} from "./common.mjs";

const urls = (process.env.NEBU_E2E_URLS ?? "").split(",").filter((u) => u);
if (urls.length !== 3) {
  console.log(`js-cluster: NEBU_E2E_URLS must name 3 nodes, got ${JSON.stringify(urls)}`);
  process.exit(2);
}
const [node1, node2, node3] = urls;

const run = new Steps("js-cluster");
console.log(`js-cluster: matrix-js-sdk against node 1 ${node1}, node 2 ${node2}, node 3 ${node3}`);
const clients = [];

// Registers `${name}-${runId}` on the node at `url` (m.login.dummy); its credentials.
async function registerOn(url, name) {
  const http = sdk.createClient({ baseUrl: url });
  const res = await withTimeout(
    http.registerRequest({
      username: `${name}-${runId}`,
      password: `pw-${runId}-${name}`,
      initial_device_display_name: `e2e ${name}`,
      auth: { type: "m.login.dummy" },
    }),
    stepTimeoutMs,
    `registration of ${name} at ${url}`,
  );
  return { userId: res.user_id, accessToken: res.access_token, deviceId: res.device_id };
}

// A client of `creds` talking to the node at `url` (not started); `store` optional.
// The URLs of its /sync requests are recorded in `syncUrls` (if given).
function clientOn(url, creds, store, syncUrls) {
  const fetchFn = (input, init) => {
    const target = String(input?.url ?? input);
    if (syncUrls && new URL(target).pathname.endsWith("/sync")) syncUrls.push(target);
    return fetch(input, init);
  };
  return sdk.createClient({
    baseUrl: url,
    userId: creds.userId,
    accessToken: creds.accessToken,
    deviceId: creds.deviceId,
    timelineSupport: true,
    fetchFn,
    ...(store ? { store } : {}),
  });
}

// A MemoryStore that hands the SDK `token` as its saved sync token: the client's first
// /sync is incremental from it, as after a restart with a persistent store.
function storeResumingFrom(token) {
  const store = new sdk.MemoryStore();
  store.getSavedSyncToken = () => Promise.resolve(token);
  return store;
}

// Resolves when `client`'s live timeline of `roomId` holds an m.room.message with
// `body` (the room may be new to the client: a client resuming from a sync token
// learns it from that sync).
function messageArrives(client, roomId, body, what) {
  return poll(() => client.getRoom(roomId)?.getLiveTimeline().getEvents()
    .some((e) => e.getType() === "m.room.message" && e.getContent().body === body),
  stepTimeoutMs, what);
}

// Fails the step if `client`'s sync loop reports ERROR while `promise` runs.
function noSyncError(client, promise) {
  let onSync;
  const failed = new Promise((_, reject) => {
    onSync = (state, _prev, data) => {
      if (state === "ERROR") reject(new Error(`sync failed: ${data?.error?.message ?? state}`));
    };
    client.on(sdk.ClientEvent.Sync, onSync);
  });
  return Promise.race([promise, failed])
    .finally(() => client.removeListener(sdk.ClientEvent.Sync, onSync));
}

try {
  const aliceCreds = await run.step("register alice on node 1", () => registerOn(node1, "alice"),
    { critical: true });
  const bobCreds = await run.step("register bob on node 3", () => registerOn(node3, "bob"),
    { critical: true });

  let alice, bob;
  await run.step("alice syncs on node 1, bob on node 3", async () => {
    alice = clientOn(node1, aliceCreds);
    bob = clientOn(node3, bobCreds);
    clients.push(alice, bob);
    await Promise.all([startAndWaitPrepared(alice), startAndWaitPrepared(bob)]);
  }, { critical: true });

  let roomId;
  await run.step("alice creates a room on node 1; bob joins it on node 3", async () => {
    ({ room_id: roomId } = await alice.createRoom({ name: "e2e cluster", preset: "public_chat" }));
    const seen = waitFor(alice, sdk.RoomMemberEvent.Membership,
      (_e, member) => member.roomId === roomId && member.userId === bob.getUserId() &&
        member.membership === "join",
      stepTimeoutMs, "bob's join (node 3) in alice's sync (node 1)");
    // Node 3 may not have applied the creation yet when alice's answer comes: retry.
    await poll(async () => {
      try {
        await bob.joinRoom(roomId);
        return true;
      } catch (err) {
        if (err?.httpStatus === 404 || err?.httpStatus === 403) return false;
        throw err;
      }
    }, stepTimeoutMs, "bob's join on node 3");
    await seen;
    await poll(() => bob.getRoom(roomId)?.getMyMembership() === "join", stepTimeoutMs,
      "bob's own sync (node 3) to show him joined");
  }, { critical: true });

  await run.step("alice's message on node 1 reaches bob's sync on node 3", async () => {
    const body = `from node 1 ${runId}`;
    const seen = messageArrives(bob, roomId, body, "alice's message in bob's sync on node 3");
    await alice.sendTextMessage(roomId, body);
    await noSyncError(bob, seen);
  });

  await run.step("bob's message on node 3 reaches alice's sync on node 1", async () => {
    const body = `from node 3 ${runId}`;
    const seen = messageArrives(alice, roomId, body, "bob's message in alice's sync on node 1");
    await bob.sendTextMessage(roomId, body);
    await noSyncError(alice, seen);
  });

  await run.step("bob switches to node 2 with his sync token and misses nothing", async () => {
    const token = bob.store.getSyncToken();
    if (!token) throw new Error("bob's client on node 3 has no sync token");
    bob.stopClient();
    // Sent while bob has no client: the token from node 3 must bring it on node 2.
    const between = `while bob switches ${runId}`;
    await alice.sendTextMessage(roomId, between);
    const syncUrls = [];
    const bob2 = clientOn(node2, bobCreds, storeResumingFrom(token), syncUrls);
    clients.push(bob2);
    const missed = messageArrives(bob2, roomId, between,
      "the message sent during the switch, on node 2");
    await startAndWaitPrepared(bob2);
    await noSyncError(bob2, missed);
    // Node 2 accepted node 3's token: the client's first /sync went from it.
    const first = syncUrls.length ? new URL(syncUrls[0]).searchParams.get("since") : null;
    if (first !== token) {
      throw new Error(`bob's first /sync on node 2 was not from node 3's token ${token}: ` +
        `${syncUrls[0]}`);
    }
    const next = `after the switch ${runId}`;
    const seen = messageArrives(bob2, roomId, next, "the next message in bob's sync on node 2");
    await alice.sendTextMessage(roomId, next);
    await noSyncError(bob2, seen);
    // bob answers from node 2; alice (node 1) gets it.
    const reply = `from node 2 ${runId}`;
    const back = messageArrives(alice, roomId, reply, "bob's reply from node 2 in alice's sync");
    await bob2.sendTextMessage(roomId, reply);
    await back;
  });
} finally {
  for (const c of clients) c.stopClient();
  run.finish();
}
