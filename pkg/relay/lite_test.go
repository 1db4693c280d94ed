package relay_test

import (
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/sio-tools/sio/pkg/conn"
	"github.com/sio-tools/sio/pkg/relay"
)

// Sessions on a websocket, on long-polling, and upgraded from long-polling
// are one audience: an event from any of them reaches all the others of
// the namespace once. (Written when the last two were the library's
// sessions; all three are the relay's own now.)
func TestSessionsOfEveryTransportMeet(t *testing.T) {
	r, base := server(t)
	lite := rawJoin(t, base) // on a websocket
	liteSeen := watchAll(lite)
	poll := pollJoin(t, base) // long-polling
	if got := httpGet(t, poll); !strings.HasPrefix(got, "40{") {
		t.Fatalf("polling connect answer %q", got)
	}
	lib := dialWith(t, base, conn.Options{Upgrade: true}) // long-polling, then a websocket
	if n := r.EngineClients(); n != 3 {
		t.Fatalf("%d engine connections, want 3", n)
	}
	waitClients(t, r, 3)

	// From the relay's own session: both of the library's get it.
	if err := lite.WriteMessage(websocket.TextMessage, []byte(`42["from-lite",1]`)); err != nil {
		t.Fatal(err)
	}
	if got := lib.wait(t, 1)[0]; got.event != "from-lite" {
		t.Fatalf("the library's websocket client got %q", got.event)
	}
	if got := pollFor(t, poll, `42["from-lite",1]`); got != "" {
		t.Fatal(got)
	}
	// From the library's websocket client: the relay's own session and
	// the polling client.
	emit(t, lib, "from-lib", 2)
	flush(t, lib)
	if got := pollFor(t, poll, `42["from-lib",2`); got != "" {
		t.Fatal(got)
	}
	// From the polling client: the other two.
	post(t, poll, `42["from-poll",3]`)
	if got := lib.wait(t, 2)[1]; got.event != "from-poll" {
		t.Fatalf("the library's websocket client got %q", got.event)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		liteSeen.mu.Lock()
		var events []string
		for _, m := range liteSeen.msgs {
			if s := string(m.data); strings.HasPrefix(s, "42") {
				events = append(events, s)
			}
		}
		liteSeen.mu.Unlock()
		if len(events) == 2 {
			if !strings.HasPrefix(events[0], `42["from-lib",2`) || events[1] != `42["from-poll",3]` {
				t.Fatalf("the relay's own session got %q", events)
			}
			break
		}
		if len(events) > 2 || time.Now().After(deadline) {
			t.Fatalf("the relay's own session got %q, want the two events of the others", events)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// pollFor polls until a packet starting with want comes; it returns what
// went wrong, or "".
func pollFor(t *testing.T, poll, want string) string {
	t.Helper()
	var seen []string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		for _, p := range strings.Split(httpGet(t, poll), "\x1e") {
			if strings.HasPrefix(p, want) {
				return ""
			}
			seen = append(seen, p)
		}
	}
	return "the polling client got " + strings.Join(seen, " | ") + ", not " + want
}

// Rooms hold clients of every transport: an event to a room reaches its
// members whatever their session, and no one else.
func TestRoomsAcrossTransports(t *testing.T) {
	r, base := server(t)
	inLite := rawDialQuery(t, websocket.DefaultDialer, base, "&room=r")
	if err := inLite.WriteMessage(websocket.TextMessage, []byte("40")); err != nil {
		t.Fatal(err)
	}
	seen := watchAll(inLite)
	inLib := dialWith(t, base, conn.Options{Upgrade: true, Rooms: []string{"r"}}) // upgraded from long-polling
	outLib := dialWith(t, base, conn.Options{Upgrade: true})
	outLite := rawJoin(t, base)
	outSeen := watchAll(outLite)
	waitClients(t, r, 4)
	sender := dial(t, base, "", "r")
	waitClients(t, r, 5)
	emit(t, sender, "to-r", 1)
	flush(t, sender)
	if got := inLib.wait(t, 1)[0]; got.event != "to-r" {
		t.Fatalf("the library's member got %q", got.event)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		seen.mu.Lock()
		n := 0
		for _, m := range seen.msgs {
			if strings.HasPrefix(string(m.data), `42["to-r",1`) {
				n++
			}
		}
		seen.mu.Unlock()
		if n == 1 {
			break
		}
		if n > 1 || time.Now().After(deadline) {
			t.Fatalf("the relay's own member got the room's event %d times", n)
		}
	}
	time.Sleep(100 * time.Millisecond)
	if n := outLib.count(); n != 0 {
		t.Fatalf("a library client outside the room got %d events", n)
	}
	outSeen.mu.Lock()
	defer outSeen.mu.Unlock()
	for _, m := range outSeen.msgs {
		if strings.HasPrefix(string(m.data), "42") {
			t.Fatalf("a session outside the room got %q", m.data)
		}
	}
}

// An idle session of the relay's own costs one goroutine (its reader),
// where the library's cost three: its transport's reader, its socket's
// task queue and its ping timer.
func TestLiteSessionsOneGoroutineEach(t *testing.T) {
	for _, c := range []struct {
		name        string
		o           relay.Options
		most, least float64
	}{
		{"relay's own", relay.Options{}, 1.1, 0.9},
		{"library's", relay.Options{LibraryOnly: true}, 3.5, 2.5},
	} {
		t.Run(c.name, func(t *testing.T) {
			r, base := serverWith(t, c.o)
			const n = 100
			settle := func() int {
				time.Sleep(200 * time.Millisecond)
				return runtime.NumGoroutine()
			}
			before := settle()
			for range n {
				rawJoin(t, base)
			}
			waitClients(t, r, n)
			// The test's own readers: none (rawJoin reads the answer
			// and leaves the connection unread).
			per := float64(settle()-before) / n
			t.Logf("%.2f goroutines per idle session", per)
			if per > c.most || per < c.least {
				t.Fatalf("%.2f goroutines per idle session, want %.1f to %.1f", per, c.least, c.most)
			}
		})
	}
}
