package e2e

import (
	"strings"
	"testing"
	"time"
)

// msgpackServerJS is a Node socket.io server with the msgpack parser
// (socket.io-msgpack-parser, pinned in package-lock.json): a relay, and
// a handler that answers.
const msgpackServerJS = `
const http = require("node:http");
const { Server } = require("socket.io");
const parser = require("socket.io-msgpack-parser");
const srv = http.createServer();
const io = new Server(srv, { parser });
io.on("connection", (s) => {
  s.onAny((ev, ...args) => {
    if (typeof args[args.length - 1] === "function") return;
    s.broadcast.emit(ev, ...args);
  });
  s.on("getUser", (id, cb) => cb({ id, name: "user" + id, z: 1, a: 2 }, Buffer.from([1, 2, 3])));
});
srv.listen(0, "127.0.0.1", () =>
  process.stderr.write("app: listening on http://127.0.0.1:" + srv.address().port + "\n"));
`

// msgpackClientJS is an official Node client with the msgpack parser
// that prints what it receives: the event name and its arguments as JSON
// (binary as its bytes).
const msgpackClientJS = `
const { io } = require("socket.io-client");
const parser = require("socket.io-msgpack-parser");
const socket = io(process.argv[2], { parser, transports: ["websocket"] });
socket.on("connect", () => process.stderr.write("connected\n"));
socket.onAny((ev, ...args) => process.stdout.write(ev + " " + JSON.stringify(args, (k, v) =>
  v && v.type === "Buffer" ? "bytes:" + v.data.join(",") : v) + "\n"));
`

// With --parser msgpack, sio-pub and sio-sub talk to a server that uses
// socket.io-msgpack-parser: events both ways with official Node clients
// of that parser (objects in key order, numbers, binary), and --reply.
// Without it, sio-pub cannot join such a server and says so.
func TestMsgpackParser(t *testing.T) {
	url := startApp(t, msgpackServerJS)
	node := startScript(t, procOpts{}, "node", msgpackClientJS, url)
	node.stderr.waitFor(t, regexpMust(`(?m)^connected$`), 20*time.Second)
	sub := start(t, procOpts{}, "sio-sub", "--url", url, "--parser", "msgpack", "-f", "envelope")
	sub.stderr.waitFor(t, regexpMust(`subscribed to`), 20*time.Second)

	in := `{"event":"a","data":{"z":1,"a":[1,2.5,-3,null,true,"é<>"]}}` + "\n" +
		`{"event":"b","args":["x",{"$binary":"AQID"}]}` + "\n"
	if c, _, errOut := runCmd(t, []byte(in), time.Minute, "sio-pub", "--url", url, "--parser", "msgpack", "-f", "envelope"); c != 0 {
		t.Fatalf("sio-pub --parser msgpack: exit %d: %s", c, errOut)
	}
	got := sub.stdout.waitLines(t, 2, 20*time.Second)
	if strings.Join(got, "\n")+"\n" != in {
		t.Errorf("sio-sub --parser msgpack printed %q, want what was sent:\n%s", got, in)
	}
	want := []string{`a [{"z":1,"a":[1,2.5,-3,null,true,"é<>"]}]`, `b ["x","bytes:1,2,3"]`}
	if got := node.stdout.waitLines(t, 2, 20*time.Second); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("the Node client got %q, want %q", got, want)
	}

	code, out, errOut := runCmd(t, []byte("7\n"), time.Minute, "sio-pub", "--url", url, "--parser", "msgpack", "-f", "json", "-e", "getUser", "--reply")
	if want := `[{"id":7,"name":"user7","z":1,"a":2},{"$binary":"AQID"}]` + "\n"; code != 0 || out != want {
		t.Errorf("--reply: exit %d, stdout %q, stderr %q; want %q", code, out, errOut, want)
	}

	if c, _, errOut := runCmd(t, []byte("x\n"), time.Minute, "sio-pub", "--url", url, "--connect-timeout", "3s"); c == 0 {
		t.Errorf("sio-pub without --parser msgpack: exit 0 (%s), want a failure", errOut)
	}
	if c, _, errOut := runCmd(t, nil, 10*time.Second, "sio-sub", "--parser", "json"); c != 2 || !strings.Contains(errOut, "--parser") {
		t.Errorf("--parser json: exit %d %q, want 2 naming it", c, errOut)
	}
}
