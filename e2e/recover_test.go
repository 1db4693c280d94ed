package e2e

import (
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
