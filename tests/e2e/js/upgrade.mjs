// Goal: matrix-js-sdk 37.5.0 follows a room upgrade done by nebu as Element does.
// Method: alice creates an invite-only room with a name and bob joins it; alice
// upgrades it (client.upgradeRoom to version 11); both sync loops must show the
// m.room.tombstone in the old room; bob (invited to the replacement room by the
// upgrade) joins it; the new room's findPredecessor() names the old room and the
// tombstone, getRoomUpgradeHistory(verifyLinks) returns [old, new] for both users, the
// name came along, and a message in the new room reaches alice while bob can no
// longer post in the old room. Every wait is bounded; each step is printed.
//
//   NEBU_E2E_URL=http://127.0.0.1:8008 node upgrade.mjs
import {
  sdk, Steps, baseUrl, stepTimeoutMs, registerUser, clientFor, startAndWaitPrepared,
  waitFor, poll,
} from "./common.mjs";

const run = new Steps("js-upgrade");
console.log(`js-upgrade: matrix-js-sdk against ${baseUrl}`);
const clients = [];

function tombstoneOf(room) {
  return room?.currentState.getStateEvents("m.room.tombstone", "");
}

function checkHistory(client, oldId, newId) {
  const history = client.getRoomUpgradeHistory(newId, true).map((r) => r.roomId);
  if (history.length !== 2 || history[0] !== oldId || history[1] !== newId) {
    throw new Error(`${client.getUserId()}: getRoomUpgradeHistory = ${JSON.stringify(history)}`);
  }
}

try {
  const aliceCreds = await run.step("register alice", () => registerUser("alice"), { critical: true });
  const bobCreds = await run.step("register bob", () => registerUser("bob"), { critical: true });
  let alice, bob;
  await run.step("both sync loops start", async () => {
    alice = clientFor(aliceCreds);
    bob = clientFor(bobCreds);
    clients.push(alice, bob);
    await Promise.all([startAndWaitPrepared(alice), startAndWaitPrepared(bob)]);
  }, { critical: true });

  let oldId;
  await run.step("alice creates an invite-only room, bob joins", async () => {
    ({ room_id: oldId } = await alice.createRoom({
      name: "before the upgrade", preset: "private_chat", room_version: "10",
    }));
    await alice.invite(oldId, bob.getUserId());
    await poll(() => bob.getRoom(oldId)?.getMyMembership() === "invite", stepTimeoutMs,
      "bob's invite");
    await bob.joinRoom(oldId);
    await poll(() => alice.getRoom(oldId)?.getMember(bob.getUserId())?.membership === "join",
      stepTimeoutMs, "bob's join in alice's sync");
  }, { critical: true });

  let newId;
  await run.step("alice upgrades the room; both see the tombstone", async () => {
    ({ replacement_room: newId } = await alice.upgradeRoom(oldId, "11"));
    if (!newId || newId === oldId) throw new Error(`bad replacement_room ${newId}`);
    for (const client of [alice, bob]) {
      await poll(() => tombstoneOf(client.getRoom(oldId))?.getContent().replacement_room === newId,
        stepTimeoutMs, `${client.getUserId()}'s tombstone`);
    }
  }, { critical: true });

  await run.step("bob is invited to the replacement room and joins it", async () => {
    await poll(() => bob.getRoom(newId)?.getMyMembership() === "invite", stepTimeoutMs,
      "bob's invite to the new room");
    await bob.joinRoom(newId);
    await poll(() => alice.getRoom(newId)?.getMember(bob.getUserId())?.membership === "join",
      stepTimeoutMs, "bob's join of the new room in alice's sync");
  }, { critical: true });

  await run.step("findPredecessor and getRoomUpgradeHistory link the rooms", async () => {
    for (const client of [alice, bob]) {
      const room = client.getRoom(newId);
      const predecessor = room.findPredecessor();
      const tombstone = tombstoneOf(client.getRoom(oldId));
      if (predecessor?.roomId !== oldId || predecessor?.eventId !== tombstone.getId()) {
        throw new Error(`findPredecessor = ${JSON.stringify(predecessor)}`);
      }
      checkHistory(client, oldId, newId);
      if (room.name !== "before the upgrade") throw new Error(`new room name ${room.name}`);
    }
  });

  await run.step("messages flow in the new room; the old one is closed to bob", async () => {
    const seen = waitFor(alice, sdk.RoomEvent.Timeline,
      (e, room) => room?.roomId === newId && e.getContent().body === "after the upgrade",
      stepTimeoutMs, "bob's message in the new room");
    await bob.sendTextMessage(newId, "after the upgrade");
    await seen;
    let refused = false;
    try {
      await bob.sendEvent(oldId, "m.room.message", { msgtype: "m.text", body: "old room" });
    } catch (err) {
      refused = err.httpStatus === 403;
    }
    if (!refused) throw new Error("bob could still post in the upgraded room");
  });
} finally {
  for (const c of clients) c.stopClient();
  run.finish();
}
