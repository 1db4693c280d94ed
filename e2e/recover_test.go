package e2e

import (
	"bytes"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sio-tools/sio/internal/faultproxy"
)

// newFaultProxy starts a fault proxy to target, closed at the end of the test.
func newFaultProxy(t *testing.T, target string) *faultproxy.Proxy {
	t.Helper()
	p, err := faultproxy.New(target)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// sio-serve --recover D: a sio-sub whose connection drops for less than D
// misses no event and prints no extra argument.
func TestRecoverAfterConnectionDrop(t *testing.T) {
	srv := serve(t, "--recover", "30s")
	proxy := newFaultProxy(t, strings.TrimPrefix(srv.URL, "http://"))
	sub := start(t, procOpts{}, "sio-sub", "--url", "http://"+proxy.Addr())
	srv.waitClients(t, 1)
	pub := func(lines string) {
		t.Helper()
		if code, _, stderr := runCmd(t, []byte(lines), time.Minute, "sio-pub", "--url", srv.URL); code != 0 {
			t.Fatalf("sio-pub exit %d: %s", code, stderr)
		}
	}
	pub("1\n2\n3\n")
	sub.stdout.waitLines(t, 3, 20*time.Second)

	proxy.Refuse(true) // a network drop: cut, and no way back for a while
	proxy.Cut()
	srv.waitClients(t, 0) // the server noticed; it keeps the session
	for srv.clients(t) != 0 {
		time.Sleep(20 * time.Millisecond)
	}
	pub("4\n5\n6\n") // while sio-sub is away
	proxy.Refuse(false)
	srv.stderr.waitFor(t, regexpMust(`recovered=true`), 20*time.Second)
	pub("7\n")
	got := sub.stdout.waitLines(t, 7, 20*time.Second)
	if strings.Join(got, " ") != "1 2 3 4 5 6 7" {
		t.Errorf("sio-sub printed %q, want 1 to 7, each as it was sent", got)
	}
}

// cutAway cuts every connection through proxy and refuses new ones until
// the returned function is called; it waits until the server noticed.
func cutAway(t *testing.T, srv *server, proxy *faultproxy.Proxy, left int) func() {
	t.Helper()
	proxy.Refuse(true)
	proxy.Cut()
	srv.waitClientsBelow(t, left+1)
	return func() { proxy.Refuse(false) }
}

func pubLines(t *testing.T, url, lines string) {
	t.Helper()
	if code, _, stderr := runCmd(t, []byte(lines), time.Minute, "sio-pub", "--url", url); code != 0 {
		t.Fatalf("sio-pub exit %d: %s", code, stderr)
	}
}

// By default sio-serve keeps a lost sio-sub's session: it resumes, prints
// what was sent while it was away, and says so.
func TestSubResumesByDefault(t *testing.T) {
	srv := serve(t)
	proxy := newFaultProxy(t, strings.TrimPrefix(srv.URL, "http://"))
	sub := start(t, procOpts{}, "sio-sub", "--url", "http://"+proxy.Addr())
	srv.waitClients(t, 1)
	pubLines(t, srv.URL, "1\n2\n")
	sub.stdout.waitLines(t, 2, 20*time.Second)
	back := cutAway(t, srv, proxy, 0)
	pubLines(t, srv.URL, "3\n4\n")
	back()
	sub.stderr.waitFor(t, regexpMust(`session resumed: no event missed`), 20*time.Second)
	pubLines(t, srv.URL, "5\n")
	if got := sub.stdout.waitLines(t, 5, 20*time.Second); strings.Join(got, " ") != "1 2 3 4 5" {
		t.Errorf("sio-sub printed %q, want 1 to 5", got)
	}
	if strings.Contains(sub.stderr.String(), "gap") {
		t.Errorf("sio-sub reported a gap: %s", sub.stderr.String())
	}
}

// Without recovery, a sio-sub whose connection was replaced says at once
// that events may be missing, with the time window; with --strict it
// exits 1 there.
func TestSubReportsGap(t *testing.T) {
	srv := serve(t, "--recover", "0")
	proxy := newFaultProxy(t, strings.TrimPrefix(srv.URL, "http://"))
	sub := start(t, procOpts{}, "sio-sub", "--url", "http://"+proxy.Addr())
	strict := start(t, procOpts{}, "sio-sub", "--strict", "--url", "http://"+proxy.Addr())
	srv.waitClients(t, 2)
	pubLines(t, srv.URL, "1\n")
	sub.stdout.waitLines(t, 1, 20*time.Second)
	strict.stdout.waitLines(t, 1, 20*time.Second)
	back := cutAway(t, srv, proxy, 0)
	pubLines(t, srv.URL, "2\n") // missed
	back()
	gap := regexpMust(`sio-sub: gap 1: events sent from \d\d:\d\d:\d\d\.\d{3} to \d\d:\d\d:\d\d\.\d{3} \(UTC\) may be missing`)
	sub.stderr.waitFor(t, gap, 20*time.Second)
	if c := strict.wait(20 * time.Second); c != 1 {
		t.Errorf("sio-sub --strict exit %d after a gap, want 1; stderr:\n%s", c, strict.stderr.String())
	}
	if !gap.MatchString(strict.stderr.String()) {
		t.Errorf("sio-sub --strict stderr %q does not name the gap", strict.stderr.String())
	}
	srv.waitClients(t, 1)
	pubLines(t, srv.URL, "3\n")
	if got := sub.stdout.waitLines(t, 2, 20*time.Second); strings.Join(got, " ") != "1 3" {
		t.Errorf("sio-sub printed %q, want 1 and 3", got)
	}
}

// Without --ack, a cut connection costs sio-pub at most --window lines,
// and it says how many may be lost: it stops reading when that many are
// unconfirmed. (The client library it used before had buffered 100,000
// lines and more ahead.)
func TestPubWindowBoundsLoss(t *testing.T) {
	const n, window = 200000, 500
	srv := serve(t, "-q")
	proxy := newFaultProxy(t, strings.TrimPrefix(srv.URL, "http://"))
	sub := start(t, procOpts{}, "sio-sub", "--url", srv.URL)
	srv.waitClients(t, 1)
	pub := start(t, procOpts{stdin: bytes.NewReader(seq(n))}, "sio-pub", "--window", strconv.Itoa(window),
		"--url", "http://"+proxy.Addr())
	sub.stdout.waitLinesOr(2000, time.Minute)
	proxy.Hold() // nothing more reaches the server, no confirmation comes back
	time.Sleep(time.Second)
	proxy.Cut()
	proxy.Resume()
	if c := pub.wait(3 * time.Minute); c != 1 {
		t.Fatalf("sio-pub exit %d, want 1; stderr:\n%s", c, pub.stderr.String())
	}
	m := regexpMust(`(\d+) line\(s\) were in flight`).FindStringSubmatch(pub.stderr.String())
	if m == nil {
		t.Fatalf("sio-pub stderr %q does not say how many lines may be lost", pub.stderr.String())
	}
	reported, _ := strconv.Atoi(m[1])
	if reported > window {
		t.Errorf("%d lines in flight, over --window %d", reported, window)
	}
	seen := make([]bool, n+1)
	missing := n
	deadline := time.Now().Add(30 * time.Second)
	for missing > reported && time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
		for _, l := range sub.stdout.Lines() {
			if v, err := strconv.Atoi(l); err == nil && v >= 1 && v <= n && !seen[v] {
				seen[v] = true
				missing--
			}
		}
	}
	if missing > reported {
		t.Errorf("%d lines missing, %d reported", missing, reported)
	}
	t.Logf("%d lines reported in flight, %d missing", reported, missing)
}
