// Goal: a pusher set by matrix-js-sdk 37.5.0 receives a notification on a push gateway
// when another user writes: nebu POSTs /_matrix/push/v1/notify with the Push Gateway
// API's fields (event_id, room_id, type, sender, content, counts.unread, prio, devices
// with app_id, pushkey, pushkey_ts, data without url, tweaks).
// Method: a node HTTP server on 127.0.0.1 (ephemeral port) plays the gateway and
// records every body; alice sets an http pusher to it with client.setPusher; bob
// creates a room with alice, alice joins, bob sends a message; the gateway must see
// it within the step timeout. Then alice removes the pusher (kind null) and
// getPushers() is empty. Every wait is bounded; exit code non-zero on a failure.
//
//   NEBU_E2E_URL=http://127.0.0.1:8008 node pusher.mjs
import http from "node:http";
import {
  Steps, baseUrl, stepTimeoutMs, registerUser, clientFor, poll,
} from "./common.mjs";

const run = new Steps("js-pusher");
console.log(`js-pusher: matrix-js-sdk against ${baseUrl}`);
const notifies = [];
const gateway = http.createServer((req, res) => {
  let body = "";
  req.on("data", (chunk) => { body += chunk; });
  req.on("end", () => {
    if (req.method === "POST" && req.url === "/_matrix/push/v1/notify") {
      try { notifies.push(JSON.parse(body)); } catch { notifies.push({ unparsable: body }); }
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ rejected: [] }));
    } else {
      res.writeHead(404);
      res.end();
    }
  });
});
await new Promise((resolve) => gateway.listen(0, "127.0.0.1", resolve));
const gatewayUrl = `http://127.0.0.1:${gateway.address().port}/_matrix/push/v1/notify`;

function expectEqual(actual, expected, what) {
  if (JSON.stringify(actual) !== JSON.stringify(expected)) {
    throw new Error(`${what}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`);
  }
}

const pushkey = `e2e-pushkey-${Date.now()}`;
try {
  const aliceCreds = await run.step("register alice", () => registerUser("alice"), { critical: true });
  const bobCreds = await run.step("register bob", () => registerUser("bob"), { critical: true });
  const alice = clientFor(aliceCreds);
  const bob = clientFor(bobCreds);

  await run.step("alice sets an http pusher to the loopback gateway", async () => {
    await alice.setPusher({
      kind: "http", app_id: "org.nebu.e2e", pushkey, app_display_name: "nebu e2e",
      device_display_name: "node", lang: "en", append: false,
      data: { url: gatewayUrl, custom: "kept" },
    });
    const { pushers } = await alice.getPushers();
    expectEqual(pushers.map((p) => p.pushkey), [pushkey], "alice's pushers");
  }, { critical: true });

  let roomId;
  await run.step("bob creates a room, alice joins", async () => {
    ({ room_id: roomId } = await bob.createRoom({ preset: "public_chat", name: "e2e pusher" }));
    await alice.joinRoom(roomId);
  }, { critical: true });

  let eventId;
  await run.step("bob's message reaches the gateway with the spec's fields", async () => {
    ({ event_id: eventId } = await bob.sendTextMessage(roomId, "ping for alice"));
    await poll(() => notifies.some((n) => n.notification?.event_id === eventId), stepTimeoutMs,
      "the notify for bob's message");
    const n = notifies.find((x) => x.notification?.event_id === eventId).notification;
    expectEqual(n.room_id, roomId, "room_id");
    expectEqual(n.type, "m.room.message", "type");
    expectEqual(n.sender, bob.getUserId(), "sender");
    expectEqual(n.content?.body, "ping for alice", "content.body");
    if (!(n.counts?.unread >= 1)) throw new Error(`counts.unread ${JSON.stringify(n.counts)}`);
    if (!["high", "low"].includes(n.prio)) throw new Error(`prio ${n.prio}`);
    const d = n.devices?.[0] ?? {};
    expectEqual([d.app_id, d.pushkey], ["org.nebu.e2e", pushkey], "device app_id/pushkey");
    expectEqual(d.data, { custom: "kept" }, "device data (url removed)");
    if (!(d.pushkey_ts > 0)) throw new Error(`pushkey_ts ${d.pushkey_ts}`);
    if (typeof d.tweaks !== "object") throw new Error("no tweaks");
  });

  await run.step("bob's own messages are not pushed to bob (he has no pusher)", async () => {
    expectEqual(notifies.filter((x) => x.notification?.devices?.[0]?.pushkey !== pushkey).length, 0,
      "notifies for other pushkeys");
  });

  await run.step("kind null removes the pusher", async () => {
    await alice.setPusher({ kind: null, app_id: "org.nebu.e2e", pushkey });
    const { pushers } = await alice.getPushers();
    expectEqual(pushers.length, 0, "alice's pushers after removal");
  });
} finally {
  gateway.close();
}
run.finish();
