#!/usr/bin/python3
"""A real client's smoke test of a containerized nebu (scripts/container-smoke.sh).

Goal: through the published port of the Compose stack, matrix-nio (Debian's
python3-matrix-nio) can register, create a room, send a message and read it back with
/sync, on the node it wrote to or on another node of the cluster.
Method: register USER with open registration (m.login.dummy) on --url; create a room;
send one message with a unique body; log in as the same user on --read-url (default:
--url) as a second device and /sync (bounded) until the message is in the room's
timeline. Prints `event_id <id>` and `room_id <id>` for the caller (which then looks for
the projected row in PostgreSQL). Exit 0 on success, 1 on any failure.

    /usr/bin/python3 tests/deploy/smoke.py --url http://127.0.0.1:8008 --user alice
"""

import argparse
import asyncio
import sys
import time
import uuid

import nio

STEP_TIMEOUT_S = 30        # one request's bound
READ_TIMEOUT_S = 60        # bound for the message to appear in the reader's /sync
SYNC_POLL_MS = 2000        # long-poll timeout of each /sync
PASSWORD = "container-smoke-password-0123"


class Failed(Exception):
    pass


def check(response, what):
    if isinstance(response, nio.ErrorResponse):
        raise Failed(f"{what}: {response.status_code} {response.message}")
    return response


async def register_or_login(client, user):
    response = await asyncio.wait_for(client.register(user, PASSWORD), STEP_TIMEOUT_S)
    if isinstance(response, nio.ErrorResponse) and response.status_code == "M_USER_IN_USE":
        response = await asyncio.wait_for(client.login(PASSWORD), STEP_TIMEOUT_S)
    check(response, f"register {user}")


async def read_message(url, user, room_id, body):
    reader = nio.AsyncClient(url, user)
    try:
        check(await asyncio.wait_for(reader.login(PASSWORD), STEP_TIMEOUT_S), "reader login")
        deadline = time.monotonic() + READ_TIMEOUT_S
        since = None
        while time.monotonic() < deadline:
            sync = check(await asyncio.wait_for(
                reader.sync(timeout=SYNC_POLL_MS, since=since, full_state=since is None),
                STEP_TIMEOUT_S), "sync")
            since = sync.next_batch
            room = sync.rooms.join.get(room_id)
            if room is not None:
                for event in room.timeline.events:
                    if getattr(event, "body", None) == body:
                        return event.event_id
        raise Failed(f"the message did not reach {url}'s /sync within {READ_TIMEOUT_S} s")
    finally:
        await reader.close()


async def run(args):
    writer = nio.AsyncClient(args.url, args.user)
    try:
        await register_or_login(writer, args.user)
        print(f"  ok   registered {writer.user_id} on {args.url}", flush=True)
        room = check(await asyncio.wait_for(
            writer.room_create(name="container smoke"), STEP_TIMEOUT_S), "createRoom")
        print(f"  ok   created {room.room_id}", flush=True)
        body = f"container smoke {uuid.uuid4()}"
        sent = check(await asyncio.wait_for(writer.room_send(
            room.room_id, "m.room.message", {"msgtype": "m.text", "body": body}),
            STEP_TIMEOUT_S), "send")
        print(f"  ok   sent {sent.event_id}", flush=True)
        read_url = args.read_url or args.url
        seen = await read_message(read_url, args.user, room.room_id, body)
        if seen != sent.event_id:
            raise Failed(f"sync showed {seen}, the send answered {sent.event_id}")
        print(f"  ok   /sync on {read_url} has the message", flush=True)
        print(f"event_id {sent.event_id}")
        print(f"room_id {room.room_id}")
    finally:
        await writer.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True, help="Client-Server API to write to")
    parser.add_argument("--read-url", help="Client-Server API to sync from (default --url)")
    parser.add_argument("--user", required=True, help="localpart to register or log in")
    args = parser.parse_args()
    try:
        asyncio.run(run(args))
    except (Failed, asyncio.TimeoutError, OSError, nio.exceptions.ProtocolError) as err:
        print(f"  FAIL {type(err).__name__}: {err}", flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
