package e2e

// A mixed cluster on the Redis streams adapter: two sio-serve
// --redis-streams and one Node socket.io server with
// @socket.io/redis-streams-adapter (pinned in package-lock.json), on one
// real redis-server.

import (
	"fmt"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// streamsNodeJS is a Node relay on the streams adapter (argv[2] is the
// Redis URL), like relay.js; a client's "fetchSockets" and "serverSideEmit"
// (with an ack) are answered with what the cluster says: the number of
// sockets of all nodes, and the number of other nodes' answers.
const streamsNodeJS = `
const http = require("node:http");
const { Server } = require("socket.io");
const { createClient } = require("redis");
const { createAdapter } = require("@socket.io/redis-streams-adapter");
const client = createClient({ url: process.argv[2] });
client.on("error", (err) => process.stderr.write("app: redis: " + err.message + "\n"));
client.connect().then(() => {
  const srv = http.createServer();
  const io = new Server(srv, { adapter: createAdapter(client) });
  io.on("connection", (s) => {
    const r = s.handshake.auth && s.handshake.auth.room;
    const joined = typeof r === "string" && r !== "" ? r.split(",") : [];
    if (joined.length > 0) s.join(joined);
    s.on("fetchSockets", (...a) => { const cb = a.pop(); io.fetchSockets().then((l) => cb(l.length), (e) => cb("error: " + e.message)); });
    s.on("serverSideEmit", (...a) => { const cb = a.pop(); io.serverSideEmit("hello", (err, res) => cb(err ? "error: " + err.message : res.length)); });
    s.onAny((ev, ...args) => {
      if (ev === "fetchSockets" || ev === "serverSideEmit") return;
      const ack = typeof args[args.length - 1] === "function" ? args.pop() : null;
      (joined.length > 0 ? s.to(joined) : s.broadcast).emit(ev, ...args);
      if (ack) ack();
    });
  });
  srv.listen(0, "127.0.0.1", () =>
    process.stderr.write("app: listening on http://127.0.0.1:" + srv.address().port + "\n"));
});
`

// streamsCluster is two sio-serve and one Node server on the stream.
type streamsCluster struct {
	urls  []string // sio-serve, sio-serve, Node
	nodes []*server
}

func startStreamsCluster(t *testing.T, r *redisServer, args ...string) *streamsCluster {
	t.Helper()
	needPeer(t, "node")
	a := serve(t, append([]string{"-q", "--redis-streams", r.URL}, args...)...)
	b := serve(t, append([]string{"-q", "--redis-streams", r.URL}, args...)...)
	p := startScript(t, procOpts{}, "node", streamsNodeJS, r.URL)
	c := p.stderr.waitFor(t, appListening, clusterLimit)[1]
	return &streamsCluster{urls: []string{a.URL, b.URL, c}, nodes: []*server{a, b}}
}

// startPersistentRedis is startRedis with every write on disk (the
// append-only file, synced each time) in dir, so that it can be stopped
// and started again with its data, as a persistent Redis would.
func startPersistentRedis(t *testing.T, port int, dir string) *redisServer {
	t.Helper()
	needPeer(t, "redis")
	if port == 0 {
		port = freePort(t)
	}
	p := startPath(t, procOpts{}, "redis-server", "--port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "yes", "--appendfsync", "always", "--dir", dir)
	p.stdout.waitFor(t, redisReady, clusterLimit)
	return &redisServer{port: port, URL: fmt.Sprintf("redis://127.0.0.1:%d/0", port), p: p}
}

// Every event published on any node reaches the subscribers of every
// node exactly once and in order, rooms and binary included; the Node
// node's fetchSockets counts the sockets of the sio-serve nodes, and its
// serverSideEmit gets their answers.
func TestStreamsClusterRelaysEverywhere(t *testing.T) {
	r := startRedis(t, 0)
	cl := startStreamsCluster(t, r)
	var subs []*proc
	for _, u := range cl.urls {
		s := start(t, procOpts{}, "sio-sub", "--url", u, "-f", "envelope")
		s.stderr.waitFor(t, regexpMust(`subscribed to`), clusterLimit)
		subs = append(subs, s)
	}
	roomSub := start(t, procOpts{}, "sio-sub", "--url", cl.urls[1], "--room", "r1", "-f", "envelope")
	roomSub.stderr.waitFor(t, regexpMust(`subscribed to`), clusterLimit)

	var want []string
	for i, u := range cl.urls {
		lines := numbered(fmt.Sprintf("from node %d: ", i), 200)
		var in []string
		for _, l := range lines {
			in = append(in, `{"event":"message","data":"`+l+`"}`)
		}
		in = append(in, fmt.Sprintf(`{"event":"bin","args":["node %d",{"$binary":"AQID"}]}`, i))
		if c, _, errOut := runCmd(t, []byte(strings.Join(in, "\n")+"\n"), clusterLimit, "sio-pub", "--url", u, "-f", "envelope", "--ack"); c != 0 {
			t.Fatalf("sio-pub into node %d: exit %d: %s", i, c, errOut)
		}
		want = append(want, in...)
	}
	inRoom := `{"event":"message","data":"for r1"}`
	if c, _, errOut := runCmd(t, []byte(inRoom+"\n"), clusterLimit, "sio-pub", "--url", cl.urls[2], "--room", "r1", "-f", "envelope"); c != 0 {
		t.Fatalf("sio-pub into room r1: exit %d: %s", c, errOut)
	}
	for i, s := range subs {
		got := s.stdout.waitLinesOr(len(want), clusterLimit)
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("sio-sub on node %d got %d lines, want %d in order; first difference at %d", i, len(got), len(want), firstDiff(got, want))
		}
	}
	// The room's member gets every broadcast of the namespace and the
	// room's; the others not the room's.
	if got := roomSub.stdout.waitLinesOr(len(want)+1, clusterLimit); strings.Join(got, "\n") != strings.Join(append(want, inRoom), "\n") {
		t.Errorf("the member of room r1 got %d lines, want %d and the room's last; first difference at %d", len(got), len(want)+1, firstDiff(got, append(want, inRoom)))
	}
	for i, s := range subs {
		if strings.Contains(s.stdout.String(), "for r1") {
			t.Errorf("sio-sub on node %d, in no room, got the event for room r1", i)
		}
	}

	// 5 sio-sub: 1 + 2 on the sio-serve nodes, 1 on Node; and the
	// asking client.
	ask := func(ev string) string {
		code, out, errOut := runCmd(t, []byte("\n"), clusterLimit, "sio-pub", "--url", cl.urls[2], "-f", "json", "-e", ev, "--reply", "-m", "0")
		if code != 0 {
			t.Fatalf("asking Node for %s: exit %d: %s", ev, code, errOut)
		}
		return strings.TrimSpace(out)
	}
	if got := ask("fetchSockets"); got != "5" {
		t.Errorf("Node's fetchSockets counted %s sockets, want 5: 3 sio-sub on the sio-serve nodes, 1 on Node, and the asker", got)
	}
	if got := ask("serverSideEmit"); got != "2" {
		t.Errorf("Node's serverSideEmit got %s answers, want 2 (the two sio-serve nodes)", got)
	}
}

func firstDiff(a, b []string) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// Redis stopped and started again with its data in the middle of a
// sio-pub --ack stream into node A: every line reaches sio-sub on node B
// and on the Node node exactly once, in order.
func TestStreamsSurviveRedisRestart(t *testing.T) {
	dir := t.TempDir()
	r := startPersistentRedis(t, 0, dir)
	cl := startStreamsCluster(t, r, "--stream-maxlen", "1000000")
	subB := start(t, procOpts{}, "sio-sub", "--url", cl.urls[1])
	subC := start(t, procOpts{}, "sio-sub", "--url", cl.urls[2])
	for _, s := range []*proc{subB, subC} {
		s.stderr.waitFor(t, regexpMust(`subscribed to`), clusterLimit)
	}
	const n = 20000
	lines := numbered("line ", n)
	pub := start(t, procOpts{stdin: linesIn(lines)}, "sio-pub", "--url", cl.urls[0], "--ack", "--rate", "4000")
	if !waitForCount(subB, 2000, clusterLimit) {
		t.Fatalf("node B got %d lines before the restart", len(subB.stdout.Lines()))
	}
	r.p.signal(syscall.SIGTERM)
	r.p.wait(10 * time.Second)
	waitHealth(t, cl.nodes[0], "redis: down")
	time.Sleep(5 * time.Second)
	startPersistentRedis(t, r.port, dir)
	if c := pub.wait(3 * clusterLimit); c != 0 {
		t.Fatalf("sio-pub exit %d: %s", c, pub.stderr.String())
	}
	for name, s := range map[string]*proc{"sio-sub on node B": subB, "sio-sub on the Node node": subC} {
		got := s.stdout.waitLinesOr(n, 2*clusterLimit)
		if strings.Join(got, "\n") != strings.Join(lines, "\n") {
			t.Errorf("%s got %d lines, want %d exactly once in order; first difference at %d", name, len(got), n, firstDiff(got, lines))
		}
	}
}

// waitForCount waits until p printed at least n lines.
func waitForCount(p *proc, n int, limit time.Duration) bool {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		if len(p.stdout.Lines()) >= n {
			return true
		}
		time.Sleep(50 * time.Millisecond)
	}
	return false
}
