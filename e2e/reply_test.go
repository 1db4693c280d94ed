package e2e

import (
	"regexp"
	"strings"
	"testing"
	"time"
)

// replyServerJS is a Node socket.io server whose handlers answer: the
// application sio-pub --reply is for (request/reply, emitWithAck).
const replyServerJS = `
const http = require("node:http");
const { Server } = require("socket.io");
const srv = http.createServer();
const io = new Server(srv);
io.on("connection", (s) => {
  s.on("getUser", (id, cb) => {
    if (id === 3) return; // no answer
    cb({ id, name: "user" + id, z: 1, a: 2 });
  });
  s.on("pair", (x, cb) => cb(x, "two", 3));
  s.on("bin", (x, cb) => cb(Buffer.from([1, 2, 3])));
});
srv.listen(0, "127.0.0.1", () =>
  process.stderr.write("app: listening on http://127.0.0.1:" + srv.address().port + "\n"));
`

// replyServerPy is the same application on python-socketio: a handler's
// return value is the answer (a tuple for several arguments).
const replyServerPy = `
import asyncio, sys
import socketio
from aiohttp import web

sio = socketio.AsyncServer(async_mode="aiohttp")
app = web.Application()
sio.attach(app)

@sio.on("getUser")
async def get_user(sid, id):
    if id == 3:
        await asyncio.sleep(3600)  # no answer
    return {"id": id, "name": "user%d" % id, "z": 1, "a": 2}

@sio.on("pair")
async def pair(sid, x):
    return x, "two", 3

@sio.on("bin")
async def binary(sid, x):
    return bytes([1, 2, 3])

` + pyServeApp

// pyServeApp ends a python-socketio application script: it serves app on
// a free port and says where, as startApp wants.
const pyServeApp = `
async def main():
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    print("app: listening on http://%s:%d" % (host, port), file=sys.stderr, flush=True)
    await asyncio.Event().wait()

asyncio.run(main())
`

var appListening = regexp.MustCompile(`app: listening on (http://[0-9.:]+)\n`)

// startApp starts a Node socket.io application server, a script that
// prints "app: listening on URL" once it listens, and returns its URL.
func startApp(t *testing.T, script string) string {
	t.Helper()
	return startAppOf(t, "node", script)
}

// startAppOf is startApp for an application in Node ("node") or
// python-socketio ("python").
func startAppOf(t *testing.T, kind, script string) string {
	t.Helper()
	needPeer(t, kind)
	interp := "node"
	if kind == "python" {
		interp = python
	}
	p := startScript(t, procOpts{}, interp, script)
	return p.stderr.waitFor(t, appListening, 30*time.Second)[1]
}

// sio-pub --reply prints each answer of the server's handlers, one line
// per input line, in input order, in the -f format: objects as they came
// (key order kept), several arguments as an array, binary as $binary; an
// answer that never comes is exit 1 naming the line.
func TestPubReply(t *testing.T) {
	for kind, script := range map[string]string{"node": replyServerJS, "python": replyServerPy} {
		t.Run(kind, func(t *testing.T) { testPubReply(t, startAppOf(t, kind, script)) })
	}
}

func testPubReply(t *testing.T, url string) {

	for _, c := range []struct {
		name, event, in, want string
		args                  []string
	}{
		{"objects in order", "getUser", "1\n2\n", `{"id":1,"name":"user1","z":1,"a":2}` + "\n" + `{"id":2,"name":"user2","z":1,"a":2}` + "\n", nil},
		{"several arguments", "pair", "\"x\"\n", `["x","two",3]` + "\n", nil},
		{"binary", "bin", "0\n", `{"$binary":"AQID"}` + "\n", nil},
		{"envelope", "pair", "1\n", `{"event":"pair","args":[1,"two",3]}` + "\n", []string{"--format", "envelope", "--event", "pair"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			args := []string{"--url", url, "--reply", "-f", "json", "-e", c.event}
			in := c.in
			if c.args != nil {
				args = append([]string{"--url", url, "--reply"}, c.args...)
				in = `{"event":"pair","data":1}` + "\n"
			}
			code, stdout, stderr := runCmd(t, []byte(in), time.Minute, "sio-pub", args...)
			if code != 0 || stdout != c.want {
				t.Errorf("exit %d, stdout %q, stderr %q; want 0 and %q", code, stdout, stderr, c.want)
			}
		})
	}
	t.Run("no answer", func(t *testing.T) {
		code, stdout, stderr := runCmd(t, []byte("1\n3\n"), time.Minute, "sio-pub",
			"--url", url, "--reply", "-f", "json", "-e", "getUser", "--ack-timeout", "500ms")
		if code != 1 || !strings.Contains(stderr, "line 2: no acknowledgement within 500ms") {
			t.Errorf("exit %d, stderr %q; want 1 naming line 2", code, stderr)
		}
		if want := `{"id":1,"name":"user1","z":1,"a":2}` + "\n"; stdout != want {
			t.Errorf("stdout %q, want the first answer only", stdout)
		}
	})
}
