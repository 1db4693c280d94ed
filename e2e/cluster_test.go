package e2e

// Scale-out: sio-serve and Node socket.io servers (relay.js with
// @socket.io/redis-adapter) joined through one real redis-server.

import (
	"fmt"
	"io"
	"os/exec"
	"regexp"
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
