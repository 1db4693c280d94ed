#!/usr/bin/python3
"""relay.py: the python-socketio 5 reference relay (asyncio server on aiohttp)
doing what sio-serve does, for interop tests and benchmarks.

    /usr/bin/python3 scripts/peers/relay.py [--host H] [--port P]
        [--max-bytes N] [--namespace NS]... [-v] [--debug]

An event a client emits goes to every other client of its namespace with its
name and arguments unchanged; a client that connected with "room" (a name or
a comma list) in its handshake auth or query joined those rooms and emits only
to their other members. An ack asked for is answered (no arguments) after the
broadcast. --port 0 picks a free port. When ready it prints one line on
stderr: "relay.py: listening on http://HOST:PORT"; with -v also
"relay.py: connect NS" and "relay.py: disconnect NS" per client; --debug
adds python-socketio's and python-engineio's logs.

python-socketio 5.7 has no catch-all namespace for handlers: the relay serves
"/" and each --namespace given. Handlers run one at a time per server
(async_handlers=False): python-socketio's default runs every event in its own
task, which can reorder a client's events.
"""
import argparse
import asyncio
import signal
import sys
import urllib.parse

import socketio
from aiohttp import web

ap = argparse.ArgumentParser()
ap.add_argument("--host", default="127.0.0.1")
ap.add_argument("--port", type=int, default=31979)
ap.add_argument("--max-bytes", type=int, default=1000000)  # socket.io's default
ap.add_argument("--namespace", action="append", default=[])
ap.add_argument("-v", "--verbose", action="store_true")
ap.add_argument("--debug", action="store_true", help="python-socketio's own logs")
opt = ap.parse_args()

sio = socketio.AsyncServer(async_mode="aiohttp", async_handlers=False,
                           logger=opt.debug, engineio_logger=opt.debug,
                           max_http_buffer_size=opt.max_bytes,
                           cors_allowed_origins="*")
app = web.Application()
sio.attach(app)

rooms = {}  # (namespace, sid) -> the rooms the client joined


def log(msg):
    if opt.verbose:
        print(f"relay.py: {msg}", file=sys.stderr, flush=True)


def relay_namespace(ns):
    @sio.on("connect", namespace=ns)
    async def connect(sid, environ, auth=None):
        r = auth.get("room") if isinstance(auth, dict) else None
        if r is None:
            q = urllib.parse.parse_qs(environ.get("QUERY_STRING", ""))
            r = q.get("room", [None])[0]
        joined = [x for x in r.split(",") if x] if isinstance(r, str) else []
        for room in joined:
            sio.enter_room(sid, room, namespace=ns)
        rooms[(ns, sid)] = joined
        log(f"connect {ns}")

    @sio.on("disconnect", namespace=ns)
    async def disconnect(sid):
        rooms.pop((ns, sid), None)
        log(f"disconnect {ns}")

    @sio.on("*", namespace=ns)
    async def any_event(event, sid, *args):
        # A tuple is sent as that many arguments (also none, or one list).
        joined = rooms.get((ns, sid))
        if not joined:
            await sio.emit(event, args, skip_sid=sid, namespace=ns)
            return None  # answers an ack with no arguments
        # 5.7's AsyncManager.emit takes one room: send to each member of
        # the rooms once.
        for member, _ in list(sio.manager.get_participants(ns, joined)):
            if member != sid:
                await sio.emit(event, args, to=member, namespace=ns)
        return None


for ns in ["/"] + opt.namespace:
    relay_namespace(ns)


async def main():
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, opt.host, opt.port)
    await site.start()
    host, port = runner.addresses[0][:2]
    print(f"relay.py: listening on http://{host}:{port}", file=sys.stderr, flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await runner.cleanup()


asyncio.run(main())
