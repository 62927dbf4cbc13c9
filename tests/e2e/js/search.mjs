// Goal: matrix-js-sdk 37.5.0's server-side search (searchRoomEvents, as Element's
// room search calls it) finds messages through nebu's POST /search, and only in rooms
// the searcher may read.
// Method: alice and bob register; alice creates a room with bob, bob one of his own
// that alice is not in; each sends messages sharing a word. Alice searches the word
// and finds her room's message (with its context and the sender's profile), not
// bob's private one; 25 more matches page through backPaginateRoomEventsSearch; a
// word only bob's room holds finds nothing for alice. Every wait is bounded; the suite
// prints each step and exits non-zero on a failure.
//
//   NEBU_E2E_URL=http://127.0.0.1:8008 node search.mjs
import { Steps, baseUrl, stepTimeoutMs, registerUser, clientFor, withTimeout } from "./common.mjs";

const kMoreMatches = 25;
const kPagesMax = 10;

const run = new Steps("js-search");
console.log(`js-search: matrix-js-sdk against ${baseUrl}`);

function bodies(results) {
  return results.results.map((r) => r.context.getEvent().getContent().body);
}

try {
  const aliceCreds = await run.step("register alice", () => registerUser("alice"), { critical: true });
  const bobCreds = await run.step("register bob", () => registerUser("bob"), { critical: true });
  const alice = clientFor(aliceCreds);
  const bob = clientFor(bobCreds);

  let shared, secret;
  await run.step("alice makes a room with bob, bob one of his own; messages are sent", async () => {
    ({ room_id: shared } = await alice.createRoom({ name: "search shared", preset: "private_chat" }));
    await alice.invite(shared, bob.getUserId());
    await bob.joinRoom(shared);
    ({ room_id: secret } = await bob.createRoom({ name: "search secret", preset: "private_chat" }));
    await alice.sendTextMessage(shared, "before the picnic");
    await bob.sendTextMessage(shared, "Who brings the Sandwiches to the picnic?");
    await alice.sendTextMessage(shared, "after the picnic");
    await bob.sendTextMessage(secret, "my secret sandwiches recipe, xylophone");
  }, { critical: true });

  await run.step("alice finds bob's message in their room by a word, not his private one", async () => {
    const found = await withTimeout(alice.searchRoomEvents({ term: "sandwiches" }), stepTimeoutMs,
      "searchRoomEvents");
    const got = bodies(found);
    if (JSON.stringify(got) !== JSON.stringify(["Who brings the Sandwiches to the picnic?"])) {
      throw new Error(`unexpected results ${JSON.stringify(got)}`);
    }
    const result = found.results[0];
    if (result.context.getEvent().getRoomId() !== shared) throw new Error("result from the wrong room");
    const timeline = result.context.getTimeline().map((e) => e.getContent().body);
    if (!timeline.includes("before the picnic") || !timeline.includes("after the picnic")) {
      throw new Error(`context misses its neighbours: ${JSON.stringify(timeline)}`);
    }
    if (!found.highlights.includes("sandwiches")) {
      throw new Error(`highlights ${JSON.stringify(found.highlights)}`);
    }
  });

  await run.step("a word only bob's private room holds finds nothing for alice", async () => {
    const found = await alice.searchRoomEvents({ term: "xylophone" });
    if (found.results.length !== 0) throw new Error(`found ${JSON.stringify(bodies(found))}`);
    const his = await bob.searchRoomEvents({ term: "xylophone" });
    if (his.results.length !== 1) throw new Error(`bob found ${JSON.stringify(bodies(his))}`);
  });

  await run.step(`${kMoreMatches} more matches page through backPaginateRoomEventsSearch`, async () => {
    for (let i = 0; i < kMoreMatches; ++i) await alice.sendTextMessage(shared, `picnic item ${i}`);
    let found = await alice.searchRoomEvents({ term: "picnic" });
    for (let page = 0; found.next_batch && page < kPagesMax; ++page) {
      found = await withTimeout(alice.backPaginateRoomEventsSearch(found), stepTimeoutMs, "a search page");
    }
    const got = bodies(found);
    const want = kMoreMatches + 3;  // the items and the three picnic messages
    if (got.length !== want || new Set(got).size !== want) {
      throw new Error(`${got.length} results (${new Set(got).size} distinct), want ${want}`);
    }
    if (got[0] !== `picnic item ${kMoreMatches - 1}`) throw new Error(`not newest first: ${got[0]}`);
  });
} finally {
  run.finish();
}
