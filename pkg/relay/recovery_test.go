package relay_test

import (
	"encoding/json"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/sio-tools/sio/internal/faultproxy"
	"github.com/sio-tools/sio/pkg/conn"
	"github.com/sio-tools/sio/pkg/relay"
	"github.com/zishang520/socket.io/parsers/engine/v3/packet"
)

// recoverOptions are the relay's options in the recovery tests: with
// RecoverAll the sessions are the library's (which resumes them through
// the relay's adapter); TestRecoveryOverOwnSessions runs the tests again
// with recovery for the clients that ask, whose websocket sessions are the
// relay's own.
var recoverOptions = relay.Options{Recover: 30 * time.Second, RecoverAll: true}

// recoverServer starts a relay with recovery on and returns it and its URL.
func recoverServer(t *testing.T) (*relay.Relay, string) {
	t.Helper()
	return serverWith(t, recoverOptions)
}

// The relay's own sessions resume as the library's do: every recovery
// test again, with clients (pkg/conn over a websocket, raw websockets that
// ask in their CONNECT) whose sessions the relay serves itself.
func TestRecoveryOverOwnSessions(t *testing.T) {
	old := recoverOptions
	recoverOptions = relay.Options{Recover: 30 * time.Second}
	defer func() { recoverOptions = old }()
	t.Run("OwnSessions", func(t *testing.T) {
		r, base := recoverServer(t)
		c := dial(t, base, "")
		waitClients(t, r, 1)
		if n := relay.OwnSessions(r); n != 1 {
			t.Fatalf("%d sessions of the relay's own, want 1: the tests below would not test them", n)
		}
		_ = c
	})
	for _, c := range []struct {
		name string
		f    func(*testing.T)
	}{
		{"HoldsDuringRestore", TestRecoveryHoldsDuringRestore},
		{"LargeBacklog", TestRecoveryLargeBacklog},
		{"WithoutEvents", TestRecoveryWithoutEvents},
		{"RepeatedCuts", TestRecoveryRepeatedCuts},
		{"WhenTheServerSeesTheCutLate", TestRecoveryWhenTheServerSeesTheCutLate},
		{"OrderWithManySenders", TestRecoveryOrderWithManySenders},
	} {
		t.Run(c.name, c.f)
	}
}

// viaProxy dials base+path through a fault proxy the test can cut, and
// records events and states.
func viaProxy(t *testing.T, base, path string) (*client, *faultproxy.Proxy) {
	t.Helper()
	u, _ := url.Parse(base)
	p, err := faultproxy.New(u.Host)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return dialReconnecting(t, "http://"+p.Addr(), path), p
}

func dialReconnecting(t *testing.T, base, path string) *client {
	t.Helper()
	c := dialWith(t, base+path, conn.Options{Reconnect: true})
	<-c.states // the first connect
	return c
}

// numbers returns the single string argument of every event received.
func (c *client) numbers(t *testing.T) []string {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, r := range c.got {
		var s string
		if len(r.args) != 1 || json.Unmarshal(r.args[0].(json.RawMessage), &s) != nil {
			t.Fatalf("event %s %v: want one string argument (and the offset taken off)", r.event, r.args)
		}
		out = append(out, s)
	}
	return out
}

// reconnected waits for the client to be lost and connected again, and
// returns the new connection's state.
func (c *client) reconnected(t *testing.T) conn.State {
	t.Helper()
	timeout := time.After(20 * time.Second)
	for {
		select {
		case st := <-c.states:
			if st.Connected {
				return st
			}
		case <-timeout:
			t.Fatal("not reconnected within 20 s")
		}
	}
}

