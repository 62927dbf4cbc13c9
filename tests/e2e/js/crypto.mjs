// Goal: two matrix-js-sdk clients with Rust crypto (@matrix-org/matrix-sdk-crypto-wasm)
// exchange end-to-end encrypted messages through nebu, which stores and relays the
// keys (/keys/upload, /keys/query, /keys/claim, /sendToDevice, sync to_device,
// device_lists, device_one_time_keys_count) without reading them.
// Method: register alice and bob, initRustCrypto (in-memory stores) and start both
// sync loops; each sees the other's device through /keys/query; alice creates a room
// with m.room.encryption and invites bob, who joins; alice sends a message that must
// reach bob as m.room.encrypted and decrypt to the text sent; then bob answers and
// alice decrypts. Every wait is bounded; non-zero exit on any failure.
//
//   NEBU_E2E_URL=http://127.0.0.1:8008 node crypto.mjs
import {
  sdk, Steps, baseUrl, stepTimeoutMs, registerUser, clientFor, startAndWaitPrepared,
  waitFor, poll, withTimeout,
} from "./common.mjs";

const run = new Steps("js-crypto");
console.log(`js-crypto: matrix-js-sdk with Rust crypto against ${baseUrl}`);
const clients = [];

// Resolves with the clear text of the first event from `sender` in `roomId` that
// `client` decrypts; rejects on a decryption failure of such an event.
function nextDecrypted(client, roomId, sender, what) {
  let onDecrypted;
  const result = new Promise((resolve, reject) => {
    onDecrypted = (event) => {
      if (event.getRoomId() !== roomId || event.getSender() !== sender) return;
      if (event.isDecryptionFailure()) {
        reject(new Error(`${what}: decryption failed: ${event.decryptionFailureReason} ` +
          `(${event.getContent().body ?? ""})`));
      } else if (event.getType() === "m.room.message") {
        resolve(event);
      }
    };
    client.on(sdk.MatrixEventEvent.Decrypted, onDecrypted);
  });
  return withTimeout(result, stepTimeoutMs * 2, what).finally(() => client.removeListener(sdk.MatrixEventEvent.Decrypted, onDecrypted));
}

// Waits for `client`'s crypto to know `userId`'s device `deviceId` (via /keys/query).
async function waitForDevice(client, userId, deviceId) {
  return poll(async () => {
    const map = await client.getCrypto().getUserDeviceInfo([userId], true);
    return map.get(userId)?.has(deviceId);
  }, stepTimeoutMs, `${client.getUserId()} to see device ${deviceId} of ${userId} (/keys/query)`);
}

try {
  const aliceCreds = await run.step("register alice", () => registerUser("calice"), { critical: true });
  const bobCreds = await run.step("register bob", () => registerUser("cbob"), { critical: true });

  let alice, bob;
  await run.step("initRustCrypto and start both sync loops", async () => {
    alice = clientFor(aliceCreds);
    bob = clientFor(bobCreds);
    clients.push(alice, bob);
    await alice.initRustCrypto({ useIndexedDB: false });
    await bob.initRustCrypto({ useIndexedDB: false });
    await Promise.all([startAndWaitPrepared(alice), startAndWaitPrepared(bob)]);
  }, { critical: true });

  await run.step("each sees the other's device keys (/keys/upload, /keys/query)", async () => {
    await waitForDevice(alice, bob.getUserId(), bob.getDeviceId());
    await waitForDevice(bob, alice.getUserId(), alice.getDeviceId());
  }, { critical: true });

  let roomId;
  await run.step("alice creates an encrypted room, bob joins", async () => {
    ({ room_id: roomId } = await alice.createRoom({
      name: "e2e crypto",
      preset: "private_chat",
      invite: [bob.getUserId()],
      initial_state: [{
        type: "m.room.encryption", state_key: "",
        content: { algorithm: "m.megolm.v1.aes-sha2" },
      }],
    }));
    await poll(() => bob.getRoom(roomId)?.getMyMembership() === "invite", stepTimeoutMs,
      "bob's invite through sync");
    const joined = waitFor(alice, sdk.RoomMemberEvent.Membership,
      (_e, member) => member.roomId === roomId && member.userId === bob.getUserId() &&
        member.membership === "join",
      stepTimeoutMs, "bob's join in alice's sync");
    await bob.joinRoom(roomId);
    await joined;
    await poll(async () => alice.getCrypto().isEncryptionEnabledInRoom(roomId), stepTimeoutMs,
      "alice's crypto to see the room as encrypted");
  }, { critical: true });

  const exchange = async (from, to, text) => {
    const decrypted = nextDecrypted(to, roomId, from.getUserId(),
      `${to.getUserId()} decrypting the message of ${from.getUserId()}`);
    const sent = await from.sendTextMessage(roomId, text);
    const event = await decrypted;
    if (event.getId() !== sent.event_id) {
      throw new Error(`decrypted ${event.getId()}, sent ${sent.event_id}`);
    }
    if (!event.isEncrypted() || event.getWireType() !== "m.room.encrypted") {
      throw new Error(`the message travelled as ${event.getWireType()}, not m.room.encrypted`);
    }
    if (event.getContent().body !== text) {
      throw new Error(`decrypted body ${JSON.stringify(event.getContent().body)}, sent ${JSON.stringify(text)}`);
    }
    // The server stored ciphertext only.
    const raw = await to.http.authedRequest(sdk.Method.Get,
      `/rooms/${encodeURIComponent(roomId)}/event/${encodeURIComponent(sent.event_id)}`);
    if (raw.type !== "m.room.encrypted" || JSON.stringify(raw.content).includes(text)) {
      throw new Error(`the server holds the message in clear: ${JSON.stringify(raw).slice(0, 200)}`);
    }
  };

  await run.step("alice -> bob: encrypted message decrypted by bob", () =>
    exchange(alice, bob, `secret from alice ${Date.now()}`));
  await run.step("bob -> alice: encrypted answer decrypted by alice", () =>
    exchange(bob, alice, `secret from bob ${Date.now()}`));
} finally {
  for (const c of clients) c.stopClient();
  run.finish();
}
