// Goal: matrix-js-sdk 37.5.0 can use spaces, restricted rooms and knocking on nebu.
// Method: alice creates a public space and a restricted room whose join rule allows
// the space's members, and links it with m.space.child; bob joins the space, sees the
// room in the space hierarchy (getRoomHierarchy) and its summary (getRoomSummary),
// and joins the restricted room (authorised by alice); carol cannot join it. Carol
// knocks on a knock room (knockRoom), her sync shows the knock, alice invites her
// (the invite carries carol's display name), and carol joins. Every wait is bounded;
// the suite prints each step and exits non-zero on a failure.
//
//   NEBU_E2E_URL=http://127.0.0.1:8008 node spaces.mjs
import {
  sdk, Steps, baseUrl, stepTimeoutMs, registerUser, clientFor, startAndWaitPrepared,
  waitFor, poll,
} from "./common.mjs";

const run = new Steps("js-spaces");
console.log(`js-spaces: matrix-js-sdk against ${baseUrl}`);
const clients = [];

function membershipOf(client, roomId) {
  return client.getRoom(roomId)?.getMyMembership();
}

async function expectMatrixError(promise, errcode, what) {
  try {
    await promise;
  } catch (err) {
    if (err.errcode === errcode) return;
    throw new Error(`${what}: expected ${errcode}, got ${err.errcode ?? err}`);
  }
  throw new Error(`${what}: expected ${errcode}, the request succeeded`);
}

try {
  const creds = {};
  for (const name of ["alice", "bob", "carol"]) {
    creds[name] = await run.step(`register ${name}`, () => registerUser(name), { critical: true });
  }
  let alice, bob, carol;
  await run.step("three sync loops start", async () => {
    alice = clientFor(creds.alice);
    bob = clientFor(creds.bob);
    carol = clientFor(creds.carol);
    clients.push(alice, bob, carol);
    await Promise.all([alice, bob, carol].map((c) => startAndWaitPrepared(c)));
  }, { critical: true });
  const server = alice.getDomain();

  let spaceId, roomId;
  await run.step("alice creates a space and a restricted room in it", async () => {
    ({ room_id: spaceId } = await alice.createRoom({
      name: "e2e space", preset: "public_chat",
      creation_content: { type: "m.space" },
    }));
    ({ room_id: roomId } = await alice.createRoom({
      name: "space members only", preset: "private_chat",
      initial_state: [{
        type: "m.room.join_rules", state_key: "",
        content: { join_rule: "restricted", allow: [{ type: "m.room_membership", room_id: spaceId }] },
      }],
    }));
    await alice.sendStateEvent(spaceId, "m.space.child", { via: [server], suggested: true }, roomId);
    await alice.sendStateEvent(roomId, "m.space.parent", { via: [server], canonical: true }, spaceId);
  }, { critical: true });

  await run.step("carol, in no allowed room, cannot join the restricted room", () =>
    expectMatrixError(carol.joinRoom(roomId), "M_FORBIDDEN", "carol's join"));

  await run.step("bob joins the space", async () => {
    await bob.joinRoom(spaceId);
    await poll(() => membershipOf(bob, spaceId) === "join", stepTimeoutMs, "bob's sync to show the space");
  }, { critical: true });

  await run.step("bob's space hierarchy lists the restricted room", async () => {
    const hierarchy = await bob.getRoomHierarchy(spaceId, 10, 3, false);
    const ids = hierarchy.rooms.map((r) => r.room_id);
    if (ids[0] !== spaceId || !ids.includes(roomId)) {
      throw new Error(`hierarchy rooms ${JSON.stringify(ids)}`);
    }
    const space = hierarchy.rooms[0];
    if (space.room_type !== "m.space" || space.children_state.length !== 1) {
      throw new Error(`space entry ${JSON.stringify(space)}`);
    }
    const child = hierarchy.rooms.find((r) => r.room_id === roomId);
    if (child.join_rule !== "restricted" || child.allowed_room_ids?.[0] !== spaceId) {
      throw new Error(`restricted child entry ${JSON.stringify(child)}`);
    }
  });

  await run.step("bob reads the restricted room's summary (getRoomSummary)", async () => {
    const summary = await bob.getRoomSummary(roomId);
    if (summary.room_id !== roomId || summary.name !== "space members only") {
      throw new Error(`summary ${JSON.stringify(summary)}`);
    }
  });

  await run.step("bob joins the restricted room through the space; alice sees it", async () => {
    const seen = waitFor(alice, sdk.RoomMemberEvent.Membership,
      (_e, member) => member.roomId === roomId && member.userId === bob.getUserId() &&
        member.membership === "join",
      stepTimeoutMs, "bob's join in alice's sync");
    await bob.joinRoom(roomId);
    const [event] = await seen;
    const via = event.getContent().join_authorised_via_users_server;
    if (via !== alice.getUserId()) throw new Error(`join_authorised_via_users_server is ${via}`);
  }, { critical: true });

  let knockRoomId;
  await run.step("alice creates a knock room", async () => {
    ({ room_id: knockRoomId } = await alice.createRoom({
      name: "knock knock", preset: "private_chat",
      initial_state: [{ type: "m.room.join_rules", state_key: "", content: { join_rule: "knock" } }],
    }));
  }, { critical: true });

  await run.step("carol knocks; her sync shows the knock, alice's the request", async () => {
    const aliceSees = waitFor(alice, sdk.RoomMemberEvent.Membership,
      (_e, member) => member.roomId === knockRoomId && member.userId === carol.getUserId() &&
        member.membership === "knock",
      stepTimeoutMs, "carol's knock in alice's sync");
    await carol.knockRoom(knockRoomId, { reason: "let me in" });
    await poll(() => membershipOf(carol, knockRoomId) === "knock", stepTimeoutMs,
      "carol's sync to show the knock");
    const [event] = await aliceSees;
    if (event.getContent().reason !== "let me in") throw new Error("the knock lost its reason");
  }, { critical: true });

  await run.step("alice accepts with an invite that names carol; carol joins", async () => {
    const invited = waitFor(carol, sdk.RoomMemberEvent.Membership,
      (_e, member) => member.roomId === knockRoomId && member.userId === carol.getUserId() &&
        member.membership === "invite",
      stepTimeoutMs, "carol's invite through sync",
      () => membershipOf(carol, knockRoomId) === "invite");
    await alice.invite(knockRoomId, carol.getUserId());
    await invited;
    const member = await poll(() => alice.getRoom(knockRoomId)?.getMember(carol.getUserId()),
      stepTimeoutMs, "carol's member event in alice's room");
    const name = member.events.member?.getContent().displayname;
    if (!name?.startsWith("carol")) {
      throw new Error(`the invite carries displayname ${name}`);
    }
    await carol.joinRoom(knockRoomId);
    await poll(() => membershipOf(carol, knockRoomId) === "join", stepTimeoutMs,
      "carol's sync to show her joined");
  });

  await run.step("carol cannot knock on bob's invite-only room", async () => {
    const { room_id: closed } = await bob.createRoom({ preset: "private_chat" });
    await expectMatrixError(carol.knockRoom(closed), "M_FORBIDDEN", "carol's knock");
  });
} finally {
  for (const c of clients) c.stopClient();
  run.finish();
}
