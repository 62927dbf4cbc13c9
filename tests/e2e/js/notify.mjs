// Goal: unread badges as matrix-js-sdk 37.5.0 shows them come from nebu's push-rule
// evaluation: messages count, a mention (m.mentions) highlights, a read receipt resets.
// Method: alice and bob register; alice creates a room of three (carol too, so the
// room is not a DM) and sends two messages and one mention of bob; bob's sync loop must
// show room.getUnreadNotificationCount() total 3, highlight 1. Bob sends a read receipt
// for the last event, alice sends one more message: bob's counts become 1 / 0 (server
// counts after the receipt). A fresh client of bob's (a new initial sync) sees the same.
// Every wait is bounded; the suite prints each step and exits non-zero on a failure.
//
//   NEBU_E2E_URL=http://127.0.0.1:8008 node notify.mjs
import {
  sdk, Steps, baseUrl, stepTimeoutMs, registerUser, clientFor, startAndWaitPrepared, poll,
} from "./common.mjs";

const run = new Steps("js-notify");
console.log(`js-notify: matrix-js-sdk against ${baseUrl}`);
const clients = [];
const { Total, Highlight } = sdk.NotificationCountType;

function counts(client, roomId) {
  const room = client.getRoom(roomId);
  if (!room) return null;
  return { total: room.getUnreadNotificationCount(Total), highlight: room.getUnreadNotificationCount(Highlight) };
}

async function waitCounts(client, roomId, total, highlight, what) {
  let last;
  try {
    await poll(() => {
      last = counts(client, roomId);
      return last && last.total === total && last.highlight === highlight;
    }, stepTimeoutMs, what);
  } catch (err) {
    throw new Error(`${err.message}; last seen ${JSON.stringify(last)}`);
  }
}

try {
  const aliceCreds = await run.step("register alice", () => registerUser("alice"), { critical: true });
  const bobCreds = await run.step("register bob", () => registerUser("bob"), { critical: true });
  const carolCreds = await run.step("register carol", () => registerUser("carol"), { critical: true });

  let alice, bob, carol;
  await run.step("sync loops start", async () => {
    alice = clientFor(aliceCreds);
    bob = clientFor(bobCreds);
    carol = clientFor(carolCreds);
    clients.push(alice, bob, carol);
    await Promise.all([startAndWaitPrepared(alice), startAndWaitPrepared(bob)]);
  }, { critical: true });

  let roomId;
  await run.step("alice creates a public room; bob and carol join", async () => {
    ({ room_id: roomId } = await alice.createRoom({ name: "e2e notify", preset: "public_chat" }));
    await bob.joinRoom(roomId);
    await carol.joinRoom(roomId);
    await poll(() => bob.getRoom(roomId)?.getMyMembership() === "join", stepTimeoutMs, "bob joined in his sync");
  }, { critical: true });

  let lastEventId;
  await run.step("two messages and a mention give bob 3 unread, 1 highlight", async () => {
    await alice.sendTextMessage(roomId, "hello");
    await alice.sendTextMessage(roomId, "how are you all?");
    ({ event_id: lastEventId } = await alice.sendMessage(roomId, {
      msgtype: "m.text", body: "bob: look at this", "m.mentions": { user_ids: [bob.getUserId()] },
    }));
    await waitCounts(bob, roomId, 3, 1, "bob's badge 3/1");
  }, { critical: true });

  await run.step("alice, the sender, has no unread notifications", async () => {
    await waitCounts(alice, roomId, 0, 0, "alice's badge 0/0");
  });

  await run.step("a read receipt resets the counts: a later message counts alone", async () => {
    await poll(() => bob.getRoom(roomId)?.findEventById(lastEventId), stepTimeoutMs, "the mention in bob's timeline");
    const event = bob.getRoom(roomId).findEventById(lastEventId);
    await bob.sendReadReceipt(event);
    await alice.sendTextMessage(roomId, "one more");
    await waitCounts(bob, roomId, 1, 0, "bob's badge 1/0 after his receipt");
  });

  await run.step("a fresh client of bob's reads the same counts from its initial sync", async () => {
    const fresh = clientFor(bobCreds);
    clients.push(fresh);
    await startAndWaitPrepared(fresh);
    await waitCounts(fresh, roomId, 1, 0, "the fresh client's badge 1/0");
  });
} finally {
  for (const c of clients) c.stopClient();
}
run.finish();