// An event broadcast while a session is being restored (after the
// relay took the session back, before the socket is registered in its
// namespace) reaches the resumed client once, in its place. The library's
// own recovery lost such events: the snapshot of missed events was taken
// before and the socket did not exist yet. The test publishes in exactly
// that window, from the restore hook.
func TestRecoveryHoldsDuringRestore(t *testing.T) {
	_, base := recoverServer(t)
	sub, proxy := viaProxy(t, base, "/r")
	pub := dial(t, base, "/r")
	for i := 1; i <= 3; i++ {
		emit(t, pub, "n", strconv.Itoa(i))
	}
	sub.wait(t, 3)

	var once sync.Once
	relay.SetRestoreHook(func() {
		once.Do(func() {
			emit(t, pub, "n", "5")
			flush(t, pub)
		})
	})
	defer relay.SetRestoreHook(nil)
	proxy.Cut()
	emit(t, pub, "n", "4") // while sio-sub is away, or being restored
	flush(t, pub)
	if st := sub.reconnected(t); !st.Recovered {
		t.Fatalf("state %+v: not recovered", st)
	}
	emit(t, pub, "n", "6")
	sub.wait(t, 6)
	flush(t, sub)
	if got := strings.Join(sub.numbers(t), " "); got != "1 2 3 4 5 6" {
		t.Errorf("resumed client got %q, want 1 to 6 once each", got)
	}
}

// A resumed client gets a large backlog, then what comes after, in order,
// exactly once; the server answers its CONNECT first, so the backlog does
// not hold up the connect.
func TestRecoveryLargeBacklog(t *testing.T) {
	const n = 20000
	_, base := recoverServer(t)
	sub, proxy := viaProxy(t, base, "/")
	pub := dial(t, base, "")
	if st := away(t, sub, pub, proxy, 1, n); !st.Recovered {
		t.Fatalf("state %+v: not recovered", st)
	}
	emit(t, pub, "n", strconv.Itoa(n+1))
	sub.wait(t, n+1)
	got := sub.numbers(t)
	for i, s := range got {
		if s != strconv.Itoa(i+1) {
			t.Fatalf("event %d is %q, want %d", i+1, s, i+1)
		}
	}
}

// A client cut right after it was told it joined, before the library
// registered its socket with the connection, resumes its session. The
// library never kept such a session (the connection's close found no
// socket to keep): the client came back to a new one, and a subscriber
// reported a gap for the events sent while it was away
// (TestRecoveryLargeBacklog failed so about 1 run in 40 on a busy
// machine). The test holds the CONNECT answer's flush, after the answer
// went out, until the relay saw the connection end.
func TestRecoveryCutWhileJoining(t *testing.T) {
	_, base := recoverServer(t)
	u, _ := url.Parse(base)
	proxy, err := faultproxy.New(u.Host)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { proxy.Close() })
	pub := dial(t, base, "/j")

	closed := make(chan struct{})
	var closeOnce, holdOnce sync.Once
	relay.SetEngineCloseHook(func() { closeOnce.Do(func() { close(closed) }) })
	relay.SetSendHook(func(ps []*packet.Packet) func() {
		b, ok := ps[0].Data.(interface{ Bytes() []byte }) // Bytes does not consume
		if !ok || !strings.HasPrefix(string(b.Bytes()), "0/j,") {
			return nil
		}
		return func() {
			holdOnce.Do(func() {
				select {
				case <-closed:
				case <-time.After(10 * time.Second):
					t.Error("the relay did not see the cut")
				}
			})
		}
	})
	t.Cleanup(func() {
		relay.SetSendHook(nil)
		relay.SetEngineCloseHook(nil)
	})
	sub := dialReconnecting(t, "http://"+proxy.Addr(), "/j")
	if st := away(t, sub, pub, proxy, 1, 1); !st.Recovered {
		t.Fatalf("state %+v: not recovered", st)
	}
	emit(t, pub, "n", "2")
	sub.wait(t, 2)
	if got := strings.Join(sub.numbers(t), ","); got != "1,2" {
		t.Fatalf("got %q, want 1,2", got)
	}
}

// away cuts sub's connection and keeps it from coming back while pub
// emits n events (as "1" to "n", after first), then lets it back and
// returns the new connection's state.
func away(t *testing.T, sub, pub *client, proxy *faultproxy.Proxy, first, n int) conn.State {
	t.Helper()
	proxy.Refuse(true)
	proxy.Cut()
	waitLost(t, sub)
	for i := first; i < first+n; i++ {
		emit(t, pub, "n", strconv.Itoa(i))
	}
	flush(t, pub)
	proxy.Refuse(false)
	return sub.reconnected(t)
}

