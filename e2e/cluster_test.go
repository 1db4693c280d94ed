package e2e

// Scale-out: sio-serve and Node socket.io servers (relay.js with
// @socket.io/redis-adapter) joined through one real redis-server.

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

const clusterLimit = 60 * time.Second

type redisServer struct {
	port int
	URL  string
	p    *proc
}

var redisReady = regexp.MustCompile(`[Rr]eady to accept connections`)

// startRedis runs Debian's redis-server on port (0: a free one), without
// persistence.
func startRedis(t *testing.T, port int) *redisServer {
	t.Helper()
	needPeer(t, "redis")
	if port == 0 {
		port = freePort(t)
	}
	p := startPath(t, procOpts{}, "redis-server", "--port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no")
	p.stdout.waitFor(t, redisReady, clusterLimit)
	return &redisServer{port: port, URL: fmt.Sprintf("redis://127.0.0.1:%d/0", port), p: p}
}

// cluster is two sio-serve and one relay.js on one Redis.
type cluster struct {
	urls  []string // sio-serve, sio-serve, relay.js
	nodes []*server
	node  *anyRelay
}

func startCluster(t *testing.T, r *redisServer) *cluster {
	t.Helper()
	needPeer(t, "node")
	a := serve(t, "-q", "--redis", r.URL)
	b := serve(t, "-q", "--redis", r.URL)
	c := startPeer(t, procOpts{}, "relay.js", "--port", "0", "--redis", r.URL, "-v")
	cURL := c.stderr.waitFor(t, peerListening, clusterLimit)[1]
	return &cluster{urls: []string{a.URL, b.URL, cURL}, nodes: []*server{a, b}, node: &anyRelay{name: "relay.js", URL: cURL, p: c}}
}

// waitClients waits until the nodes have n[i] clients each (relay.js: on
// namespace "/").
func (c *cluster) waitClients(t *testing.T, n ...int) {
	t.Helper()
	c.nodes[0].waitClients(t, n[0])
	c.nodes[1].waitClients(t, n[1])
	c.node.waitClients(t, n[2], "/")
}

func numbered(prefix string, n int) []string {
	l := make([]string, n)
	for i := range l {
		l[i] = prefix + strconv.Itoa(i+1)
	}
	return l
}

func linesIn(l []string) io.Reader { return strings.NewReader(strings.Join(l, "\n") + "\n") }

// Every event published on any node reaches the subscribers of every node
// exactly once, in order per publisher: sio-pub, sio-pub --ack and a Node
// publisher, on sio-serve and on Node, heard by sio-sub and Node
// subscribers on each.
func TestClusterRelaysEverywhere(t *testing.T) {
	r := startRedis(t, 0)
	cl := startCluster(t, r)
	urls, nodes := cl.urls, cl.nodes
	const n = 300
	pubs := map[string][]string{"a": numbered("a", n), "b": numbered("b", n), "c": numbered("c", n)}
	total := 3 * n

	type sub struct {
		name string
		p    *proc
	}
	var subs []sub
	for i, u := range urls {
		subs = append(subs, sub{fmt.Sprintf("sio-sub on node %d", i), start(t, procOpts{}, "sio-sub", "--url", u, "-C", strconv.Itoa(total))})
	}
	for _, i := range []int{1, 2} {
		p := startPeer(t, procOpts{}, "sub.js", urls[i], "-C", strconv.Itoa(total))
		p.stderr.waitFor(t, regexp.MustCompile(`connected`), clusterLimit)
		subs = append(subs, sub{fmt.Sprintf("sub.js on node %d", i), p})
	}
	cl.waitClients(t, 1, 2, 2)

	// Malformed messages are logged and dropped: text, and 9 bytes that
	// claim an array of 1.8 billion elements. On a namespace relay.js does
	// not serve: one malformed message ends a Node server with the Redis
	// adapter (an exception in its Redis listener).
	for _, u := range urls[:2] {
		start(t, procOpts{}, "sio-sub", "--url", u+"/g")
	}
	cl.waitClients(t, 2, 3, 2)
	for _, bad := range []string{"not msgpack", "\xddn\xaf\x8d\x9d\x0f\b;6"} {
		out, err := exec.Command("redis-cli", "-p", strconv.Itoa(r.port), "publish", "socket.io#/g#", bad).CombinedOutput()
		if err != nil {
			t.Fatalf("redis-cli: %v: %s", err, out)
		}
	}

	pa := start(t, procOpts{stdin: linesIn(pubs["a"])}, "sio-pub", "--url", urls[0])
	pb := start(t, procOpts{stdin: linesIn(pubs["b"])}, "sio-pub", "--ack", "--url", urls[1])
	pc := startPeer(t, procOpts{stdin: linesIn(pubs["c"])}, "pub.js", urls[2])
	for _, p := range []*proc{pa, pb, pc} {
		if c := p.wait(clusterLimit); c != 0 {
			t.Fatalf("%s exit %d: %s", p.name, c, p.stderr.String())
		}
	}
	for _, s := range subs {
		got := s.p.stdout.waitLinesOr(total, clusterLimit)
		checkPerPublisher(t, s.name, got, pubs)
		if c := s.p.wait(10 * time.Second); c != 0 {
			t.Errorf("%s exit %d: %s", s.name, c, s.p.stderr.String())
		}
	}
	for i, n := range nodes {
		if m := n.metric(t, "sio_redis_malformed_total"); m != 2 {
			t.Errorf("node %d counted %v malformed messages, want 2", i, m)
		}
	}
}

