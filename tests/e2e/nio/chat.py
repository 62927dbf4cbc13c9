#!/usr/bin/python3
"""End-to-end chat through nebu with matrix-nio (Debian's python3-matrix-nio 0.20).

Goal: a second, independent client library (it speaks /_matrix/client/r0, registers
with one-step m.login.dummy, validates every /sync answer against its JSON schema)
can chat through nebu.
Method: alice and bob register; alice creates a room and invites bob, who sees the
invite in /sync and joins; alice sends 100 messages that bob's /sync long-polls
deliver in order; alice paginates /messages back to m.room.create; a topic change
reaches bob; bob's leave reaches alice. Every wait is bounded; each step prints ok or
FAIL with the server's answer, and the exit code is non-zero on any failure.

    NEBU_E2E_URL=http://127.0.0.1:8008 /usr/bin/python3 tests/e2e/nio/chat.py
"""

import asyncio
from importlib import metadata
import os
import random
import sys
import time

import nio

BASE_URL = os.environ.get("NEBU_E2E_URL", "http://127.0.0.1:8008")
STEP_TIMEOUT_S = float(os.environ.get("NEBU_E2E_STEP_TIMEOUT_MS", "20000")) / 1000
MESSAGES = 100
SYNC_POLL_MS = 2000            # long-poll timeout of each /sync
PAGES_MAX = 40                 # /messages pages of 30 events: far more than the room holds
TIMELINE_LIMIT = 200           # per-sync timeline limit, so 100 messages never gap
RUN_ID = f"{int(time.time()):x}{random.randrange(10000)}"
SYNC_FILTER = {"room": {"timeline": {"limit": TIMELINE_LIMIT}}}


class StepFailed(Exception):
    pass


def check(response, what):
    """Raises StepFailed with the server's answer when `response` is a nio error."""
    if isinstance(response, nio.ErrorResponse):
        raise StepFailed(f"{what}: HTTP {response.status_code} {response.message}")
    return response


class Steps:
    """Runs named steps in order; a failed critical step stops the later ones."""

    def __init__(self, name):
        self.name, self.passed, self.failed, self.skipped = name, [], [], []
        self.stopped = False
        self.started = time.monotonic()

    async def step(self, title, coro_fn, critical=False):
        if self.stopped:
            self.skipped.append(title)
            print(f"  skip {title}", flush=True)
            return None
        start = time.monotonic()
        try:
            value = await asyncio.wait_for(coro_fn(), STEP_TIMEOUT_S * 3)
            self.passed.append(title)
            print(f"  ok   {title} ({(time.monotonic() - start) * 1000:.0f} ms)", flush=True)
            return value
        except Exception as err:  # noqa: BLE001 - every failure is reported, not raised
            self.failed.append(title)
            reason = f"timed out after {STEP_TIMEOUT_S * 3:.0f} s" if isinstance(
                err, asyncio.TimeoutError) else f"{type(err).__name__}: {err}"
            print(f"  FAIL {title} ({(time.monotonic() - start) * 1000:.0f} ms): {reason}",
                  flush=True)
            if critical:
                self.stopped = True
            return None

    def finish(self):
        if self.failed:
            print(f"{self.name} failed steps: {'; '.join(self.failed)}")
        if self.skipped:
            print(f"{self.name} not run: {'; '.join(self.skipped)}")
        print(f"{self.name} took {time.monotonic() - self.started:.1f} s")
        print(f"{self.name}: {len(self.passed)} passed, "
              f"{len(self.failed) + len(self.skipped)} failed", flush=True)
        return 1 if self.failed or self.skipped else 0


async def sync_until(client, predicate, what, timeout_s=STEP_TIMEOUT_S):
    """Calls /sync (long-poll) until predicate(response) is true; bounded."""
    deadline = time.monotonic() + timeout_s
    while True:
        response = check(await client.sync(timeout=SYNC_POLL_MS, sync_filter=SYNC_FILTER),
                         f"/sync of {client.user_id}")
        if predicate(response):
            return response
        if time.monotonic() > deadline:
            raise StepFailed(f"timed out after {timeout_s:.0f} s waiting for {what}")


def timeline(response, room_id):
    room = response.rooms.join.get(room_id)
    return room.timeline if room else None


def membership_in(response, room_id, user_id, membership):
    """Whether the sync response's timeline of room_id sets user_id's membership."""
    tl = timeline(response, room_id)
    return tl is not None and any(
        isinstance(e, nio.RoomMemberEvent) and e.state_key == user_id and
        e.membership == membership for e in tl.events)


