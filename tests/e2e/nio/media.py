#!/usr/bin/python3
"""Media through nebu with matrix-nio (Debian's python3-matrix-nio 0.20).

Goal: an older client library that still calls the legacy media paths
(/_matrix/media/r0/upload and /_matrix/media/r0/download, unauthenticated) can upload
a file and download the same bytes, and bob can download what alice uploaded.
Method: alice and bob register; alice uploads 300 KiB of random bytes; both download
it and compare the SHA-256. Every wait is bounded; each step prints ok or FAIL, and
the exit code is non-zero on any failure.

    NEBU_E2E_URL=http://127.0.0.1:8008 /usr/bin/python3 tests/e2e/nio/media.py
"""

import asyncio
import hashlib
import io
import os
import sys

import nio

from chat import BASE_URL, RUN_ID, StepFailed, Steps, check

PAYLOAD = os.urandom(300 * 1024)


async def main():
    run = Steps("nio-media")
    alice = nio.AsyncClient(BASE_URL, config=nio.AsyncClientConfig(store_sync_tokens=False))
    bob = nio.AsyncClient(BASE_URL, config=nio.AsyncClientConfig(store_sync_tokens=False))
    state = {}
    try:
        async def register(client, name):
            check(await client.register(f"niom{name}-{RUN_ID}", f"pw-{RUN_ID}", name),
                  f"register {name}")
        await run.step("register alice", lambda: register(alice, "alice"), critical=True)
        await run.step("register bob", lambda: register(bob, "bob"), critical=True)

        async def upload():
            response, _ = await alice.upload(io.BytesIO(PAYLOAD), content_type="application/pdf",
                                             filename="paper.pdf", filesize=len(PAYLOAD))
            check(response, "upload")
            if not response.content_uri.startswith("mxc://"):
                raise StepFailed(f"content_uri {response.content_uri}")
            state["uri"] = response.content_uri
        await run.step("alice uploads 300 KiB", upload, critical=True)

        async def download(client, who):
            response = check(await client.download(mxc=state["uri"]), f"download by {who}")
            if hashlib.sha256(response.body).digest() != hashlib.sha256(PAYLOAD).digest():
                raise StepFailed(f"{who} got {len(response.body)} bytes, hash differs")
            if response.content_type != "application/pdf":
                raise StepFailed(f"content type {response.content_type}")
        await run.step("alice downloads the same bytes", lambda: download(alice, "alice"))
        await run.step("bob downloads the same bytes", lambda: download(bob, "bob"))
    finally:
        await alice.close()
        await bob.close()
    return run.finish()


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
