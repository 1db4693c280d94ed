#!/usr/bin/python3
"""pub.py: a python-socketio 5 publisher (AsyncClient) for interop tests and
benchmarks.

    /usr/bin/python3 scripts/peers/pub.py URL [-e EVENT] [--ack last|all]

Reads stdin and emits each line (without "\\n" or "\\r\\n") as one string
argument of EVENT (default "message"), in order, over websocket. The URL's
path is the namespace. It exits 0 only when every line was delivered: with
--ack last (the default) the last line is emitted with an ack (the connection
keeps order, so that ack covers all before it); with --ack all every line asks
for one. Exit 1 on a timeout or a lost connection, 3 if it cannot connect.
"""
import argparse
import asyncio
import os
import sys

import socketio

from peerclient import connect, split_url

ap = argparse.ArgumentParser()
ap.add_argument("url", nargs="?", default="http://127.0.0.1:31979")
ap.add_argument("-e", "--event", default="message")
ap.add_argument("--ack", choices=["last", "all"], default="last")
opt = ap.parse_args()

TIMEOUT = 30  # seconds to wait for an ack


async def lines():
    """Yields stdin's lines as they come; reads in a thread (pipes and files)."""
    loop = asyncio.get_running_loop()
    rest = b""
    while True:
        chunk = await loop.run_in_executor(None, os.read, 0, 1 << 16)
        if not chunk:
            break
        parts = (rest + chunk).split(b"\n")  # not splitlines: U+2028, \x85...
        rest = parts.pop()
        for p in parts:
            yield p
    if rest:
        yield rest


def text(b):
    return (b[:-1] if b.endswith(b"\r") else b).decode("utf-8")


async def main():
    url, ns = split_url(opt.url)
    sio = socketio.AsyncClient(reconnection=False)
    try:
        await connect(sio, url, ns, 10)
    except Exception as e:  # noqa: BLE001 (any failure to connect)
        print(f"pub.py: connect: {e!r}", file=sys.stderr)
        return 3
    acks = []  # --ack all: the acks asked for
    held = None
    async for b in lines():
        line = text(b)
        if opt.ack == "all":
            f = asyncio.get_running_loop().create_future()
            acks.append(f)
            await sio.emit(opt.event, line, namespace=ns,
                           callback=lambda *a, f=f: f.done() or f.set_result(a))
            continue
        if held is not None:
            await sio.emit(opt.event, held, namespace=ns)
        held = line
    try:
        if held is not None:
            await sio.call(opt.event, held, namespace=ns, timeout=TIMEOUT)
        await asyncio.wait_for(asyncio.gather(*acks), TIMEOUT)
    except Exception as e:  # noqa: BLE001 (timeout or lost connection)
        print(f"pub.py: not all lines confirmed: {e!r}", file=sys.stderr)
        return 1
    await sio.disconnect()
    return 0


sys.exit(asyncio.run(main()))
