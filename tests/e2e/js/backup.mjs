// Goal: server-side key backup with a real client: matrix-js-sdk with Rust crypto
// creates a key backup version (/room_keys/version), its room keys are uploaded
// (/room_keys/keys), and a NEW device of the same user (a new login with a fresh
// in-memory crypto store) restores them with the backup decryption key and decrypts
// a message sent before it existed.
// Method: register alice; device 1 runs initRustCrypto, resetKeyBackup (a new
// m.megolm_backup.v1.curve25519-aes-sha2 version, signed by the device), creates an
// encrypted room and sends a message; wait until the server's backup counts the key;
// take the decryption key (getSessionBackupPrivateKey) and stop device 1 (so it
// cannot forward the key). Device 2 logs in with the password, cannot decrypt the
// old message, stores the key (storeSessionBackupPrivateKey), restores
// (restoreKeyBackup) and then decrypts it. Every wait is bounded; non-zero exit on
// any failure.
//
//   NEBU_E2E_URL=http://127.0.0.1:8008 node backup.mjs
import {
  sdk, Steps, baseUrl, stepTimeoutMs, registerUser, clientFor, startAndWaitPrepared, poll,
  runId, withTimeout,
} from "./common.mjs";

const run = new Steps("js-backup");
console.log(`js-backup: matrix-js-sdk with Rust crypto against ${baseUrl}`);
const clients = [];
const kAlgorithm = "m.megolm_backup.v1.curve25519-aes-sha2";

// The event as `client` reads it from the server, run through its crypto.
async function fetchDecrypted(client, roomId, eventId) {
  const raw = await client.http.authedRequest(sdk.Method.Get,
    `/rooms/${encodeURIComponent(roomId)}/event/${encodeURIComponent(eventId)}`);
  const event = new sdk.MatrixEvent(raw);
  await withTimeout(client.decryptEventIfNeeded(event), stepTimeoutMs, `decryption of ${eventId}`);
  return event;
}

async function backupInfo(client) {
  return client.http.authedRequest(sdk.Method.Get, "/room_keys/version");
}

try {
  const creds = await run.step("register alice", () => registerUser("balice"), { critical: true });

  let first, version;
  await run.step("device 1: initRustCrypto, resetKeyBackup creates a backup version", async () => {
    first = clientFor(creds);
    clients.push(first);
    await first.initRustCrypto({ useIndexedDB: false });
    await startAndWaitPrepared(first);
    await first.getCrypto().resetKeyBackup();
    version = await poll(() => first.getCrypto().getActiveSessionBackupVersion(), stepTimeoutMs,
      "device 1 to enable its new backup");
    const info = await backupInfo(first);
    if (info.version !== version || info.algorithm !== kAlgorithm || info.count !== 0 ||
        typeof info.etag !== "string" || !info.auth_data?.public_key) {
      throw new Error(`GET /room_keys/version answered ${JSON.stringify(info)} for version ${version}`);
    }
  }, { critical: true });

  let roomId, eventId;
  const text = `backed up secret ${runId}`;
  await run.step("device 1: an encrypted message, its room key lands in the backup", async () => {
    ({ room_id: roomId } = await first.createRoom({
      name: "e2e backup",
      preset: "private_chat",
      initial_state: [{
        type: "m.room.encryption", state_key: "",
        content: { algorithm: "m.megolm.v1.aes-sha2" },
      }],
    }));
    await poll(async () => first.getCrypto().isEncryptionEnabledInRoom(roomId), stepTimeoutMs,
      "device 1's crypto to see the room as encrypted");
    ({ event_id: eventId } = await first.sendTextMessage(roomId, text));
    const info = await poll(async () => {
      const now = await backupInfo(first);
      return now.count >= 1 ? now : null;
    }, stepTimeoutMs, "the backup to count the room key (PUT /room_keys/keys)");
    const keys = await first.http.authedRequest(sdk.Method.Get,
      `/room_keys/keys/${encodeURIComponent(roomId)}`, { version });
    const sessions = Object.values(keys.sessions ?? {});
    if (sessions.length < 1 || !sessions[0].session_data?.ciphertext) {
      throw new Error(`GET /room_keys/keys/{roomId} answered ${JSON.stringify(keys).slice(0, 300)}`);
    }
    if (info.etag === "0") throw new Error("the etag did not change with the upload");
  }, { critical: true });

  let backupKey;
  await run.step("device 1: take the backup decryption key, then stop", async () => {
    backupKey = await first.getCrypto().getSessionBackupPrivateKey();
    if (!backupKey || backupKey.length !== 32) throw new Error("no 32-byte backup decryption key");
    first.stopClient();
  }, { critical: true });

  let second;
  await run.step("device 2: a new login with a fresh crypto store", async () => {
    const login = await sdk.createClient({ baseUrl }).loginRequest({
      type: "m.login.password",
      identifier: { type: "m.id.user", user: creds.userId },
      password: `pw-${runId}-balice`,
      initial_device_display_name: "e2e backup device 2",
    });
    if (login.device_id === creds.deviceId) throw new Error("the login reused device 1");
    second = clientFor({ userId: login.user_id, accessToken: login.access_token,
      deviceId: login.device_id });
    clients.push(second);
    await second.initRustCrypto({ useIndexedDB: false });
    await startAndWaitPrepared(second);
  }, { critical: true });

  await run.step("device 2: the old message does not decrypt before the restore", async () => {
    const event = await fetchDecrypted(second, roomId, eventId);
    if (!event.isDecryptionFailure()) {
      throw new Error(`decrypted without the backup: ${JSON.stringify(event.getContent())}`);
    }
  });

  await run.step("device 2: restore the backup with the decryption key", async () => {
    await second.getCrypto().storeSessionBackupPrivateKey(backupKey, version);
    const result = await second.getCrypto().restoreKeyBackup();
    if (result.total < 1 || result.imported < 1) {
      throw new Error(`restoreKeyBackup imported ${JSON.stringify(result)}`);
    }
  }, { critical: true });

  await run.step("device 2: the old message decrypts to the text sent", async () => {
    const event = await poll(async () => {
      const e = await fetchDecrypted(second, roomId, eventId);
      return e.isDecryptionFailure() ? null : e;
    }, stepTimeoutMs, "device 2 to decrypt the old message");
    if (event.getType() !== "m.room.message" || event.getContent().body !== text) {
      throw new Error(`decrypted ${event.getType()} ${JSON.stringify(event.getContent())}`);
    }
  });
} finally {
  for (const c of clients) c.stopClient();
  run.finish();
}