func waitLost(t *testing.T, c *client) {
	t.Helper()
	select {
	case st := <-c.states:
		if st.Connected {
			t.Fatalf("state %+v, want the loss", st)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the client did not notice the cut")
	}
}

// A client that got no event in its session resumes it from its start.
func TestRecoveryWithoutEvents(t *testing.T) {
	_, base := recoverServer(t)
	sub, proxy := viaProxy(t, base, "/")
	pub := dial(t, base, "")
	if st := away(t, sub, pub, proxy, 1, 1); !st.Recovered {
		t.Fatalf("state %+v: not recovered", st)
	}
	sub.wait(t, 1)
	if got := strings.Join(sub.numbers(t), " "); got != "1" {
		t.Errorf("got %q", got)
	}
}

// Several publishers and a subscriber cut again and again: every event
// once, in each publisher's order.
func TestRecoveryRepeatedCuts(t *testing.T) {
	const pubs, per = 3, 3000
	_, base := recoverServer(t)
	sub, proxy := viaProxy(t, base, "/")
	var wg sync.WaitGroup
	for p := 0; p < pubs; p++ {
		c := dial(t, base, "")
		wg.Add(1)
		go func(p int, c *client) {
			defer wg.Done()
			for i := 1; i <= per; i++ {
				if i%50 == 0 {
					time.Sleep(10 * time.Millisecond) // spread over many cuts
				}
				for c.Emit("n", []any{strconv.Itoa(p) + ":" + strconv.Itoa(i)}, nil) != nil {
					time.Sleep(time.Millisecond)
				}
			}
		}(p, c)
	}
	stop := make(chan struct{})
	var cuts atomic.Int64
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(30 * time.Millisecond):
				proxy.Cut()
				cuts.Add(1)
			}
		}
	}()
	wg.Wait()
	close(stop)
	sub.wait(t, pubs*per)
	time.Sleep(200 * time.Millisecond)
	next := make([]int, pubs)
	for _, s := range sub.numbers(t) {
		p, _ := strconv.Atoi(s[:strings.IndexByte(s, ':')])
		i, _ := strconv.Atoi(s[strings.IndexByte(s, ':')+1:])
		if i != next[p]+1 {
			t.Fatalf("publisher %d: event %d after %d", p, i, next[p])
		}
		next[p] = i
	}
	if n := len(sub.numbers(t)); n != pubs*per {
		t.Errorf("%d events, want %d", n, pubs*per)
	}
	t.Logf("%d cuts", cuts.Load())
}

// Without RecoverAll, only clients that ask for it get offsets and
// resume: another client (here a bare websocket) gets every event as it
// was sent.
func TestRecoveryOnlyForClientsThatAsk(t *testing.T) {
	_, base := serverWith(t, relay.Options{Recover: 30 * time.Second})
	sub, proxy := viaProxy(t, base, "/")
	other := rawJoin(t, base)
	pub := dial(t, base, "")
	emit(t, pub, "n", "1")
	if _, m, err := other.ReadMessage(); err != nil || string(m) != `42["n","1"]` {
		t.Fatalf("the other client got %q, %v; want the event as sent", m, err)
	}
	sub.wait(t, 1)
	if st := away(t, sub, pub, proxy, 2, 1); !st.Recovered {
		t.Fatalf("state %+v: not recovered", st)
	}
	sub.wait(t, 2)
	if got := strings.Join(sub.numbers(t), " "); got != "1 2" {
		t.Errorf("got %q", got)
	}
	if _, m, err := other.ReadMessage(); err != nil || string(m) != `42["n","2"]` {
		t.Fatalf("the other client got %q, %v; want the event as sent", m, err)
	}
}

// A binary event reaches a client that resumes sessions (with an offset)
// and one that does not (without), both with the attachment whole: the
// event is encoded once for each.
func TestRecoveryBinaryToBothKinds(t *testing.T) {
	_, base := serverWith(t, relay.Options{Recover: 30 * time.Second})
	raw := rawJoin(t, base)
	a, b := dial(t, base, ""), dial(t, base, "")
	emit(t, a, "bin", []byte{1, 2, 3})
	got := b.wait(t, 1)
	if bin, ok := got[0].args[0].([]byte); !ok || string(bin) != "\x01\x02\x03" || len(got[0].args) != 1 {
		t.Errorf("resuming client got %v", got[0].args)
	}
	if _, m, err := raw.ReadMessage(); err != nil || string(m) != `451-["bin",{"_placeholder":true,"num":0}]` {
		t.Fatalf("other client got %q, %v", m, err)
	}
	if _, m, err := raw.ReadMessage(); err != nil || string(m) != "\x01\x02\x03" {
		t.Fatalf("other client's attachment %q, %v", m, err)
	}
}

