package e2e

// A mixed cluster on the Redis streams adapter: two sio-serve
// --redis-streams and one Node socket.io server with
// @socket.io/redis-streams-adapter (pinned in package-lock.json), on one
// real redis-server.

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"sync"
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
    s.on("broadcastWithAck", (...a) => { const cb = a.pop(); io.timeout(5000).emit("ackme", (err, acks) => cb(err ? "error: " + err.message : acks.length)); });
    s.onAny((ev, ...args) => {
      if (ev === "fetchSockets" || ev === "serverSideEmit" || ev === "broadcastWithAck") return;
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
	// A broadcast with acks from Node: every client acknowledges, those
	// of the sio-serve nodes included (4 sio-sub and the asker).
	if got := ask("broadcastWithAck"); got != "5" {
		t.Errorf("Node's broadcast with acks got %s acks, want 5", got)
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

// Node A reaches Redis only through a proxy, which cuts all of A's
// connections and refuses new ones for 5 s in the middle of a sio-pub
// --ack stream into A, while Redis stays up for node B and the Node node:
// A says "redis: down" meanwhile, and every line reaches sio-sub on B and
// on the Node node exactly once, in order. A pipeline of XADDs that Redis
// ran but whose replies the cut lost is added again when A retries: both
// subscribers then print those lines twice (4 of 10 runs on 2026-11-30).
func TestStreamsNodeCutFromRedis(t *testing.T) {
	needPeer(t, "node")
	r := startRedis(t, 0)
	proxy := newFaultProxy(t, fmt.Sprintf("127.0.0.1:%d", r.port))
	a := serve(t, "-q", "--redis-streams", "redis://"+proxy.Addr()+"/0", "--stream-maxlen", "1000000")
	b := serve(t, "-q", "--redis-streams", r.URL, "--stream-maxlen", "1000000")
	c := startScript(t, procOpts{}, "node", streamsNodeJS, r.URL).stderr.waitFor(t, appListening, clusterLimit)[1]
	subB := start(t, procOpts{}, "sio-sub", "--url", b.URL)
	subC := start(t, procOpts{}, "sio-sub", "--url", c)
	for _, s := range []*proc{subB, subC} {
		s.stderr.waitFor(t, regexpMust(`subscribed to`), clusterLimit)
	}
	const n = 20000
	lines := numbered("line ", n)
	pub := start(t, procOpts{stdin: linesIn(lines)}, "sio-pub", "--url", a.URL, "--ack", "--rate", "4000")
	if !waitForCount(subB, 2000, clusterLimit) {
		t.Fatalf("node B got %d lines before the cut", len(subB.stdout.Lines()))
	}
	const cut = 5 * time.Second
	proxy.Refuse(true)
	proxy.Cut()
	from := time.Now()
	waitHealth(t, a, "redis: down")
	if d := time.Since(from); d > cut {
		t.Errorf("node A said \"redis: down\" %v after the cut, after it should have ended", d.Round(time.Millisecond))
	}
	time.Sleep(cut - time.Since(from))
	proxy.Refuse(false)
	if code := pub.wait(3 * clusterLimit); code != 0 {
		t.Fatalf("sio-pub exit %d: %s", code, pub.stderr.String())
	}
	for name, s := range map[string]*proc{"sio-sub on node B": subB, "sio-sub on the Node node": subC} {
		// Up to the last line, which comes after any line doubled.
		waitForLines(s, lines[n-1:], 2*clusterLimit)
		got := s.stdout.Lines()
		if strings.Join(got, "\n") != strings.Join(lines, "\n") {
			doubled, missing := doubledMissing(got, lines)
			t.Errorf("%s got %d lines, want %d exactly once in order; %d doubled, %d missing, first difference at %d",
				name, len(got), n, doubled, missing, firstDiff(got, lines))
		}
	}
	waitHealth(t, a, "redis: up")
}

// doubledMissing counts the lines of want that got has more than once,
// and those it lacks.
func doubledMissing(got, want []string) (doubled, missing int) {
	seen := make(map[string]int, len(got))
	for _, l := range got {
		seen[l]++
	}
	for _, l := range want {
		switch seen[l] {
		case 0:
			missing++
		case 1:
		default:
			doubled++
		}
	}
	return doubled, missing
}

// Stream entries that Node's adapter does not survive well: sio-serve
// skips each one it cannot take, counts it in sio_redis_malformed_total,
// and relays the entries that follow.
//
// Node (@socket.io/redis-streams-adapter 0.3.1, socket.io-adapter 2.5.8,
// tried with redis-cli next to streamsNodeJS) never exits on them. It
// skips data that does not decode ("{bad", base64 of bad msgpack). Data
// that decodes to the wrong shape (a msgpack number, type 3 without data,
// a packet that is a string, no opts, type 4 with {}) or nests deeply
// (JSON 10,000 or msgpack 100,000 deep: "Maximum call stack size
// exceeded") throws in ClusterAdapter.onMessage, inside the stream reader
// but before it moves past the entry: it reads the same entry again and
// again (2,000 to 4,500 XREADs a second, 40 to 270 for the deep ones, at
// 65-90% CPU), and no later entry reaches its clients until it restarts
// (and reads from "$"); its local broadcasts still work. A packet whose
// data is not an array it sends on, and its clients close on the parse
// error. An entry without uid it relays; sio-serve skips it.
func TestStreamsSkipMalformedEntries(t *testing.T) {
	r := startRedis(t, 0)
	srv := serve(t, "-q", "--redis-streams", r.URL)
	sub := start(t, procOpts{}, "sio-sub", "--url", srv.URL)
	sub.stderr.waitFor(t, regexpMust(`subscribed to`), clusterLimit)

	const uid = "feedfacefeedface" // another node
	event := func(data, opts string) string {
		return `{"packet":{"type":2,"data":` + data + `,"nsp":"/"}` + opts + `}`
	}
	const opts = `,"opts":{"rooms":[],"except":[],"flags":{}}`
	// {packet: {type: 2, nsp: "/", data: ["m", [[[...]]]]}, opts: {}}
	deepMsgpack := []byte{0x82, 0xa6, 'p', 'a', 'c', 'k', 'e', 't', 0x83,
		0xa4, 't', 'y', 'p', 'e', 0x02, 0xa3, 'n', 's', 'p', 0xa1, '/', 0xa4, 'd', 'a', 't', 'a', 0x92, 0xa1, 'm'}
	deepMsgpack = append(deepMsgpack, bytes.Repeat([]byte{0x91}, 100000)...)
	deepMsgpack = append(deepMsgpack, 0x90, 0xa4, 'o', 'p', 't', 's', 0x80)
	cases := []struct {
		name    string
		fields  []string // after uid and nsp
		data    string   // the data field, none if ""
		relayed string   // what sio-sub prints of it
		skipped bool     // counted as malformed
	}{
		{"not JSON nor base64", []string{"type", "3"}, "{bad", "", true},
		{"base64 of bad msgpack", []string{"type", "3"}, base64.StdEncoding.EncodeToString([]byte{0xc1, 0xc1}), "", true},
		{"base64 of a msgpack number", []string{"type", "3"}, base64.StdEncoding.EncodeToString([]byte{0x2a}), "", true},
		{"a packet that is a string", []string{"type", "3"}, `{"packet":"x"` + opts + `}`, "", true},
		{"type 3 without data", []string{"type", "3"}, "", "", true},
		{"packet data not an array", []string{"type", "3"}, event(`"x"`, opts), "", true},
		{"JSON nested 10,000 deep", []string{"type", "3"},
			event(`["message",`+strings.Repeat("[", 10000)+strings.Repeat("]", 10000)+`]`, opts), "", true},
		{"msgpack nested 100,000 deep", []string{"type", "3"}, base64.StdEncoding.EncodeToString(deepMsgpack), "", true},
		{"no uid", nil, event(`["message","no uid"]`, opts), "", true},
		// Taken by sio-serve: a broadcast without opts goes to all, a
		// socketsJoin without opts nor rooms joins nothing.
		{"no opts", []string{"type", "3"}, event(`["message","no opts"]`, ""), "no opts", false},
		{"type 4 with {}", []string{"type", "4"}, "{}", "", false},
	}
	var want []string
	malformed := 0
	for _, c := range cases {
		fields := append([]string{"uid", uid, "nsp", "/"}, c.fields...)
		if c.fields == nil { // no uid
			fields = []string{"nsp", "/", "type", "3"}
		}
		xadd(t, r, c.data, fields...)
		xadd(t, r, event(`["message","after `+c.name+`"]`, opts), "uid", uid, "nsp", "/", "type", "3")
		if c.relayed != "" {
			want = append(want, c.relayed)
		}
		if c.skipped {
			malformed++
		}
		want = append(want, "after "+c.name)
		if got := sub.stdout.waitLinesOr(len(want), clusterLimit); strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Fatalf("after the entry %s, sio-sub printed %d lines, want %d; first difference at %d", c.name, len(got), len(want), firstDiff(got, want))
		}
	}
	if code, _, errOut := runCmd(t, []byte("local\n"), clusterLimit, "sio-pub", "--url", srv.URL); code != 0 {
		t.Fatalf("sio-pub: exit %d: %s", code, errOut)
	}
	if got := sub.stdout.waitLinesOr(len(want)+1, clusterLimit); len(got) != len(want)+1 || got[len(want)] != "local" {
		t.Errorf("sio-sub printed %d lines, want %d ending with the local event", len(got), len(want)+1)
	}
	if n := srv.metric(t, "sio_redis_malformed_total"); n != float64(malformed) {
		t.Errorf("sio_redis_malformed_total = %v, want %d", n, malformed)
	}
}

// xadd adds an entry to the stream "socket.io" with redis-cli: the
// fields, then data unless "" (read from stdin, so that it may be
// longer than an argument may).
func xadd(t *testing.T, r *redisServer, data string, fields ...string) {
	t.Helper()
	args := []string{"-p", strconv.Itoa(r.port)}
	if data != "" {
		args = append(args, "-x")
	}
	args = append(append(args, "XADD", "socket.io", "*"), fields...)
	if data != "" {
		args = append(args, "data")
	}
	cmd := exec.Command("redis-cli", args...)
	cmd.Stdin = strings.NewReader(data)
	out, err := cmd.CombinedOutput()
	if err != nil || !regexpMust(`^\d+-\d+\n$`).Match(out) {
		t.Fatalf("redis-cli XADD: %v: %.200s", err, out)
	}
}

// rrProxy is a TCP proxy that sends each new connection to the next of
// its backends in turn, and can cut every connection it carries.
type rrProxy struct {
	ln       net.Listener
	backends []string
	mu       sync.Mutex
	next     int
	conns    []net.Conn
}

func startRRProxy(t *testing.T, backends ...string) *rrProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &rrProxy{ln: ln, backends: backends}
	t.Cleanup(func() { ln.Close(); p.cut() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.mu.Lock()
			to := p.backends[p.next%len(p.backends)]
			p.next++
			p.mu.Unlock()
			b, err := net.Dial("tcp", to)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, b)
			p.mu.Unlock()
			go func() { io.Copy(b, c); b.Close() }()
			go func() { io.Copy(c, b); c.Close() }()
		}
	}()
	return p
}

