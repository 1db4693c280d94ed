package relay_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/sio-tools/sio/pkg/relay"
	"github.com/zishang520/socket.io/parsers/engine/v3/packet"
)

// A long-polling session that must end does, and every GET it holds is
// answered: the library left the GET that waited when a session closed
// unanswered (its client hung until it gave up), answered an invalid
// payload "ok" and went on, and did not notice a GET its client gave up.
// The cases are those of the protocol's own test suite; they run on the
// library's sessions (libfix mends its transport) and on the relay's own.
func TestPollingEndings(t *testing.T) {
	for _, kind := range []struct {
		name string
		lib  bool
	}{{"relay's own", false}, {"library's", true}} {
		t.Run(kind.name, func(t *testing.T) {
			testPollingEndings(t, relay.Options{ConnectTimeout: 300 * time.Millisecond, LibraryOnly: kind.lib})
		})
	}
}

func testPollingEndings(t *testing.T, o relay.Options) {
	r, base := serverWith(t, o)
	poll := base + "/socket.io/?EIO=4&transport=polling"
	open := func(t *testing.T) (string, string) {
		sid := between(httpGet(t, poll), `"sid":"`, `"`)
		if sid == "" {
			t.Fatal("no polling handshake")
		}
		return sid, poll + "&sid=" + sid
	}
	// waiting starts a GET and returns once the relay holds it.
	waiting := func(t *testing.T, sid, url string) <-chan answer {
		t.Helper()
		c := make(chan answer, 1)
		go func() { c <- request(context.Background(), "GET", url, "") }()
		waitFor(t, "the GET to be held", func() bool { return relay.PollWaiting(r, sid) })
		return c
	}
	gone := func(t *testing.T, url string) {
		t.Helper()
		if a := request(context.Background(), "GET", url, ""); a.status != http.StatusBadRequest {
			t.Fatalf("a GET after the session ended: %d %q, want 400", a.status, a.body)
		}
	}

	// A request while a GET is held, what it must get, and what the held
	// GET must get then.
	for _, c := range []struct {
		name, method, body string
		status             int    // the request's answer
		held               string // the held GET's answer
	}{
		{"invalid payload", "POST", "abc", http.StatusBadRequest, "1"},
		{"invalid Socket.IO packet", "POST", "4abc", http.StatusBadRequest, "1"},
		{"duplicate GET", "GET", "", http.StatusBadRequest, "1"},
		{"close packet", "POST", "1", http.StatusOK, "6"},
	} {
		t.Run(c.name, func(t *testing.T) {
			sid, url := open(t)
			held := waiting(t, sid, url)
			if a := request(context.Background(), c.method, url, c.body); a.status != c.status {
				t.Errorf("%s %q: %d %q, want %d", c.method, c.body, a.status, a.body, c.status)
			}
			if a := <-held; a.status != http.StatusOK || a.body != c.held {
				t.Errorf("the GET held: %d %q %v, want 200 %q", a.status, a.body, a.err, c.held)
			}
			gone(t, url)
		})
	}
	t.Run("GET given up", func(t *testing.T) {
		sid, url := open(t)
		ctx, cancel := context.WithCancel(context.Background())
		c := make(chan answer, 1)
		go func() { c <- request(ctx, "GET", url, "") }()
		waitFor(t, "the GET to be held", func() bool { return relay.PollWaiting(r, sid) })
		cancel()
		<-c
		waitFor(t, "the session to end", func() bool { return !relay.PollWaiting(r, sid) })
		gone(t, url)
	})
	t.Run("connect timeout", func(t *testing.T) {
		sid, url := open(t)
		if a := <-waiting(t, sid, url); a.status != http.StatusOK || a.body != "1" {
			t.Errorf("the GET held: %d %q %v, want 200 \"1\" (close)", a.status, a.body, a.err)
		}
		gone(t, url)
	})
}

type answer struct {
	status int
	body   string
	err    error
}

// request makes one request, bounded to 5 s.
func request(ctx context.Context, method, url, body string) answer {
	req, err := http.NewRequestWithContext(ctx, method, url, strings.NewReader(body))
	if err != nil {
		return answer{err: err}
	}
	resp, err := bounded.Do(req)
	if err != nil {
		return answer{err: err}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, string(b), err}
}

// waitFor polls cond for up to 5 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// The server ends a websocket with the closing handshake, as Node's does:
// its client sees a close frame without a status (1005), where it saw the
// connection drop (1006), as if the network had failed; and a client's
// close frame is answered with its code.
func TestWebsocketClosingHandshake(t *testing.T) {
	_, base := serverWith(t, relay.Options{ConnectTimeout: 300 * time.Millisecond})
	for name, send := range map[string]string{"invalid packet": "4abc", "connect timeout": ""} {
		t.Run(name, func(t *testing.T) {
			ws := rawDial(t, websocket.DefaultDialer, base)
			defer ws.Close()
			if send != "" {
				if err := ws.WriteMessage(websocket.TextMessage, []byte(send)); err != nil {
					t.Fatal(err)
				}
			}
			_ = ws.SetReadDeadline(time.Now().Add(5 * time.Second))
			var err error
			for err == nil {
				_, _, err = ws.ReadMessage()
			}
			if !websocket.IsCloseError(err, websocket.CloseNoStatusReceived) {
				t.Fatalf("the connection ended with %v, want a close frame without a status (1005)", err)
			}
		})
	}
	t.Run("client close", func(t *testing.T) {
		ws := rawDial(t, websocket.DefaultDialer, base)
		defer ws.Close()
		msg := websocket.FormatCloseMessage(websocket.CloseNormalClosure, "")
		if err := ws.WriteControl(websocket.CloseMessage, msg, time.Now().Add(time.Second)); err != nil {
			t.Fatal(err)
		}
		_ = ws.SetReadDeadline(time.Now().Add(5 * time.Second))
		var err error
		for err == nil {
			_, _, err = ws.ReadMessage()
		}
		if !websocket.IsCloseError(err, websocket.CloseNormalClosure) {
			t.Fatalf("the answer to a close 1000: %v", err)
		}
	})
}

