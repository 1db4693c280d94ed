package e2e

import (
	"bytes"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Killing sio-serve (SIGKILL) in the middle of seq 1 200000 | sio-pub --ack
// and starting it again 2 s later: sio-pub exits 0, and a sio-sub that
// stayed through it (it reconnects) printed every number at least once.
func TestAckSurvivesServerKill(t *testing.T) {
	const n = 200000
	srv := serve(t) // its log (connects, disconnects, slow consumers) goes into a failure's message
	port := strconv.Itoa(srv.Port)
	sub := start(t, procOpts{}, "sio-sub", "--url", srv.URL)
	srv.waitClients(t, 1)
	pub := start(t, procOpts{stdin: bytes.NewReader(seq(n))}, "sio-pub", "--ack", "--url", srv.URL)

	if got := len(sub.stdout.waitLinesOr(n/10, 2*time.Minute)); got < n/10 {
		t.Fatalf("sio-sub printed %d lines in 2 min, want %d before the kill; sio-pub stderr: %s", got, n/10, pub.stderr.String())
	}
	srv.signal(syscall.SIGKILL)
	srv.wait(5 * time.Second)
	killedAt := len(sub.stdout.Lines())
	time.Sleep(2 * time.Second) // the scenario: down for 2 s
	srv2 := serve(t, "--port", port)

	if c := pub.wait(3 * time.Minute); c != 0 {
		t.Fatalf("sio-pub --ack exit %d; stderr:\n%s", c, pub.stderr.String())
	}
	// Every number at least once; count the duplicates.
	var seen []int
	missing := n
	deadline := time.Now().Add(30 * time.Second)
	for {
		seen = make([]int, n+1)
		missing = n
		for _, l := range sub.stdout.Lines() {
			if v, err := strconv.Atoi(l); err == nil && v >= 1 && v <= n {
				if seen[v] == 0 {
					missing--
				}
				seen[v]++
			}
		}
		if missing == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if missing > 0 {
		t.Fatalf("sio-sub is missing %d of %d numbers (%s); killed after %d lines; sio-pub stderr: %s\nsio-sub stderr: %s\nsio-serve log before the kill:\n%.3000s\nafter:\n%.3000s",
			missing, n, ranges(seen), killedAt, pub.stderr.String(), sub.stderr.String(), srv.stderr.String(), srv2.stderr.String())
	}
	dups := 0
	for _, c := range seen[1:] {
		dups += c - 1
	}
	t.Logf("killed after sio-sub printed %d lines; duplicates seen: %d; sio-pub said: %s",
		killedAt, dups, strings.TrimSpace(pub.stderr.String()))
	_ = srv2
}

// Without --ack, lines read while the server is down wait in the buffer
// and are sent after the reconnect; sio-pub then exits 0.
func TestPubBuffersWhileDisconnected(t *testing.T) {
	srv := serve(t, "-q")
	port := strconv.Itoa(srv.Port)
	sub := start(t, procOpts{}, "sio-sub", "--url", srv.URL)
	pub := start(t, procOpts{}, "sio-pub", "--url", srv.URL)
	srv.waitClients(t, 2)
	if _, err := pub.stdin.Write([]byte("1\n2\n3\n")); err != nil {
		t.Fatal(err)
	}
	sub.stdout.waitLines(t, 3, 20*time.Second)
	// The subscriber has them; give sio-pub's confirmation of them (one
	// request on the wire at a time) its round trip, so that the loss
	// below cannot leave them unconfirmed.
	time.Sleep(time.Second)
	srv.signal(syscall.SIGTERM)
	srv.wait(5 * time.Second)
	sub.stderr.waitFor(t, regexp.MustCompile(`lost`), 10*time.Second)
	if _, err := pub.stdin.Write([]byte("4\n5\n6\n")); err != nil {
		t.Fatal(err)
	}
	srv2 := serve(t, "-q", "--port", port)
	srv2.waitClients(t, 2)
	pub.stdin.Close()
	if c := pub.wait(time.Minute); c != 0 {
		t.Fatalf("sio-pub exit %d: %s", c, pub.stderr.String())
	}
	if got := sub.stdout.waitLines(t, 6, 20*time.Second); strings.Join(got, " ") != "1 2 3 4 5 6" {
		t.Errorf("sio-sub printed %q", got)
	}
}

// ranges names the numbers never seen, as a few ranges.
func ranges(seen []int) string {
	var out []string
	for i := 1; i < len(seen) && len(out) < 10; i++ {
		if seen[i] != 0 {
			continue
		}
		j := i
		for j+1 < len(seen) && seen[j+1] == 0 {
			j++
		}
		out = append(out, fmt.Sprintf("%d-%d", i, j))
		i = j
	}
	return strings.Join(out, ", ")
}
