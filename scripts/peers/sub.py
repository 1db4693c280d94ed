#!/usr/bin/python3
"""sub.py: a python-socketio 5 subscriber (AsyncClient) for interop tests and
benchmarks.

    /usr/bin/python3 scripts/peers/sub.py URL [-e EVENT] [-C COUNT]

The URL's path is the namespace (as for socket.io-client); its query is sent
as is (?room=r1). Prints one line per event (every event, or only EVENT): its
first argument, a string as is, anything else as JSON; flushed per event.
Writes "connected" on stderr once connected; exits 0 after COUNT events.
Websocket transport. The AsyncClient keeps the order of events; the sync
Client runs each in its own thread and can reorder them.
"""
import argparse
import asyncio
import json
import sys

import socketio

from peerclient import connect, split_url

ap = argparse.ArgumentParser()
ap.add_argument("url", nargs="?", default="http://127.0.0.1:31979")
ap.add_argument("-e", "--event")
ap.add_argument("-C", "--count", type=int)
opt = ap.parse_args()


async def main():
    url, ns = split_url(opt.url)
    sio = socketio.AsyncClient()
    out = sys.stdout.buffer
    seen = 0
    done = asyncio.Event()

    @sio.on("connect", namespace=ns)
    async def on_connect():
        print("connected", file=sys.stderr, flush=True)

    @sio.on("*", namespace=ns)
    async def any_event(event, *args):
        nonlocal seen
        if opt.event is not None and event != opt.event:
            return
        v = args[0] if args else None
        s = v if isinstance(v, str) else json.dumps(v, ensure_ascii=False, separators=(",", ":"))
        out.write(s.encode("utf-8", "surrogatepass") + b"\n")
        out.flush()
        seen += 1
        if opt.count is not None and seen >= opt.count:
            done.set()

    await connect(sio, url, ns, 60)
    await done.wait()
    await sio.disconnect()


asyncio.run(main())
