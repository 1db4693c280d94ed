package e2e

import (
	"strings"
	"testing"
	"time"
)

// pollingServerJS is a Node socket.io server that allows long-polling
// only (as behind a proxy that passes no websocket): a relay, and a
// handler that answers.
const pollingServerJS = `
const http = require("node:http");
const { Server } = require("socket.io");
const srv = http.createServer();
const io = new Server(srv, { transports: ["polling"] });
io.on("connection", (s) => {
  s.onAny((ev, ...args) => {
    if (typeof args[args.length - 1] === "function") return;
    s.broadcast.emit(ev, ...args);
  });
  s.on("echo", (x, cb) => cb(x, Buffer.from([7])));
});
srv.listen(0, "127.0.0.1", () =>
  process.stderr.write("app: listening on http://127.0.0.1:" + srv.address().port + "\n"));
`

// With --transport polling, sio-pub and sio-sub reach a server that
// allows no websocket: events both ways with an official Node client
// (binary too), --reply, and sio-serve's own long-polling. So does the
// default, which upgrades only where the server offers it; with
// --transport websocket the websocket is refused and sio-pub says so.
func TestPollingTransport(t *testing.T) {
	for _, kind := range []string{"node", "sio-serve"} {
		t.Run(kind, func(t *testing.T) {
			var url string
			if kind == "node" {
				url = startApp(t, pollingServerJS)
			} else {
				url = serve(t, "-q").URL
			}
			node := startScript(t, procOpts{}, "node", canaryJS, url, "polling")
			node.stderr.waitFor(t, regexpMust(`(?m)^connected$`), 20*time.Second)
			sub := start(t, procOpts{}, "sio-sub", "--url", url, "--transport", "polling", "-f", "envelope")
			sub.stderr.waitFor(t, regexpMust(`subscribed to`), 20*time.Second)

			in := `{"event":"a","data":{"z":1,"a":"é"}}` + "\n" + `{"event":"b","args":["x",{"$binary":"AQID"}]}` + "\n"
			if c, _, errOut := runCmd(t, []byte(in), time.Minute, "sio-pub", "--url", url, "--transport", "polling", "-f", "envelope"); c != 0 {
				t.Fatalf("sio-pub --transport polling: exit %d: %s", c, errOut)
			}
			// Passed on as sent, over long-polling too (the library's way
			// sorted the keys: sessions that start on long-polling are the
			// relay's own now).
			want := strings.Split(strings.TrimSpace(in), "\n")
			got := sub.stdout.waitLines(t, 2, 20*time.Second)
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("sio-sub --transport polling printed %q, want %q", got, want)
			}
			if got := node.stdout.waitLines(t, 2, 20*time.Second); got[0] != "a object" || got[1] != "b x" {
				t.Errorf("the Node client got %q", got)
			}
			if kind != "node" {
				return
			}
			code, out, errOut := runCmd(t, []byte("\"hi\"\n"), time.Minute, "sio-pub", "--url", url, "--transport", "polling", "-f", "json", "-e", "echo", "--reply")
			if want := `["hi",{"$binary":"Bw=="}]` + "\n"; code != 0 || out != want {
				t.Errorf("--reply: exit %d, stdout %q, stderr %q; want %q", code, out, errOut, want)
			}
			if c, _, errOut := runCmd(t, []byte("x\n"), time.Minute, "sio-pub", "--url", url, "--transport", "websocket", "--connect-timeout", "3s"); c == 0 {
				t.Errorf("sio-pub over a websocket to a polling-only server: exit 0 (%s)", errOut)
			}
			code, out, errOut = runCmd(t, []byte("\"hi\"\n"), time.Minute, "sio-pub", "--url", url, "-f", "json", "-e", "echo", "--reply")
			if want := `["hi",{"$binary":"Bw=="}]` + "\n"; code != 0 || out != want {
				t.Errorf("--reply with the default transport: exit %d, stdout %q, stderr %q; want %q", code, out, errOut, want)
			}
		})
	}
	if c, _, errOut := runCmd(t, nil, 10*time.Second, "sio-sub", "--transport", "carrier-pigeon"); c != 2 || !strings.Contains(errOut, "--transport") {
		t.Errorf("--transport carrier-pigeon: exit %d %q, want 2 naming it", c, errOut)
	}
}

// transportJS and transportPy answer "which" with the transport a
// connection opened on and the one it is on now ("polling>websocket").
const transportJS = `
const http = require("node:http");
const { Server } = require("socket.io");
const srv = http.createServer();
const io = new Server(srv);
io.on("connection", (s) => {
  s.on("which", (x, cb) => cb(s.handshake.query.transport + ">" + s.conn.transport.name));
});
srv.listen(0, "127.0.0.1", () =>
  process.stderr.write("app: listening on http://127.0.0.1:" + srv.address().port + "\n"));
`

const transportPy = `
import asyncio, sys
from urllib.parse import parse_qs
import socketio
from aiohttp import web

sio = socketio.AsyncServer(async_mode="aiohttp")
app = web.Application()
sio.attach(app)
first = {}

@sio.event
async def connect(sid, environ, auth=None):
    first[sid] = parse_qs(environ.get("QUERY_STRING", "")).get("transport", ["?"])[0]

@sio.on("which")
async def which(sid, x):
    return first.get(sid, "?") + ">" + sio.transport(sio.manager.eio_sid_from_sid(sid, "/"))

` + pyServeApp

// By default sio-pub and sio-sub open over long-polling and move to a
// websocket, as the official client does, before they send anything:
// Node and python-socketio servers see the move, and sio-serve relays
// the first event byte for byte (over long-polling it goes through the
// library, which sorts keys). --transport websocket and polling do not
// move.
func TestUpgradeTransport(t *testing.T) {
	for _, kind := range []string{"node", "python"} {
		t.Run(kind, func(t *testing.T) {
			script := transportJS
			if kind == "python" {
				script = transportPy
			}
			url := startAppOf(t, kind, script)
			for _, c := range []struct{ transport, want string }{
				{"", "polling>websocket"},
				{"upgrade", "polling>websocket"},
				{"websocket", "websocket>websocket"},
				{"polling", "polling>polling"},
			} {
				args := []string{"--url", url, "-e", "which", "--reply"}
				if c.transport != "" {
					args = append(args, "--transport", c.transport)
				}
				code, out, errOut := runCmd(t, []byte("1\n"), time.Minute, "sio-pub", args...)
				if want := c.want + "\n"; code != 0 || out != want {
					t.Errorf("--transport %q: exit %d, stdout %q, stderr %q; want %q", c.transport, code, out, errOut, want)
				}
			}
		})
	}
	t.Run("sio-serve", func(t *testing.T) {
		url := serve(t, "-q").URL
		sub := start(t, procOpts{}, "sio-sub", "--url", url, "-f", "envelope")
		sub.stderr.waitFor(t, regexpMust(`subscribed to`), 20*time.Second)
		in := `{"event":"a","data":{"z":1,"a":2,"n":1.50}}` + "\n"
		if c, _, errOut := runCmd(t, []byte(in), time.Minute, "sio-pub", "--url", url, "-f", "envelope"); c != 0 {
			t.Fatalf("sio-pub: exit %d: %s", c, errOut)
		}
		if got := sub.stdout.waitLines(t, 1, 20*time.Second); got[0]+"\n" != in {
			t.Errorf("sio-sub printed %q, want %q as sent", got[0], in)
		}
	})
}