// checkPerPublisher wants every line of every publisher exactly once, each
// publisher's in its order.
func checkPerPublisher(t *testing.T, name string, got []string, pubs map[string][]string) {
	t.Helper()
	byPub := map[string][]string{}
	for _, l := range got {
		byPub[l[:1]] = append(byPub[l[:1]], l)
	}
	for p, want := range pubs {
		sameLines(t, name+", from publisher "+p, byPub[p], want)
	}
	if len(got) != 3*len(pubs["a"]) {
		t.Errorf("%s: %d lines, want %d", name, len(got), 3*len(pubs["a"]))
	}
}

// Rooms across nodes: an event to r1 reaches r1's members on every node
// and nobody else; binary arguments arrive as binary.
func TestClusterRoomsAndBinary(t *testing.T) {
	r := startRedis(t, 0)
	cl := startCluster(t, r)
	urls := cl.urls
	var inRoom, outside []*proc
	for _, u := range urls {
		inRoom = append(inRoom, start(t, procOpts{}, "sio-sub", "--url", u, "--room", "r1", "-f", "envelope"))
		outside = append(outside, start(t, procOpts{}, "sio-sub", "--url", u, "--room", "r2", "-f", "envelope"))
	}
	nodeSub := startPeer(t, procOpts{}, "sub.js", urls[1]+"?room=r1")
	nodeSub.stderr.waitFor(t, regexp.MustCompile(`connected`), clusterLimit)
	cl.waitClients(t, 2, 3, 2)

	in := `{"event":"bin","args":["x",{"$binary":"AAEC/w=="},{"nested":{"$binary":"AQ=="}}]}` + "\n" +
		`{"event":"text","data":"héllo 😀"}` + "\n"
	p := start(t, procOpts{stdin: strings.NewReader(in)}, "sio-pub", "-f", "envelope", "--room", "r1", "--url", urls[0])
	if c := p.wait(clusterLimit); c != 0 {
		t.Fatalf("sio-pub exit %d: %s", c, p.stderr.String())
	}
	want := strings.Split(strings.TrimSpace(in), "\n")
	for i, s := range inRoom {
		got := s.stdout.waitLinesOr(2, clusterLimit)
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("r1 member on node %d printed\n%s\nwant\n%s", i, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
	if got := nodeSub.stdout.waitLinesOr(2, clusterLimit); len(got) != 2 || got[0] != "x" || got[1] != "héllo 😀" {
		t.Errorf("sub.js in r1 on node 1 printed %q", got)
	}
	// A marker to the whole namespace: once r2's members have it, they
	// would have had the room events too.
	m := start(t, procOpts{stdin: strings.NewReader(`{"event":"marker","data":1}` + "\n")}, "sio-pub", "-f", "envelope", "--url", urls[2])
	if c := m.wait(clusterLimit); c != 0 {
		t.Fatalf("sio-pub exit %d: %s", c, m.stderr.String())
	}
	for i, s := range outside {
		got := s.stdout.waitLinesOr(1, clusterLimit)
		if len(got) != 1 || got[0] != `{"event":"marker","data":1}` {
			t.Errorf("r2 member on node %d printed %q, want only the marker", i, got)
		}
	}
}

// A Node client's emit with several arguments, nested objects and binary,
// and an ack callback, crosses Redis intact both ways: from a Node server
// to a sio-serve and from a sio-serve to a Node server.
func TestClusterNodeArgs(t *testing.T) {
	r := startRedis(t, 0)
	cl := startCluster(t, r)
	checkArgs(t, "relay.js -> sio-serve", cl.urls[2], cl.urls[0])
	checkArgs(t, "sio-serve -> relay.js", cl.urls[1], cl.urls[2])
	checkArgs(t, "sio-serve -> sio-serve", cl.urls[0], cl.urls[1])
}

// Redis going away: each node keeps serving its own clients, /healthz says
// so, and delivery between nodes resumes once Redis is back.
func TestClusterSurvivesRedisRestart(t *testing.T) {
	r := startRedis(t, 0)
	cl := startCluster(t, r)
	urls, nodes := cl.urls, cl.nodes
	subA := start(t, procOpts{}, "sio-sub", "--url", urls[0])
	subB := start(t, procOpts{}, "sio-sub", "--url", urls[1])
	subC := startPeer(t, procOpts{}, "sub.js", urls[2])
	subC.stderr.waitFor(t, regexp.MustCompile(`connected`), clusterLimit)
	cl.waitClients(t, 1, 1, 1)
	pub := func(url string, lines ...string) {
		t.Helper()
		p := start(t, procOpts{stdin: linesIn(lines)}, "sio-pub", "--url", url)
		if c := p.wait(clusterLimit); c != 0 {
			t.Fatalf("sio-pub exit %d: %s", c, p.stderr.String())
		}
	}
	pub(urls[0], "before")
	for i, s := range []*proc{subA, subB, subC} {
		if got := s.stdout.waitLinesOr(1, clusterLimit); len(got) < 1 {
			t.Fatalf("subscriber %d of 3 (node %c) printed nothing within %v; its stderr: %s\nnode A: %.3000s\nnode B: %.3000s",
				i+1, 'A'+i, clusterLimit, s.stderr.String(), nodes[0].stderr.String(), nodes[1].stderr.String())
		}
	}

	r.p.signal(syscall.SIGTERM)
	r.p.wait(10 * time.Second)
	waitHealth(t, nodes[0], "redis: down")
	pub(urls[0], "while down")
	if got := subA.stdout.waitLines(t, 2, clusterLimit); got[1] != "while down" {
		t.Errorf("the local subscriber printed %q", got)
	}

	r2 := startRedis(t, r.port)
	_ = r2
	for _, n := range nodes {
		waitHealth(t, n, "redis: up")
	}
	// The nodes subscribe again on their own, each at its own pace: probe
	// until node B hears node A, then check that everything after it
	// reaches every node.
	deadline := time.Now().Add(clusterLimit)
	for i := 0; !strings.Contains(subB.stdout.String(), "probe") || !strings.Contains(subC.stdout.String(), "probe"); i++ {
		if time.Now().After(deadline) {
			t.Fatalf("no delivery between nodes %v after Redis came back; node A: %s", clusterLimit, nodes[0].stderr.String())
		}
		pub(urls[0], "probe"+strconv.Itoa(i))
		time.Sleep(500 * time.Millisecond)
	}
	after := numbered("after", 50)
	pub(urls[0], after...)
	for name, s := range map[string]*proc{"sio-sub on node B": subB, "sub.js on node C": subC} {
		if !waitForLines(s, after, clusterLimit) {
			t.Errorf("%s is missing lines sent after Redis came back:\n%s", name, s.stdout.String())
		}
	}
}

// waitForLines waits until every line of want appears in p's output.
func waitForLines(p *proc, want []string, limit time.Duration) bool {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		have := map[string]bool{}
		for _, l := range p.stdout.Lines() {
			have[l] = true
		}
		all := true
		for _, w := range want {
			all = all && have[w]
		}
		if all {
			return true
		}
		time.Sleep(100 * time.Millisecond)
	}
	return false
}

func waitHealth(t *testing.T, s *server, want string) {
	t.Helper()
	deadline := time.Now().Add(clusterLimit)
	for {
		if body, err := s.get("/healthz"); err == nil && strings.Contains(body, want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("/healthz never said %q", want)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// redisNodeJS is a Node server with @socket.io/redis-adapter (argv[2] is
// the Redis URL) that makes the cluster-wide requests when asked over
// HTTP: GET /NAME?nsp=NSP&... calls NAME on namespace NSP and answers
// with its result as JSON.
const redisNodeJS = `
const http = require("node:http");
const { Server } = require("socket.io");
const { createClient } = require("redis");
const { createAdapter } = require("@socket.io/redis-adapter");
const pub = createClient({ url: process.argv[2] });
const sub = pub.duplicate();
for (const c of [pub, sub]) c.on("error", (err) => process.stderr.write("app: redis: " + err.message + "\n"));
const errOf = (err) => (err ? err.message : null);
const calls = {
  serverCount: (nsp) => nsp.adapter.serverCount(),
  fetchSockets: async (nsp) =>
    (await nsp.fetchSockets()).map((s) => ({ id: s.id, rooms: [...s.rooms], handshake: s.handshake, data: s.data })),
  allRooms: async (nsp) => [...(await nsp.adapter.allRooms())],
  serverSideEmit: (nsp) =>
    new Promise((resolve) => nsp.serverSideEmit("hello", 1, (err, res) => resolve({ err: errOf(err), res }))),
  socketsJoin: (nsp, q) => nsp.in(q.get("in")).socketsJoin(q.get("room")),
  socketsLeave: (nsp, q) => nsp.socketsLeave(q.get("room")),
  disconnectSockets: (nsp, q) => nsp.in(q.get("in")).disconnectSockets(),
  emit: (nsp, q) => (q.get("to") ? nsp.to(q.get("to")) : nsp).emit("message", q.get("data")),
  emitWithAck: (nsp, q) =>
    new Promise((resolve) => nsp.timeout(5000).emit("message", q.get("data"), (err, acks) => resolve({ err: errOf(err), acks }))),
};
Promise.all([pub.connect(), sub.connect()]).then(() => {
  const srv = http.createServer(async (req, res) => {
    const u = new URL(req.url, "http://app");
    const call = calls[u.pathname.slice(1)];
    if (!call) return res.writeHead(404).end();
    try {
      const v = await call(io.of(u.searchParams.get("nsp") || "/"), u.searchParams);
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(v === undefined ? null : v));
    } catch (err) {
      res.writeHead(500).end(err.message);
    }
  });
  const io = new Server(srv, { adapter: createAdapter(pub, sub) });
  io.of("/q");
  srv.listen(0, "127.0.0.1", () =>
    process.stderr.write("app: listening on http://127.0.0.1:" + srv.address().port + "\n"));
});
`

// The cluster-wide requests of a Node server reach the sio-serve nodes
// and are answered as a Node server answers them: on namespace /q, where
// the two sio-serve have sio-sub clients and relay.js has none (it does
// not subscribe there, and would not answer serverSideEmit).
func TestClusterNodeRequests(t *testing.T) {
	r := startRedis(t, 0)
	cl := startCluster(t, r)
	app := startScript(t, procOpts{}, "node", redisNodeJS, r.URL).stderr.waitFor(t, appListening, clusterLimit)[1]
	ask := func(path string, v any) {
		t.Helper()
		resp, err := http.Get(app + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: %s: %s", path, resp.Status, body)
		}
		if err := json.Unmarshal(body, v); err != nil {
			t.Fatalf("%s: %v: %s", path, err, body)
		}
	}
	waitServers := func(nsp string, want int) {
		t.Helper()
		var n int
		for deadline := time.Now().Add(clusterLimit); ; time.Sleep(50 * time.Millisecond) {
			if ask("/serverCount?nsp="+nsp, &n); n == want {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("serverCount of %s is %d, want %d", nsp, n, want)
			}
		}
	}
	sub := func(url string, args ...string) (*proc, string) {
		t.Helper()
		p := start(t, procOpts{}, "sio-sub", append([]string{"--url", url + "/q", "-v"}, args...)...)
		return p, p.stderr.waitFor(t, regexpMust(`subscribed to \S+ as (\S+)\n`), clusterLimit)[1]
	}
	a1, a1ID := sub(cl.urls[0], "--room", "r1")
	a2, a2ID := sub(cl.urls[0])
	b1, b1ID := sub(cl.urls[1], "--room", "r1")
	subs := map[string]*proc{"a1 (r1, node A)": a1, "a2 (node A)": a2, "b1 (r1, node B)": b1}
	// "/": the two sio-serve, relay.js and the app; "/q": not relay.js.
	waitServers("/", 4)
	waitServers("/q", 3)

	// Malformed requests: logged, counted, skipped (Node ignores them).
	for _, bad := range []string{"{not json", "\xc1"} {
		out, err := exec.Command("redis-cli", "-p", strconv.Itoa(r.port), "publish", "socket.io-request#/q#", bad).CombinedOutput()
		if err != nil {
			t.Fatalf("redis-cli: %v: %s", err, out)
		}
	}

	type remoteSocket struct {
		ID        string
		Rooms     []string
		Handshake struct {
			Auth  map[string]any
			Query map[string]any
		}
		Data map[string]any
	}
	fetch := func() map[string]remoteSocket {
		t.Helper()
		var l []remoteSocket
		ask("/fetchSockets?nsp=/q", &l)
		m := map[string]remoteSocket{}
		for _, s := range l {
			m[s.ID] = s
		}
		return m
	}
	got := fetch()
	if len(got) != 3 || got[a1ID].ID == "" || got[a2ID].ID == "" || got[b1ID].ID == "" {
		t.Fatalf("fetchSockets: %+v, want a1 %s, a2 %s, b1 %s", got, a1ID, a2ID, b1ID)
	}
	for _, id := range []string{a1ID, b1ID} {
		s := got[id]
		if !slices.Contains(s.Rooms, "r1") || !slices.Contains(s.Rooms, id) || s.Handshake.Auth["room"] != "r1" ||
			s.Handshake.Query["EIO"] != "4" || s.Data == nil {
			t.Errorf("fetchSockets: socket %s is %+v, want rooms r1 and its id, auth.room r1, query.EIO \"4\", data {}", id, s)
		}
	}
	var rooms []string
	ask("/allRooms?nsp=/q", &rooms)
	for _, want := range []string{"r1", a1ID, a2ID, b1ID} {
		if !slices.Contains(rooms, want) {
			t.Errorf("allRooms: %q, want %s in it", rooms, want)
		}
	}

	var emitted struct {
		Err *string
		Res []any
	}
	ask("/serverSideEmit?nsp=/q", &emitted)
	if emitted.Err != nil || len(emitted.Res) != 2 || emitted.Res[0] != nil || emitted.Res[1] != nil {
		t.Errorf("serverSideEmit: error %v, answers %v; want [null null], one per sio-serve", emitted.Err, emitted.Res)
	}

	// socketsJoin: r1's members join r9, and a broadcast to r9 reaches
	// them; after socketsLeave, no one. Each marker goes to all: once a
	// client has it, it has what came before.
	var null any
	ask("/socketsJoin?nsp=/q&in=r1&room=r9", &null)
	ask("/emit?nsp=/q&to=r9&data=to+r9", &null)
	ask("/emit?nsp=/q&data=marker+1", &null)
	ask("/socketsLeave?nsp=/q&room=r9", &null)
	ask("/emit?nsp=/q&to=r9&data=after+leave", &null)
	ask("/emit?nsp=/q&data=marker+2", &null)
	for name, p := range subs {
		want := []string{"message marker 1", "message marker 2"}
		if p != a2 {
			want = append([]string{"message to r9"}, want...)
		}
		if got := p.stdout.waitLinesOr(len(want), clusterLimit); !slices.Equal(got, want) {
			t.Errorf("%s printed %q, want %q", name, got, want)
		}
	}

	// A broadcast with acks: every sio-sub acks (with no argument:
	// undefined, null in JSON).
	var acked struct {
		Err  *string
		Acks []any
	}
	ask("/emitWithAck?nsp=/q&data=ack+me", &acked)
	if acked.Err != nil || len(acked.Acks) != 3 {
		t.Errorf("emit with acks: error %v, acks %v; want 3 acks", acked.Err, acked.Acks)
	}
	for name, p := range subs {
		if !waitForLines(p, []string{"message ack me"}, clusterLimit) {
			t.Errorf("%s did not print the event with acks: %q", name, p.stdout.Lines())
		}
	}

	// disconnectSockets of r1: a1 and b1 are disconnected (and connect
	// again, as new sockets), a2 stays.
	ask("/disconnectSockets?nsp=/q&in=r1", &null)
	for _, p := range []*proc{a1, b1} {
		p.stderr.waitFor(t, regexpMust(`connection to \S+ lost \(.*\), reconnecting`), clusterLimit)
	}
	for deadline := time.Now().Add(clusterLimit); ; time.Sleep(100 * time.Millisecond) {
		got = fetch()
		_, a1There := got[a1ID]
		_, b1There := got[b1ID]
		if len(got) == 3 && !a1There && !b1There {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("fetchSockets after disconnectSockets of r1: %+v; want a2 %s and two new sockets", got, a2ID)
		}
	}
	if got[a2ID].ID == "" || strings.Contains(a2.stderr.String(), "lost") {
		t.Errorf("a2, in no room, was disconnected: %s", a2.stderr.String())
	}
	// Node B freed /q when b1 went, and made it again when b1 came back:
	// it is counted again.
	waitServers("/q", 3)

	for i, n := range cl.nodes {
		if m := n.metric(t, "sio_redis_malformed_total"); m != 2 {
			t.Errorf("node %c counted %v malformed messages, want 2", 'A'+i, m)
		}
		if m := n.metric(t, "sio_redis_requests_total"); m < 8 {
			t.Errorf("node %c counted %v requests, want at least 8", 'A'+i, m)
		}
	}
}