// A client that comes back before the server saw its old connection end
// (on a busy machine the server reads the reset late) resumes all the
// same: its restore waits for the old socket to go. Here the server sees
// the end 1 s late, the client is back within 0.3 s. The library started
// a new session (1 in 20 to 40 runs of TestRecoveryLargeBacklog under
// three CPU burners).
func TestRecoveryWhenTheServerSeesTheCutLate(t *testing.T) {
	_, base := recoverServer(t)
	sub, proxy := viaProxy(t, base, "/")
	pub := dial(t, base, "")
	emit(t, pub, "n", "1")
	sub.wait(t, 1)
	var late atomic.Bool
	late.Store(true)
	relay.SetEngineCloseHook(func() {
		if late.Swap(false) {
			time.Sleep(time.Second)
		}
	})
	t.Cleanup(func() { relay.SetEngineCloseHook(nil) })
	proxy.Cut()
	waitLost(t, sub)
	emit(t, pub, "n", "2")
	flush(t, pub)
	if st := sub.reconnected(t); !st.Recovered {
		t.Fatalf("state %+v: not recovered", st)
	}
	emit(t, pub, "n", "3")
	sub.wait(t, 3)
	if got := sub.numbers(t); strings.Join(got, ",") != "1,2,3" {
		t.Fatalf("got %q, want 1,2,3", got)
	}
}

