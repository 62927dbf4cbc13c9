// Goal: matrix-js-sdk 37.5.0 with thread support, as Element uses it, sees threads
// through nebu: the thread list (GET /v1/rooms/{roomId}/threads) and the m.thread
// aggregation (latest event, count, participation).
// Method: alice and bob register and share a room; alice sends a root, bob replies
// three times in its thread (the SDK's thread send path, after creating the thread
// object as Element does when a user opens a new thread); a fresh client of
// alice's with threadSupport fetches the room's threads (room.fetchRoomThreads) and
// must find the thread with 3 replies and bob's last reply as the latest; the raw
// /threads answer is checked too (include=all and participated), and an edit of the
// latest reply shows as its m.replace aggregation. Every wait is bounded.
//
//   NEBU_E2E_URL=http://127.0.0.1:8008 node threads.mjs
import {
  sdk, Steps, baseUrl, stepTimeoutMs, registerUser, clientFor, startAndWaitPrepared, poll,
} from "./common.mjs";

const kReplies = 3;

const run = new Steps("js-threads");
console.log(`js-threads: matrix-js-sdk against ${baseUrl}`);
const clients = [];

// A Client-Server API call with a user's token; the parsed body (throws on non-200).
async function callJson(creds, method, path, body) {
  const res = await fetch(`${baseUrl}/_matrix/client${path}`, {
    method,
    headers: { Authorization: `Bearer ${creds.accessToken}`, "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(stepTimeoutMs),
  });
  const answer = await res.json();
  if (res.status !== 200) throw new Error(`${method} ${path}: HTTP ${res.status} ${JSON.stringify(answer)}`);
  return answer;
}
const getJson = (creds, path) => callJson(creds, "GET", path);
// Sends a room message over plain HTTP.
let txn = 0;
const sendRaw = (creds, roomId, content) => callJson(creds, "PUT",
  `/v3/rooms/${encodeURIComponent(roomId)}/send/m.room.message/e2e-${Date.now()}-${++txn}`, content);

function threadReply(rootId, body) {
  return {
    msgtype: "m.text",
    body,
    "m.relates_to": {
      rel_type: "m.thread",
      event_id: rootId,
      is_falling_back: true,
      "m.in_reply_to": { event_id: rootId },
    },
  };
}

try {
  const aliceCreds = await run.step("register alice", () => registerUser("alice"), { critical: true });
  const bobCreds = await run.step("register bob", () => registerUser("bob"), { critical: true });

  let alice, bob, roomId;
  await run.step("alice and bob share a room (threadSupport clients)", async () => {
    alice = clientFor(aliceCreds);
    bob = clientFor(bobCreds);
    clients.push(alice, bob);
    await Promise.all([
      startAndWaitPrepared(alice, { threadSupport: true }),
      startAndWaitPrepared(bob, { threadSupport: true }),
    ]);
    ({ room_id: roomId } = await alice.createRoom({ name: "e2e threads", preset: "public_chat" }));
    await bob.joinRoom(roomId);
    await poll(() => bob.getRoom(roomId)?.getMyMembership() === "join", stepTimeoutMs, "bob joined");
  }, { critical: true });

  let rootId;
  const replyIds = [];
  await run.step(`alice sends a root, bob replies ${kReplies} times in its thread`, async () => {
    ({ event_id: rootId } = await alice.sendMessage(roomId, { msgtype: "m.text", body: "thread root" }));
    await poll(() => bob.getRoom(roomId)?.findEventById(rootId), stepTimeoutMs, "bob sees the root");
    // Without the thread object the SDK drops the local echo of the first reply of a new
    // thread and then fails its send ("updatePendingEventStatus called on an event which
    // is not a local echo"); Element creates it when the user opens the thread.
    const bobRoom = bob.getRoom(roomId);
    await bobRoom.createThreadsTimelineSets();
    bobRoom.createThread(rootId, bobRoom.findEventById(rootId), [], true);
    for (let i = 1; i <= kReplies; ++i) {
      const { event_id } = await bob.sendMessage(roomId, rootId, threadReply(rootId, `reply ${i}`));
      replyIds.push(event_id);
    }
  }, { critical: true });

  await run.step("the /threads API lists the thread with its count and latest event", async () => {
    const all = await getJson(aliceCreds, `/v1/rooms/${encodeURIComponent(roomId)}/threads`);
    if (all.chunk.length !== 1 || all.chunk[0].event_id !== rootId) {
      throw new Error(`expected one thread ${rootId}, got ${JSON.stringify(all.chunk.map((e) => e.event_id))}`);
    }
    const thread = all.chunk[0].unsigned?.["m.relations"]?.["m.thread"];
    if (thread?.count !== kReplies) throw new Error(`count ${thread?.count}, expected ${kReplies}`);
    if (thread.latest_event?.event_id !== replyIds.at(-1)) {
      throw new Error(`latest_event ${thread.latest_event?.event_id}, expected ${replyIds.at(-1)}`);
    }
    if (thread.current_user_participated !== true) throw new Error("alice sent the root: participated");
    const mine = await getJson(bobCreds,
      `/v1/rooms/${encodeURIComponent(roomId)}/threads?include=participated`);
    if (mine.chunk.length !== 1) throw new Error(`bob's participated threads: ${mine.chunk.length}`);
  });

  await run.step("a fresh client's room.fetchRoomThreads() finds the thread", async () => {
    const fresh = clientFor(aliceCreds);
    clients.push(fresh);
    await startAndWaitPrepared(fresh, { threadSupport: true });
    const room = await poll(() => fresh.getRoom(roomId), stepTimeoutMs, "the room in the fresh client");
    await room.createThreadsTimelineSets();
    await room.fetchRoomThreads();
    const thread = await poll(() => room.getThread(rootId), stepTimeoutMs, "the thread in the SDK");
    await poll(() => thread.length === kReplies && thread.replyToEvent?.getId() === replyIds.at(-1),
      stepTimeoutMs,
      `thread length ${kReplies} with the last reply latest (length ${thread.length}, ` +
        `latest ${thread.replyToEvent?.getId()})`);
    const listed = room.getThreads().map((t) => t.id);
    if (!listed.includes(rootId)) throw new Error(`room.getThreads(): ${JSON.stringify(listed)}`);
  });

  await run.step("an edit of the latest reply shows in its m.replace aggregation", async () => {
    const last = replyIds.at(-1);
    const { event_id: editId } = await sendRaw(bobCreds, roomId, {
      msgtype: "m.text",
      body: "* reply edited",
      "m.new_content": { msgtype: "m.text", body: "reply edited" },
      "m.relates_to": { rel_type: "m.replace", event_id: last },
    });
    const event = await getJson(aliceCreds,
      `/v3/rooms/${encodeURIComponent(roomId)}/event/${encodeURIComponent(last)}`);
    const edit = event.unsigned?.["m.relations"]?.["m.replace"];
    if (edit?.event_id !== editId) throw new Error(`m.replace ${JSON.stringify(edit)}, expected ${editId}`);
    if (event.content.body !== `reply ${kReplies}`) throw new Error("the original content must stay");
  });
} finally {
  for (const c of clients) c.stopClient();
  run.finish();
}
