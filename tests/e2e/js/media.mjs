// Goal: matrix-js-sdk 37 uses nebu's media repository as Element does: alice uploads
// an image (POST /_matrix/media/v3/upload), sets it as her avatar, uploads a thumbnail
// and sends an m.image with both; bob receives the event and downloads the image and
// the thumbnail through authenticated media (/_matrix/client/v1/media/download) and
// gets exactly the uploaded bytes, and alice's avatar URL from her profile.
// Method: two registered users in one room; every wait bounded; the suite prints each
// step and exits non-zero on a failure.
//
//   NEBU_E2E_URL=http://127.0.0.1:8008 node media.mjs
import { createHash, randomBytes } from "node:crypto";
import { Steps, baseUrl, registerUser, clientFor, startAndWaitPrepared, waitFor, stepTimeoutMs } from "./common.mjs";

const run = new Steps("js-media");
console.log(`js-media: matrix-js-sdk against ${baseUrl}`);

// A PNG signature then random bytes: the server stores uploads as they are, so bytes
// labelled image/png do (the thumbnail is uploaded by the client, as Element does).
const image = Buffer.concat([Buffer.from("89504e470d0a1a0a", "hex"), randomBytes(200 * 1024)]);
const thumb = Buffer.concat([Buffer.from("89504e470d0a1a0a", "hex"), randomBytes(4 * 1024)]);
const sha = (b) => createHash("sha256").update(b).digest("hex");

async function download(client, mxc) {
  const url = client.mxcUrlToHttp(mxc, undefined, undefined, undefined, false, false, true);
  const res = await fetch(url, { headers: { Authorization: `Bearer ${client.getAccessToken()}` } });
  if (res.status !== 200) throw new Error(`download ${mxc}: HTTP ${res.status} ${await res.text()}`);
  return Buffer.from(await res.arrayBuffer());
}

try {
  const aliceCreds = await run.step("register alice", () => registerUser("alice"), { critical: true });
  const bobCreds = await run.step("register bob", () => registerUser("bob"), { critical: true });
  const alice = clientFor(aliceCreds);
  const bob = clientFor(bobCreds);
  let room;
  await run.step("alice makes a room with bob", async () => {
    ({ room_id: room } = await alice.createRoom({ name: "media", preset: "private_chat" }));
    await alice.invite(room, bob.getUserId());
    await bob.joinRoom(room);
  }, { critical: true });
  const imageUri = await run.step("alice uploads an image", async () => {
    const { content_uri } = await alice.uploadContent(image, { name: "photo.png", type: "image/png" });
    if (!content_uri.startsWith("mxc://")) throw new Error(`content_uri ${content_uri}`);
    return content_uri;
  }, { critical: true });
  const thumbUri = await run.step("alice uploads a thumbnail", async () =>
    (await alice.uploadContent(thumb, { name: "thumb.png", type: "image/png" })).content_uri, { critical: true });
  await run.step("alice sets the image as her avatar", async () => {
    await alice.setAvatarUrl(imageUri);
    const profile = await bob.getProfileInfo(alice.getUserId());
    if (profile.avatar_url !== imageUri) throw new Error(`avatar_url ${profile.avatar_url}`);
  });
  await startAndWaitPrepared(bob);
  await run.step("alice sends m.image with a thumbnail; bob receives it", async () => {
    const received = waitFor(bob, "Room.timeline", (ev) => ev.getType() === "m.room.message" &&
      ev.getContent().msgtype === "m.image", stepTimeoutMs, "bob's m.image");
    await alice.sendMessage(room, {
      msgtype: "m.image", body: "photo.png", url: imageUri,
      info: { mimetype: "image/png", size: image.length, thumbnail_url: thumbUri,
              thumbnail_info: { mimetype: "image/png", size: thumb.length } },
    });
    const [event] = await received;
    const content = event.getContent();
    if (content.url !== imageUri || content.info.thumbnail_url !== thumbUri) throw new Error("wrong URIs");
  }, { critical: true });
  await run.step("bob downloads the image: the same bytes", async () => {
    const got = await download(bob, imageUri);
    if (sha(got) !== sha(image)) throw new Error(`got ${got.length} bytes, hash differs`);
  });
  await run.step("bob downloads the thumbnail: the same bytes", async () => {
    const got = await download(bob, thumbUri);
    if (sha(got) !== sha(thumb)) throw new Error(`got ${got.length} bytes, hash differs`);
  });
  bob.stopClient();
} finally {
  run.finish();
}