async def main():
    run = Steps("nio-chat")
    print(f"nio-chat: matrix-nio {metadata.version('matrix-nio')} against {BASE_URL}",
          flush=True)
    alice = nio.AsyncClient(BASE_URL, config=nio.AsyncClientConfig(store_sync_tokens=False))
    bob = nio.AsyncClient(BASE_URL, config=nio.AsyncClientConfig(store_sync_tokens=False))
    state = {}
    try:
        async def register(client, name):
            check(await client.register(f"nio{name}-{RUN_ID}", f"pw-{RUN_ID}", f"nio {name}"),
                  f"register {name}")
            check(await client.sync(timeout=0, sync_filter=SYNC_FILTER), f"first /sync of {name}")

        await run.step("register alice (one-step m.login.dummy) and first sync",
                       lambda: register(alice, "alice"), critical=True)
        await run.step("register bob and first sync", lambda: register(bob, "bob"), critical=True)

        async def create_room():
            created = check(await alice.room_create(name="nio chat",
                                                    preset=nio.RoomPreset.private_chat),
                            "createRoom")
            state["room"] = created.room_id
            await sync_until(alice, lambda r: created.room_id in r.rooms.join,
                             "the new room in alice's sync")
        await run.step("alice creates a room", create_room, critical=True)

        async def invite():
            room_id = state["room"]
            check(await alice.room_invite(room_id, bob.user_id), "invite")
            await sync_until(bob, lambda r: room_id in r.rooms.invite, "the invite in bob's sync")
        await run.step("alice invites bob; bob's sync shows the invite", invite, critical=True)

        async def join():
            room_id = state["room"]
            check(await bob.join(room_id), "join")
            await sync_until(bob, lambda r: room_id in r.rooms.join, "the room in bob's sync")
            await sync_until(alice, lambda r: membership_in(r, room_id, bob.user_id, "join"),
                             "bob's join in alice's sync")
        await run.step("bob joins; alice's sync shows him", join, critical=True)

        async def messages_in_order():
            room_id = state["room"]
            received = []

            async def receive():
                deadline = time.monotonic() + STEP_TIMEOUT_S * 2
                while len(received) < MESSAGES:
                    if time.monotonic() > deadline:
                        raise StepFailed(f"bob received {len(received)} of {MESSAGES} messages")
                    response = check(await bob.sync(timeout=SYNC_POLL_MS,
                                                    sync_filter=SYNC_FILTER), "bob's /sync")
                    tl = timeline(response, room_id)
                    if tl is None:
                        continue
                    if tl.limited and received:
                        raise StepFailed("bob's timeline was limited (a gap) mid-stream")
                    received.extend(e.body for e in tl.events
                                    if isinstance(e, nio.RoomMessageText) and
                                    e.sender == alice.user_id)

            receiver = asyncio.ensure_future(receive())
            for i in range(MESSAGES):
                check(await alice.room_send(room_id, "m.room.message",
                                            {"msgtype": "m.text", "body": f"nio {i}"}),
                      f"send {i}")
            await receiver
            expected = [f"nio {i}" for i in range(MESSAGES)]
            if received != expected:
                raise StepFailed(f"out of order or duplicated: {received[:8]}...")
        await run.step(f"{MESSAGES} messages reach bob's /sync in order", messages_in_order)

        async def paginate():
            room_id = state["room"]
            fresh = check(await alice.sync(timeout=0, full_state=True,
                                           sync_filter={"room": {"timeline": {"limit": 5}}}),
                          "alice's full-state /sync")
            tl = timeline(fresh, room_id)
            if tl is None or not tl.prev_batch:
                raise StepFailed("no prev_batch for the room in a full-state sync")
            events = list(tl.events)
            token = tl.prev_batch
            for _ in range(PAGES_MAX):
                page = check(await alice.room_messages(room_id, token,
                                                       direction=nio.MessageDirection.back,
                                                       limit=30), "/messages")
                events[:0] = list(reversed(page.chunk))
                if any(e.source.get("type") == "m.room.create" for e in page.chunk):
                    break
                if not page.end or page.end == token:
                    raise StepFailed("/messages reached the start without m.room.create")
                token = page.end
            else:
                raise StepFailed(f"no m.room.create after {PAGES_MAX} pages")
            if events[0].source.get("type") != "m.room.create":
                raise StepFailed(f"first event is {events[0].source.get('type')}")
            bodies = [e.body for e in events if isinstance(e, nio.RoomMessageText)]
            if bodies != [f"nio {i}" for i in range(MESSAGES)]:
                raise StepFailed(f"history has {len(bodies)} messages, not 0..{MESSAGES - 1} "
                                 "in order")
        await run.step("alice paginates /messages back to m.room.create", paginate)

        async def topic():
            room_id = state["room"]
            check(await alice.room_put_state(room_id, "m.room.topic", {"topic": "nio topic"}),
                  "put m.room.topic")
            await sync_until(bob, lambda r: bob.rooms[room_id].topic == "nio topic",
                             "the topic in bob's sync")
        await run.step("topic change seen by bob", topic)

        async def leave():
            room_id = state["room"]
            check(await bob.room_leave(room_id), "leave")

            await sync_until(alice, lambda r: membership_in(r, room_id, bob.user_id, "leave"),
                             "bob's leave in alice's sync")
            await sync_until(bob, lambda r: room_id in r.rooms.leave, "the room in bob's leave "
                             "section", timeout_s=STEP_TIMEOUT_S)
        await run.step("bob leaves; alice's and bob's syncs show it", leave)
    finally:
        await alice.close()
        await bob.close()
    return run.finish()


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