// A client that answers every ping keeps its connection, also when its
// pong is read before the engine armed the timer that the pong clears (it
// sends the ping, then arms the timer, on one goroutine; the test holds
// that goroutine in between for 60 ms, as a busy machine does). Without
// the relay's heartbeat mend, the timer fired 100 ms later and closed the
// connection with "ping timeout".
func TestHeartbeatPongBeforeTimer(t *testing.T) {
	// The library's heartbeat: the relay's own sessions (lite.go) mark
	// the pong as due before the ping is queued.
	_, base := serverWith(t, relay.Options{PingInterval: 200 * time.Millisecond, PingTimeout: 100 * time.Millisecond,
		ConnectTimeout: time.Minute, LibraryOnly: true})
	var held atomic.Bool
	relay.SetSendHook(func(ps []*packet.Packet) func() {
		if len(ps) == 1 && ps[0].Type == packet.PING && !held.Swap(true) {
			return func() { time.Sleep(60 * time.Millisecond) }
		}
		return nil
	})
	t.Cleanup(func() { relay.SetSendHook(nil) })
	ws := rawDial(t, websocket.DefaultDialer, base)
	defer ws.Close()
	pings := 0
	for deadline := time.Now().Add(time.Second); time.Now().Before(deadline); {
		_ = ws.SetReadDeadline(time.Now().Add(time.Second))
		_, m, err := ws.ReadMessage()
		if err != nil {
			t.Fatalf("after %d pings answered at once: %v", pings, err)
		}
		if string(m) == "2" {
			pings++
			if err := ws.WriteMessage(websocket.TextMessage, []byte("3")); err != nil {
				t.Fatal(err)
			}
		}
	}
	if !held.Load() || pings < 3 {
		t.Fatalf("%d pings, held %v: the test did not run as meant", pings, held.Load())
	}
}

// Two sends for one waiting GET (the engine's flush and its upgrade
// check run on different goroutines, and both may find the transport
// writable) keep the session: the second send's packets go with the next
// GET. The library's second send found the GET answered, and the session
// ended as a transport error ("polling write error"): the upgrade that
// followed went to a forgotten connection (TestUpgradesUnderLoad).
func TestPollingOneSendPerGet(t *testing.T) {
	for _, next := range []string{"GET", "upgrade"} {
		t.Run(next, func(t *testing.T) { testOneSendPerGet(t, next) })
	}
}

// testOneSendPerGet sends twice for one GET; the second message must come
// with the next GET, or over the websocket the connection upgrades to.
func testOneSendPerGet(t *testing.T, next string) {
	r, base := serverWith(t, relay.Options{LibraryOnly: true}) // the library's transport
	url := pollJoin(t, base)
	sid := url[strings.LastIndex(url, "sid=")+4:]
	if a := request(context.Background(), "GET", url, ""); a.status != http.StatusOK || !strings.Contains(a.body, "40{") {
		t.Fatalf("the CONNECT answer: %d %q", a.status, a.body)
	}
	held := make(chan answer, 1)
	go func() { held <- request(context.Background(), "GET", url, "") }()
	waitFor(t, "the GET to be held", func() bool { return relay.PollWaiting(r, sid) })
	if !relay.SendTwice(r, sid, `2["a","1"]`, `2["a","2"]`) {
		t.Fatal("no such connection")
	}
	if a := <-held; a.status != http.StatusOK || a.body != `42["a","1"]` {
		t.Fatalf("the waiting GET: %d %q, want the first message", a.status, a.body)
	}
	if next == "GET" {
		if a := request(context.Background(), "GET", url, ""); a.status != http.StatusOK || a.body != `42["a","2"]` {
			t.Fatalf("the next GET: %d %q, want the second message (the session kept)", a.status, a.body)
		}
		return
	}
	ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(base, "http")+"/socket.io/?EIO=4&transport=websocket&sid="+sid, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	_ = ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	_ = ws.WriteMessage(websocket.TextMessage, []byte("2probe"))
	if _, m, err := ws.ReadMessage(); err != nil || string(m) != "3probe" {
		t.Fatalf("the probe's answer: %q %v", m, err)
	}
	_ = ws.WriteMessage(websocket.TextMessage, []byte("5"))
	for {
		_, m, err := ws.ReadMessage()
		if err != nil {
			t.Fatalf("after the upgrade: %v, want the second message", err)
		}
		if string(m) == "6" || string(m) == "2" { // a noop, a ping
			continue
		}
		if string(m) != `42["a","2"]` {
			t.Fatalf("after the upgrade: %q, want the second message", m)
		}
		return
	}
}
