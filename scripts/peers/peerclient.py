"""peerclient.py: what the python-socketio peer clients (pub.py, sub.py)
share: connecting with retries and splitting a URL into server and namespace.
"""
import asyncio
import sys
import urllib.parse

import socketio


async def connect(sio, url, ns, limit):
    """Connects, trying again for up to limit seconds: connect() gives up
    when the namespace is not joined within wait_timeout (default 1 s)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    while True:
        try:
            await sio.connect(url, namespaces=[ns], transports=["websocket"],
                              wait_timeout=5)
            return
        except socketio.exceptions.ConnectionError as e:
            if loop.time() >= deadline:
                raise
            print(f"{sys.argv[0]}: connect: {e}; trying again", file=sys.stderr, flush=True)
            try:
                await sio.disconnect()
            except Exception:  # noqa: BLE001 (already down)
                pass
            await asyncio.sleep(0.5)


def split_url(url):
    """Returns the server URL (with the query) and the namespace."""
    u = urllib.parse.urlsplit(url)
    ns = u.path.rstrip("/") or "/"
    return urllib.parse.urlunsplit((u.scheme, u.netloc, "", u.query, "")), ns
