// Goal: a matrix-js-sdk 37.5.0 client that synced against a node before a backup was
// restored re-syncs cleanly against the restored node: its old sync token belongs to
// the history the restore rewound, so nebu answers it with an initial sync (the
// token's epoch differs) instead of a wrong incremental one.
// Method, in two runs driven by scripts/restore_drill.sh:
//   node restore.mjs before   (against the original node) alice registers, creates a
//       room, sends messages with the SDK, and saves her credentials, the room, the
//       event IDs and the SDK's current sync token in NEBU_E2E_STATE_FILE;
//   (the drill backs up, sends more, restores into a new directory, starts a node there)
//   node restore.mjs after    (against the restored node) a client whose store hands
//       the SDK the saved token (as a client restarting with a persisted sync would)
//       starts: its first /sync is sent with the old token; the room must appear with
//       its create event and the last message saved before the backup, every saved
//       event must be fetchable with the same ID, the SDK's new token carries the new
//       epoch, and a message sent now arrives through the incremental sync loop.
// Every wait is bounded; the suite prints each step and exits non-zero on a failure.
//
//   NEBU_E2E_URL=http://127.0.0.1:8008 NEBU_E2E_STATE_FILE=/tmp/s.json node restore.mjs before
import { readFileSync, writeFileSync } from "node:fs";
import { sdk, Steps, baseUrl, registerUser, clientFor, startAndWaitPrepared, waitFor, stepTimeoutMs } from "./common.mjs";

const phase = process.argv[2];
const stateFile = process.env.NEBU_E2E_STATE_FILE;
const messages = 30;
const run = new Steps(`js-restore ${phase}`);
console.log(`js-restore ${phase}: matrix-js-sdk against ${baseUrl}`);
const clients = [];

// A MemoryStore that hands the SDK one saved sync (only its token matters here).
class SavedTokenStore extends sdk.MemoryStore {
  constructor(token) {
    super();
    this.savedToken = token;
  }
  async getSavedSync() {
    if (!this.savedToken) return null;
    const nextBatch = this.savedToken;
    this.savedToken = null;
    return { nextBatch, roomsData: { join: {}, invite: {}, leave: {}, knock: {} }, accountData: [] };
  }
}

async function before() {
  const creds = await run.step("alice registers", () => registerUser("alice"), { critical: true });
  const alice = clientFor(creds);
  clients.push(alice);
  await run.step("alice's sync loop starts", () => startAndWaitPrepared(alice), { critical: true });
  const saved = await run.step(`alice creates a room and sends ${messages} messages`, async () => {
    const { room_id: roomId } = await alice.createRoom({ name: "restore drill" });
    const eventIds = [];
    for (let i = 0; i < messages; ++i) {
      const { event_id: id } = await alice.sendTextMessage(roomId, `before backup ${i}`);
      eventIds.push(id);
    }
    return { roomId, eventIds };
  }, { critical: true });
  await run.step("the SDK has synced the last message; its token is saved", async () => {
    const last = saved.eventIds[saved.eventIds.length - 1];
    const room = alice.getRoom(saved.roomId);
    if (!room?.findEventById(last)) {
      await waitFor(alice, sdk.RoomEvent.Timeline, (event) => event.getId() === last,
        stepTimeoutMs, "the last message in alice's timeline",
        () => !!alice.getRoom(saved.roomId)?.findEventById(last));
    }
    const token = alice.store.getSyncToken();
    if (!token) throw new Error("the SDK holds no sync token");
    writeFileSync(stateFile, JSON.stringify({ creds, ...saved, token }));
  }, { critical: true });
}

async function after() {
  const state = JSON.parse(readFileSync(stateFile, "utf8"));
  const alice = sdk.createClient({
    baseUrl,
    userId: state.creds.userId,
    accessToken: state.creds.accessToken,
    deviceId: state.creds.deviceId,
    timelineSupport: true,
    store: new SavedTokenStore(state.token),
  });
  clients.push(alice);
  await run.step(`alice's client starts from the old token ${state.token}`, () => startAndWaitPrepared(alice),
    { critical: true });
  await run.step("the re-sync holds the room with its create event and last message", async () => {
    const check = () => {
      const room = alice.getRoom(state.roomId);
      return !!room && !!room.currentState.getStateEvents("m.room.create", "") &&
        !!room.findEventById(state.eventIds[state.eventIds.length - 1]);
    };
    if (!check()) {
      await waitFor(alice, sdk.ClientEvent.Sync, () => check(), stepTimeoutMs, "the room after re-sync", check);
    }
  });
  await run.step("the SDK's new token carries the restored node's epoch", async () => {
    const token = alice.store.getSyncToken();
    if (!token || token === state.token || !token.includes("e")) {
      throw new Error(`token ${token} (old ${state.token}) has no new epoch`);
    }
  });
  await run.step(`all ${state.eventIds.length} messages are there with the same IDs`, async () => {
    for (const id of state.eventIds) {
      const event = await alice.fetchRoomEvent(state.roomId, id);
      if (event.event_id !== id) throw new Error(`fetched ${event.event_id} for ${id}`);
    }
  });
  await run.step("a message sent now arrives through the incremental sync loop", async () => {
    const arrived = waitFor(alice, sdk.RoomEvent.Timeline,
      (event) => event.getContent().body === "after restore", stepTimeoutMs, "the new message");
    await alice.sendTextMessage(state.roomId, "after restore");
    await arrived;
  });
}

try {
  if (!stateFile) throw new Error("NEBU_E2E_STATE_FILE is not set");
  if (phase === "before") await before();
  else if (phase === "after") await after();
  else throw new Error("usage: node restore.mjs before|after");
} catch (err) {
  console.log(`js-restore: ${err.stack ?? err}`);
  run.failed.push("setup");
} finally {
  for (const c of clients) c.stopClient();
  run.finish();
}