func (p *rrProxy) URL() string { return "http://" + p.ln.Addr().String() }

// cut closes every connection carried so far.
func (p *rrProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

// streamsRecoveryClientJS is the official Node client on websocket: it
// prints each "message" event's argument, and says when it connected.
const streamsRecoveryClientJS = `
const { io } = require("socket.io-client");
const socket = io(process.argv[2], { transports: ["websocket"] });
socket.on("connect", () => process.stderr.write("connected recovered=" + socket.recovered + "\n"));
socket.on("message", (x) => process.stdout.write(x + "\n"));
`

// With --recover, a client cut from node A that comes back to node B
// (through a round-robin proxy) gets every event it missed exactly once:
// its session and offsets are in Redis. sio-sub and the official Node
// client.
func TestStreamsRecoveryAcrossNodes(t *testing.T) {
	r := startRedis(t, 0)
	a := serve(t, "-q", "--redis-streams", r.URL, "--recover", "30s")
	b := serve(t, "-q", "--redis-streams", r.URL, "--recover", "30s")
	hostport := func(u string) string { return strings.TrimPrefix(u, "http://") }
	px := startRRProxy(t, hostport(a.URL), hostport(b.URL))
	sub := start(t, procOpts{}, "sio-sub", "--url", px.URL(), "--transport", "websocket")
	sub.stderr.waitFor(t, regexpMust(`subscribed to`), clusterLimit)
	node := startScript(t, procOpts{}, "node", streamsRecoveryClientJS, px.URL())
	node.stderr.waitFor(t, regexpMust(`connected recovered=false`), clusterLimit)
	a.waitClients(t, 1)
	b.waitClients(t, 1)

	const n = 6000
	lines := numbered("line ", n)
	pub := start(t, procOpts{stdin: linesIn(lines)}, "sio-pub", "--url", b.URL, "--rate", "2000", "--transport", "websocket")
	if !waitForCount(sub, 1000, clusterLimit) || !waitForCount(node, 1000, clusterLimit) {
		t.Fatalf("before the cut: sio-sub %d lines, Node %d", len(sub.stdout.Lines()), len(node.stdout.Lines()))
	}
	px.cut() // both clients come back, each to the other node
	if c := pub.wait(clusterLimit); c != 0 {
		t.Fatalf("sio-pub exit %d: %s", c, pub.stderr.String())
	}
	if !strings.Contains(sub.stderr.String(), "session resumed") {
		t.Errorf("sio-sub did not say it resumed: %s", sub.stderr.String())
	}
	node.stderr.waitFor(t, regexpMust(`connected recovered=true`), clusterLimit)
	for name, p := range map[string]*proc{"sio-sub": sub, "the Node client": node} {
		got := p.stdout.waitLinesOr(n, clusterLimit)
		if strings.Join(got, "\n") != strings.Join(lines, "\n") {
			t.Errorf("%s got %d lines, want %d exactly once in order; first difference at %d", name, len(got), n, firstDiff(got, lines))
		}
	}
}