// A client away while more was sent than the server keeps
// (RecoverBytes) starts a new session, and the server says why.
func TestRecoveryPastTheBudgetSaysSo(t *testing.T) {
	var logs syncBuffer
	_, base := serverWith(t, relay.Options{Recover: 30 * time.Second, RecoverAll: true, RecoverBytes: 20_000,
		Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	sub, proxy := viaProxy(t, base, "/")
	pub := dial(t, base, "")
	emit(t, pub, "n", "0")
	sub.wait(t, 1)
	if st := away(t, sub, pub, proxy, 1, 1000); st.Recovered {
		t.Fatalf("state %+v: recovered past the budget", st)
	}
	if !strings.Contains(logs.String(), `msg="session not resumed: events it missed are no longer kept`) {
		t.Fatalf("the server did not say why:\n%s", logs.String())
	}
}

// syncBuffer is a log sink safe for concurrent writes. With max set, it
// keeps only about the last max bytes (so a test measuring the heap does
// not see it grow).
type syncBuffer struct {
	mu  sync.Mutex
	b   []byte
	max int
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.b = append(s.b, p...)
	if s.max > 0 && len(s.b) > 2*s.max {
		s.b = append(s.b[:0], s.b[len(s.b)-s.max:]...)
	}
	return len(p), nil
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return string(s.b)
}

// With recovery for the clients that ask for it only (sio-serve's
// default), only they are given a private session id: a pid tells a
// client its session can be resumed, and the others' are not kept. The
// CONNECT's auth asks; sio_offsets in the handshake query (where the
// relay looked before its own sessions could resume) changes nothing.
func TestRecoveryPidOnlyForClientsThatAsk(t *testing.T) {
	_, base := serverWith(t, relay.Options{Recover: 30 * time.Second})
	asks := `{"` + relay.OffsetsKey + `":true}`
	for _, c := range []struct {
		query, auth string
		wantPid     bool
	}{
		{"", "", false},
		{"&" + relay.OffsetsKey + "=1", "", false},
		{"", asks, true},
		{"&" + relay.OffsetsKey + "=1", asks, true},
	} {
		auth, wantPid := c.auth, c.wantPid
		ws := rawDialQuery(t, websocket.DefaultDialer, base, c.query)
		if err := ws.WriteMessage(websocket.TextMessage, []byte("40"+auth)); err != nil {
			t.Fatal(err)
		}
		_ = ws.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, m, err := ws.ReadMessage()
		if err != nil || !strings.HasPrefix(string(m), "40{") {
			t.Fatalf("CONNECT answer %q, %v", m, err)
		}
		var ans map[string]string
		if err := json.Unmarshal(m[2:], &ans); err != nil {
			t.Fatal(err)
		}
		if _, has := ans["pid"]; has != wantPid || ans["sid"] == "" {
			t.Errorf("query %q, auth %q: CONNECT answer %s, want a pid: %v", c.query, auth, m, wantPid)
		}
		ws.Close()
	}
}

// With recovery, events from many senders at once reach every receiver in
// the order of their numbers (a receiver's last number is what it has
// seen: one out of order would be missed or doubled by a resume), every
// one once, also when the sender that hands the events over gives way to
// a goroutine of its own after each batch.
func TestRecoveryOrderWithManySenders(t *testing.T) {
	t.Cleanup(relay.SetHandOverRounds(1)) // after the server stopped
	const senders, each = 8, 2000
	r, base := recoverServer(t)
	asks := "40" + `{"` + relay.OffsetsKey + `":true}`
	subs := []*websocket.Conn{rawJoinWith(t, base, asks), rawJoinWith(t, base, asks)}
	pubs := make([]*websocket.Conn, senders)
	for i := range pubs {
		pubs[i] = rawJoin(t, base)
	}
	waitClients(t, r, senders+2)
	results := make(chan string, len(subs))
	for _, ws := range subs {
		go func() { results <- readInOrder(ws, senders*each) }()
	}
	var wg sync.WaitGroup
	for i, ws := range pubs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := range each {
				m := `42["n","` + strconv.Itoa(i) + "." + strconv.Itoa(n) + `"]`
				if err := ws.WriteMessage(websocket.TextMessage, []byte(m)); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	for range subs {
		if err := <-results; err != "" {
			t.Error(err)
		}
	}
	// The relay's own sessions take their events under the lock: only
	// the library's are handed over.
	if recoverOptions.RecoverAll && relay.HandOffs(r, "/") == 0 {
		t.Error("no goroutine of its own took over handing the events over: the test did not test that")
	}
}

// readInOrder reads n events from a receiver and says what is wrong with
// them: numbers not increasing, or a sender's events out of order.
func readInOrder(ws *websocket.Conn, n int) string {
	last := uint64(0)
	next := map[string]int{}
	for got := 0; got < n; {
		_ = ws.SetReadDeadline(time.Now().Add(20 * time.Second))
		_, m, err := ws.ReadMessage()
		if err != nil {
			return "after " + strconv.Itoa(got) + " events: " + err.Error()
		}
		if string(m) == "2" {
			_ = ws.WriteMessage(websocket.TextMessage, []byte("3"))
			continue
		}
		var args []string
		if !strings.HasPrefix(string(m), "42") || json.Unmarshal(m[2:], &args) != nil || len(args) != 3 {
			return "unexpected message " + string(m)
		}
		off, err := strconv.ParseUint(args[2], 10, 64)
		if err != nil || off <= last {
			return "offset " + args[2] + " after " + strconv.FormatUint(last, 10)
		}
		last = off
		from, num, _ := strings.Cut(args[1], ".")
		if num != strconv.Itoa(next[from]) {
			return "sender " + from + ": event " + num + ", want " + strconv.Itoa(next[from])
		}
		next[from]++
		got++
	}
	return ""
}

// Clients that ask for offsets in namespace after namespace leave nothing
// behind once they are gone and the window has passed: each namespace's
// log of events is forgotten, and the events of a namespace that fell
// silent are let go too (they were trimmed only when a new event came).
func TestRecoveryForgetsLogsOfFreedNamespaces(t *testing.T) {
	const window = 200 * time.Millisecond
	r, base := serverWith(t, relay.Options{Recover: window})
	const n = 200
	seen := 0 // iterations after which some namespace's log was kept
	for i := range n {
		nsp := "/n" + strconv.Itoa(i)
		ws := rawDial(t, websocket.DefaultDialer, base)
		for _, m := range []string{"40" + nsp + `,{"` + relay.OffsetsKey + `":true}`, "42" + nsp + `,["e","x"]`} {
			if err := ws.WriteMessage(websocket.TextMessage, []byte(m)); err != nil {
				t.Fatal(err)
			}
		}
		_ = ws.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, m, err := ws.ReadMessage(); err != nil || !strings.HasPrefix(string(m), "40"+nsp+",{") {
			t.Fatalf("CONNECT answer %q, %v", m, err)
		}
		ws.Close()
		if relay.Logs(r) > 0 {
			seen++
		}
	}
	// Logs were kept (on a busy machine the first ones are forgotten
	// before the last client came: counted as the loop goes).
	if seen < n/2 {
		t.Fatalf("a namespace log was kept after only %d of %d clients: the test tests nothing", seen, n)
	}
	deadline := time.Now().Add(10 * time.Second)
	for relay.Logs(r) > 1 || relay.KeptBytes(r) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d namespace logs and %d bytes of events kept 10 s after the clients left (window %v)",
				relay.Logs(r), relay.KeptBytes(r), window)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// A session resumes on another transport: a client whose long-polling
// session ended comes back on a websocket with the events it missed, and
// the other way round. (Written when long-polling sessions were the
// library's, where it showed a session kept by one kind resuming on the
// other; both are the relay's own now, and the store is one.)
func TestRecoveryAcrossTransports(t *testing.T) {
	r, base := serverWith(t, relay.Options{Recover: 30 * time.Second})
	pub := rawJoin(t, base)
	send := func(n string) {
		t.Helper()
		if err := pub.WriteMessage(websocket.TextMessage, []byte(`42["n","`+n+`"]`)); err != nil {
			t.Fatal(err)
		}
	}
	// offsetOf returns the offset of event n in a payload, or "".
	offsetOf := func(payload, n string) string {
		for _, p := range strings.Split(payload, "\x1e") {
			var args []string
			if strings.HasPrefix(p, "42") && json.Unmarshal([]byte(p[2:]), &args) == nil && len(args) == 3 && args[1] == n {
				return args[2]
			}
		}
		return ""
	}
	clients := func(n int) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); r.Clients() != n; time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%d clients, want %d", r.Clients(), n)
			}
		}
	}

	// Long-polling first.
	poll := pollJoinWith(t, base, `40{"`+relay.OffsetsKey+`":true}`)
	pid := between(httpGet(t, poll), `"pid":"`, `"`)
	if pid == "" {
		t.Fatal("no pid for the polling client")
	}
	clients(2)
	send("1")
	var off string
	for deadline := time.Now().Add(10 * time.Second); off == "" && time.Now().Before(deadline); {
		off = offsetOf(httpGet(t, poll), "1")
	}
	if off == "" {
		t.Fatal("the polling client did not get event 1 with its offset")
	}
	post(t, poll, "1") // the client closes its connection
	clients(1)
	send("2")

	// Back on a websocket.
	ws := rawDial(t, websocket.DefaultDialer, base)
	defer ws.Close()
	if err := ws.WriteMessage(websocket.TextMessage,
		[]byte(`40{"`+relay.OffsetsKey+`":true,"pid":"`+pid+`","offset":"`+off+`"}`)); err != nil {
		t.Fatal(err)
	}
	_ = ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, m, err := ws.ReadMessage(); err != nil || between(string(m), `"pid":"`, `"`) != pid {
		t.Fatalf("CONNECT answer %q, %v: want the session %s resumed", m, err, pid)
	}
	if n := relay.OwnSessions(r); n != 2 {
		t.Fatalf("%d sessions of the relay's own, want 2 (the publisher's and this)", n)
	}
	_, m, err := ws.ReadMessage()
	if err != nil {
		t.Fatal(err)
	}
	if off = offsetOf(string(m), "2"); off == "" {
		t.Fatalf("the resumed session got %q, want event 2, missed", m)
	}
	ws.Close() // cut, without a close frame
	clients(1)
	send("3")

	// And back on long-polling.
	poll = pollJoinWith(t, base, `40{"`+relay.OffsetsKey+`":true,"pid":"`+pid+`","offset":"`+off+`"}`)
	var got []string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		payload := httpGet(t, poll)
		got = append(got, strings.Split(payload, "\x1e")...)
		if offsetOf(payload, "3") != "" {
			break
		}
	}
	if len(got) == 0 || between(got[0], `"pid":"`, `"`) != pid || offsetOf(strings.Join(got, "\x1e"), "3") == "" {
		t.Fatalf("the polling client got %q: want its session %s resumed, then event 3", got, pid)
	}
}
