// Goal: matrix-js-sdk 37.5.0, as Element uses it, can chat through nebu.
// Method: two users register, alice creates a room and invites bob, bob joins; alice
// sends 100 messages that bob's sync loop (startClient) must deliver in order; a
// fresh client of alice's paginates (scrollback) back to m.room.create; a topic
// change, typing and a read receipt reach the other side; bob finds alice in the
// user directory and a public room in /publicRooms; bob's leave reaches alice.
// Every wait is bounded; the suite prints each step and exits non-zero on a failure.
//
//   NEBU_E2E_URL=http://127.0.0.1:8008 node chat.mjs
import {
  sdk, Steps, baseUrl, stepTimeoutMs, registerUser, clientFor, startAndWaitPrepared,
  waitFor, poll, withTimeout,
} from "./common.mjs";

const kMessages = 100;
const kScrollbackPagesMax = 40;  // pages of 20 events: far more than the room holds

const run = new Steps("js-chat");
console.log(`js-chat: matrix-js-sdk against ${baseUrl}`);
const clients = [];

function messageBodies(room) {
  return room.getLiveTimeline().getEvents()
    .filter((e) => e.getType() === "m.room.message")
    .map((e) => e.getContent().body);
}

function membershipOf(room, userId) {
  return room?.getMember(userId)?.membership;
}

