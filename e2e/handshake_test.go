package e2e

import (
	"strings"
	"testing"
	"time"
)

// customServerJS is a Node socket.io server as a team's app may be: at
// another path, behind a middleware that checks the handshake's auth
// object, a header and a query parameter.
const customServerJS = `
const http = require("node:http");
const { Server } = require("socket.io");
const srv = http.createServer();
const io = new Server(srv, { path: "/app/io/" });
io.use((s, next) => {
  const h = s.handshake;
  if (h.auth.user === "ann" && h.auth.token === "t1" && h.headers["x-key"] === "k1, k2" && h.query.v === "2") return next();
  next(new Error("denied"));
});
io.on("connection", (s) => s.on("hello", (x, cb) => cb(x + "!")));
srv.listen(0, "127.0.0.1", () =>
  process.stderr.write("app: listening on http://127.0.0.1:" + srv.address().port + "\n"));
`

// customServerPy is the same on python-socketio: the connect handler
// refuses what the middleware refused.
const customServerPy = `
import asyncio, sys, urllib.parse
import socketio
from aiohttp import web

sio = socketio.AsyncServer(async_mode="aiohttp")
app = web.Application()
sio.attach(app, socketio_path="/app/io/")

@sio.on("connect")
async def connect(sid, environ, auth=None):
    q = urllib.parse.parse_qs(environ.get("QUERY_STRING", ""))
    ok = isinstance(auth, dict) and auth.get("user") == "ann" and auth.get("token") == "t1"
    if not (ok and environ.get("HTTP_X_KEY") == "k1, k2" and q.get("v") == ["2"]):
        raise socketio.exceptions.ConnectionRefusedError("denied")

@sio.on("hello")
async def hello(sid, x):
    return x + "!"

` + pyServeApp

// --path, --auth (with --token merged over it), -H and --query reach a
// server that asks for them, Node or python-socketio; without the header
// it refuses, and sio-pub says why (exit 3).
func TestCustomHandshake(t *testing.T) {
	for kind, script := range map[string]string{"node": customServerJS, "python": customServerPy} {
		t.Run(kind, func(t *testing.T) { testCustomHandshake(t, startAppOf(t, kind, script)) })
	}
}

func testCustomHandshake(t *testing.T, url string) {
	base := []string{"--url", url, "--path", "/app/io/", "--auth", `{"user":"ann"}`, "--token", "t1", "-e", "hello", "--reply"}
	args := append(base[:len(base):len(base)], "-H", "X-Key: k1, k2", "--query", "v=2")
	code, stdout, stderr := runCmd(t, []byte("hi\n"), time.Minute, "sio-pub", args...)
	if code != 0 || stdout != "hi!\n" {
		t.Errorf("exit %d, stdout %q, stderr %q; want 0 and hi!", code, stdout, stderr)
	}
	code, _, stderr = runCmd(t, []byte("hi\n"), time.Minute, "sio-pub", base...)
	if code != 3 || !strings.Contains(stderr, "denied") {
		t.Errorf("without the header and query: exit %d, stderr %q; want 3 and denied", code, stderr)
	}
	// sio-sub takes the same flags: it joins (and hears nothing: -W),
	// or is refused.
	subArgs := []string{"--url", url, "--path", "/app/io/", "--auth", `{"user":"ann"}`, "--token", "t1", "-W", "300ms"}
	if code, _, stderr := runCmd(t, nil, time.Minute, "sio-sub", append(subArgs, "-H", "X-Key: k1, k2", "--query", "v=2")...); code != 124 {
		t.Errorf("sio-sub: exit %d, stderr %q; want 124 (joined, no event)", code, stderr)
	}
	if code, _, stderr := runCmd(t, nil, time.Minute, "sio-sub", subArgs...); code != 3 || !strings.Contains(stderr, "denied") {
		t.Errorf("sio-sub without the header: exit %d, stderr %q; want 3 and denied", code, stderr)
	}
}
