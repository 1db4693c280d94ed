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

// msgpackPeerJS is an official Node client with the msgpack parser on
// the transport argv[3] (websocket or polling): it prints what it
// receives, as msgpackClientJS, and emits each line of its stdin as a
// "fromNode" event with a binary argument.
const msgpackPeerJS = `
const { io } = require("socket.io-client");
const parser = require("socket.io-msgpack-parser");
const socket = io(process.argv[2], { parser, transports: [process.argv[3]] });
socket.on("connect", () => process.stderr.write("connected\n"));
socket.onAny((ev, ...args) => process.stdout.write(ev + " " + JSON.stringify(args, (k, v) =>
  v && v.type === "Buffer" ? "bytes:" + v.data.join(",") : v) + "\n"));
require("node:readline").createInterface({ input: process.stdin }).on("line", (l) =>
  socket.emit("fromNode", { text: l, n: 1.5 }, Buffer.from([9, 8])));
`

// sio-serve --parser msgpack relays between clients of that parser: the
// official Node client on websocket and on long-polling, sio-pub and
// sio-sub with --parser msgpack (acks, binary, recovery's offsets taken
// off). Keys come out sorted: events take the library's way. A client
// of the default parser cannot join, and a message that is not a msgpack
// packet closes only its own connection.
func TestServeMsgpack(t *testing.T) {
	needPeer(t, "node")
	url := serve(t, "-q", "--parser", "msgpack").URL
	var nodes []*proc
	for _, tr := range []string{"websocket", "polling"} {
		n := startScript(t, procOpts{}, "node", msgpackPeerJS, url, tr)
		n.stderr.waitFor(t, regexpMust(`(?m)^connected$`), 20*time.Second)
		nodes = append(nodes, n)
	}
	sub := start(t, procOpts{}, "sio-sub", "--url", url, "--parser", "msgpack", "-f", "envelope")
	sub.stderr.waitFor(t, regexpMust(`subscribed to`), 20*time.Second)

	in := `{"event":"a","data":{"z":1,"a":[1,2.5,-3,null,true,"é<>"]}}` + "\n" +
		`{"event":"b","args":["x",{"$binary":"AQID"}]}` + "\n"
	if c, _, errOut := runCmd(t, []byte(in), time.Minute, "sio-pub", "--url", url, "--parser", "msgpack", "-f", "envelope", "--ack"); c != 0 {
		t.Fatalf("sio-pub --parser msgpack --ack: exit %d: %s", c, errOut)
	}
	wantSub := []string{`{"event":"a","data":{"a":[1,2.5,-3,null,true,"é<>"],"z":1}}`, `{"event":"b","args":["x",{"$binary":"AQID"}]}`}
	if got := sub.stdout.waitLines(t, 2, 20*time.Second); strings.Join(got, "\n") != strings.Join(wantSub, "\n") {
		t.Errorf("sio-sub printed %q, want %q", got, wantSub)
	}
	wantNode := []string{`a [{"a":[1,2.5,-3,null,true,"é<>"],"z":1}]`, `b ["x","bytes:1,2,3"]`}
	for i, n := range nodes {
		if got := n.stdout.waitLines(t, 2, 20*time.Second); strings.Join(got, "\n") != strings.Join(wantNode, "\n") {
			t.Errorf("Node client %d got %q, want %q", i, got, wantNode)
		}
	}

	if _, err := nodes[1].stdin.Write([]byte("hello\n")); err != nil { // from the long-polling client
		t.Fatal(err)
	}
	if got := sub.stdout.waitLines(t, 3, 20*time.Second)[2]; got != `{"event":"fromNode","args":[{"n":1.5,"text":"hello"},{"$binary":"CQg="}]}` {
		t.Errorf("sio-sub got %q from the Node client", got)
	}
	if got := nodes[0].stdout.waitLines(t, 3, 20*time.Second)[2]; got != `fromNode [{"n":1.5,"text":"hello"},"bytes:9,8"]` {
		t.Errorf("the websocket Node client got %q from the polling one", got)
	}

	if c, _, errOut := runCmd(t, []byte("x\n"), time.Minute, "sio-pub", "--url", url, "--connect-timeout", "3s"); c == 0 {
		t.Errorf("sio-pub of the default parser: exit 0 (%s), want a failure", errOut)
	}
	// A websocket client that sends garbage is closed; the others stay.
	if code := startScript(t, procOpts{}, "node", garbageMsgpackJS, url).wait(time.Minute); code != 0 {
		t.Errorf("the garbage sender: exit %d", code)
	}
	if c, _, errOut := runCmd(t, []byte("after\n"), time.Minute, "sio-pub", "--url", url, "--parser", "msgpack"); c != 0 {
		t.Fatalf("sio-pub after the garbage: exit %d: %s", c, errOut)
	}
	if got := sub.stdout.waitLines(t, 4, 20*time.Second)[3]; got != `{"event":"message","data":"after"}` {
		t.Errorf("sio-sub got %q after the garbage", got)
	}
}

// garbageMsgpackJS opens an Engine.IO websocket, joins / with a msgpack
// CONNECT, then sends a binary message that is no msgpack packet, and
// exits 0 once the server closed the connection.
const garbageMsgpackJS = `
const { WebSocket } = require("ws");
const ws = new WebSocket(process.argv[2].replace("http", "ws") + "/socket.io/?EIO=4&transport=websocket");
ws.on("message", (m, binary) => {
  if (!binary && String(m).startsWith("0")) ws.send(Buffer.from([0x82, 0xa4, 0x74, 0x79, 0x70, 0x65, 0x00, 0xa3, 0x6e, 0x73, 0x70, 0xa1, 0x2f]));
  else if (binary) ws.send(Buffer.from([0xc1, 0xc1, 0xc1]));
});
ws.on("close", () => process.exit(0));
setTimeout(() => { console.error("not closed"); process.exit(1); }, 10000);
`