try {
  const aliceCreds = await run.step("register alice", () => registerUser("alice"), { critical: true });
  const bobCreds = await run.step("register bob", () => registerUser("bob"), { critical: true });

  let alice, bob;
  await run.step("both sync loops start (startClient, first sync)", async () => {
    alice = clientFor(aliceCreds);
    bob = clientFor(bobCreds);
    clients.push(alice, bob);
    await Promise.all([startAndWaitPrepared(alice), startAndWaitPrepared(bob)]);
  }, { critical: true });

  let roomId;
  await run.step("alice creates a room", async () => {
    ({ room_id: roomId } = await alice.createRoom({ name: "e2e chat", preset: "private_chat" }));
    await poll(() => alice.getRoom(roomId), stepTimeoutMs, "alice's sync to show the new room");
  }, { critical: true });

  await run.step("alice invites bob; bob's sync shows the invite", async () => {
    const seen = waitFor(bob, sdk.RoomMemberEvent.Membership,
      (_e, member) => member.roomId === roomId && member.userId === bob.getUserId() &&
        member.membership === "invite",
      stepTimeoutMs, "bob's invite through sync",
      () => membershipOf(bob.getRoom(roomId), bob.getUserId()) === "invite");
    await alice.invite(roomId, bob.getUserId());
    await seen;
  }, { critical: true });

  await run.step("bob joins; alice's sync shows bob joined", async () => {
    const seen = waitFor(alice, sdk.RoomMemberEvent.Membership,
      (_e, member) => member.roomId === roomId && member.userId === bob.getUserId() &&
        member.membership === "join",
      stepTimeoutMs, "bob's join in alice's sync");
    await bob.joinRoom(roomId);
    await seen;
    await poll(() => membershipOf(bob.getRoom(roomId), bob.getUserId()) === "join",
      stepTimeoutMs, "bob's own sync to show him joined");
  }, { critical: true });

  await run.step(`${kMessages} messages reach bob's sync loop in order`, async () => {
    const received = [];
    const onTimeline = (event, room, toStartOfTimeline) => {
      if (room?.roomId === roomId && !toStartOfTimeline && event.getType() === "m.room.message" &&
          event.getSender() === alice.getUserId()) {
        received.push(event.getContent().body);
      }
    };
    bob.on(sdk.RoomEvent.Timeline, onTimeline);
    try {
      for (let i = 0; i < kMessages; ++i) {
        await alice.sendTextMessage(roomId, `message ${i}`);
      }
      await poll(() => received.length >= kMessages, stepTimeoutMs,
        `${kMessages} messages at bob (have ${received.length})`);
    } finally {
      bob.removeListener(sdk.RoomEvent.Timeline, onTimeline);
    }
    const expected = Array.from({ length: kMessages }, (_, i) => `message ${i}`);
    if (JSON.stringify(received) !== JSON.stringify(expected)) {
      throw new Error(`out of order or duplicated: ${JSON.stringify(received.slice(0, 10))}...`);
    }
  });

  await run.step("a fresh client paginates back to m.room.create (scrollback)", async () => {
    const fresh = clientFor(aliceCreds);
    clients.push(fresh);
    await startAndWaitPrepared(fresh, { initialSyncLimit: 5 });
    const room = await poll(() => fresh.getRoom(roomId), stepTimeoutMs, "the room in a fresh sync");
    let pages = 0;
    while (!room.getLiveTimeline().getEvents().some((e) => e.getType() === "m.room.create")) {
      if (++pages > kScrollbackPagesMax) {
        throw new Error(`no m.room.create after ${kScrollbackPagesMax} pages`);
      }
      const before = room.getLiveTimeline().getEvents().length;
      await withTimeout(fresh.scrollback(room, 20), stepTimeoutMs, "one scrollback page");
      if (room.getLiveTimeline().getEvents().length === before &&
          room.oldState.paginationToken === null) {
        throw new Error("scrollback reached the start without m.room.create");
      }
    }
    const events = room.getLiveTimeline().getEvents();
    if (events[0].getType() !== "m.room.create") {
      throw new Error(`first event is ${events[0].getType()}, not m.room.create`);
    }
    const bodies = messageBodies(room);
    const expected = Array.from({ length: kMessages }, (_, i) => `message ${i}`);
    if (JSON.stringify(bodies) !== JSON.stringify(expected)) {
      throw new Error(`timeline after scrollback has ${bodies.length} messages, not 0..${kMessages - 1} in order`);
    }
    fresh.stopClient();
  });

  await run.step("topic change seen by bob", async () => {
    const topic = "the e2e topic";
    const seen = waitFor(bob, sdk.RoomStateEvent.Events,
      (event) => event.getRoomId() === roomId && event.getType() === "m.room.topic" &&
        event.getContent().topic === topic,
      stepTimeoutMs, "the topic in bob's sync");
    await alice.setRoomTopic(roomId, topic);
    await seen;
  });

  await run.step("typing seen by alice", async () => {
    const seen = waitFor(alice, sdk.RoomMemberEvent.Typing,
      (_e, member) => member.roomId === roomId && member.userId === bob.getUserId() && member.typing,
      stepTimeoutMs, "bob typing in alice's sync (ephemeral m.typing)");
    await bob.sendTyping(roomId, true, 10000);
    await seen;
    const stopped = waitFor(alice, sdk.RoomMemberEvent.Typing,
      (_e, member) => member.roomId === roomId && member.userId === bob.getUserId() && !member.typing,
      stepTimeoutMs, "bob stopping typing in alice's sync");
    await bob.sendTyping(roomId, false, 0);
    await stopped;
  });

  await run.step("read receipt seen by alice", async () => {
    const bobRoom = bob.getRoom(roomId);
    const last = bobRoom.getLiveTimeline().getEvents()
      .filter((e) => e.getType() === "m.room.message").at(-1);
    const aliceRoom = alice.getRoom(roomId);
    const seen = waitFor(aliceRoom, sdk.RoomEvent.Receipt,
      () => aliceRoom.getEventReadUpTo(bob.getUserId(), true) === last.getId() ||
        aliceRoom.getReadReceiptForUserId(bob.getUserId(), true)?.eventId === last.getId(),
      stepTimeoutMs, "bob's m.read receipt in alice's sync (ephemeral m.receipt)");
    await bob.sendReadReceipt(last);
    await seen;
  });

  await run.step("user directory and public room directory", async () => {
    const found = await bob.searchUserDirectory({ term: alice.getUserId().slice(1, 12) });
    if (!found.results.some((u) => u.user_id === alice.getUserId())) {
      throw new Error(`searchUserDirectory did not find alice: ${JSON.stringify(found)}`);
    }
    const name = `lobby ${Date.now()}`;
    const { room_id: lobby } = await alice.createRoom({ name, visibility: "public", preset: "public_chat" });
    const listed = await bob.publicRooms({ filter: { generic_search_term: name } });
    if (listed.chunk.length !== 1 || listed.chunk[0].room_id !== lobby) {
      throw new Error(`publicRooms did not list the public room: ${JSON.stringify(listed)}`);
    }
    if (listed.chunk.some((r) => r.room_id === roomId)) throw new Error("a private room was listed");
  });

  await run.step("bob leaves; alice's sync shows it", async () => {
    const seen = waitFor(alice, sdk.RoomMemberEvent.Membership,
      (_e, member) => member.roomId === roomId && member.userId === bob.getUserId() &&
        member.membership === "leave",
      stepTimeoutMs, "bob's leave in alice's sync");
    await bob.leave(roomId);
    await seen;
  });
} finally {
  for (const c of clients) c.stopClient();
  run.finish();
}
