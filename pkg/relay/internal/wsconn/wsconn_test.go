package wsconn

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	ws "github.com/gorilla/websocket"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// recorder is a Handler that keeps what it was told.
type recorder struct {
	mu       sync.Mutex
	msgs     []string
	queued   int
	flushed  int
	drains   int
	reason   string
	closed   chan struct{}
	closeCnt int
}

func (h *recorder) Message(data []byte, binary bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	p := "t:"
	if binary {
		p = "b:"
	}
	h.msgs = append(h.msgs, p+string(data))
}
func (h *recorder) Queued(f []Frame) { h.mu.Lock(); h.queued += len(f); h.mu.Unlock() }
func (h *recorder) Flushing(n int)   { h.mu.Lock(); h.flushed += n; h.mu.Unlock() }
func (h *recorder) Drained()         { h.mu.Lock(); h.drains++; h.mu.Unlock() }
func (h *recorder) Closed(reason string) {
	h.mu.Lock()
	h.reason = reason
	h.closeCnt++
	h.mu.Unlock()
	close(h.closed)
}

func (h *recorder) waitClosed(t *testing.T, within time.Duration) string {
	t.Helper()
	select {
	case <-h.closed:
	case <-time.After(within):
		t.Fatalf("not closed within %v", within)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.reason
}

// serve starts a server whose every request opens a session; conns gets
// each Conn and its recorder.
func serve(t *testing.T, cfg Config) (string, chan *Conn, chan *recorder) {
	t.Helper()
	conns, recs := make(chan *Conn, 16), make(chan *recorder, 16)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		rec := &recorder{closed: make(chan struct{})}
		c, err := Accept(w, req, &cfg, func(*Conn) Handler { return rec })
		if err != nil {
			return
		}
		recs <- rec
		conns <- c
		t.Cleanup(func() { c.Close("forced close"); <-c.Done() })
	}))
	t.Cleanup(srv.Close)
	return "ws" + strings.TrimPrefix(srv.URL, "http") + "/", conns, recs
}

func dial(t *testing.T, url string) (*ws.Conn, map[string]any) {
	t.Helper()
	c, _, err := ws.DefaultDialer.Dial(url, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, m, err := c.ReadMessage()
	if err != nil || len(m) == 0 || m[0] != '0' {
		t.Fatalf("open packet %q, %v", m, err)
	}
	var open map[string]any
	if err := json.Unmarshal(m[1:], &open); err != nil {
		t.Fatal(err)
	}
	return c, open
}

var quick = Config{PingInterval: 100 * time.Millisecond, PingTimeout: 100 * time.Millisecond, MaxPayload: 1000,
	MaxQueue: 1 << 20, StallTime: 200 * time.Millisecond, HardFactor: 16}

// The open packet is Node's for a websocket session: a sid, no upgrades,
// the timers in milliseconds, maxPayload.
func TestOpenPacket(t *testing.T) {
	url, conns, _ := serve(t, quick)
	_, open := dial(t, url)
	c := <-conns
	want := map[string]any{"sid": c.ID(), "upgrades": []any{}, "pingInterval": 100.0, "pingTimeout": 100.0, "maxPayload": 1000.0}
	got, _ := json.Marshal(open)
	exp, _ := json.Marshal(want)
	if string(got) != string(exp) {
		t.Fatalf("open packet %s, want %s", got, exp)
	}
	if len(c.ID()) != 20 {
		t.Fatalf("sid %q: want 20 characters", c.ID())
	}
}

// A client that answers every ping stays; one that stops answering is
// closed ("ping timeout") a ping interval and a ping timeout later.
func TestHeartbeat(t *testing.T) {
	url, _, recs := serve(t, quick)
	cl, _ := dial(t, url)
	rec := <-recs
	pings := 0
	for pings < 3 {
		_ = cl.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, m, err := cl.ReadMessage()
		if err != nil {
			t.Fatalf("after %d pings answered: %v", pings, err)
		}
		if string(m) != "2" {
			t.Fatalf("got %q, want pings only", m)
		}
		pings++
		if err := cl.WriteMessage(ws.TextMessage, []byte("3")); err != nil {
			t.Fatal(err)
		}
	}
	go func() {
		for {
			if _, _, err := cl.ReadMessage(); err != nil {
				return
			}
		}
	}()
	if reason := rec.waitClosed(t, 10*time.Second); reason != "ping timeout" {
		t.Fatalf("closed for %q, want ping timeout", reason)
	}
}

// Messages reach the handler in order; the client's close packet, a ping
// from the client (the server pings in v4) and a message over maxPayload
// each end the session with Node's reason, once.
func TestMessagesAndEndings(t *testing.T) {
	for _, c := range []struct {
		name, last string
		binary     bool
		reason     string
	}{
		{"close packet", "1", false, "transport close"},
		{"ping from the client", "2", false, "parse error"},
		{"unknown type", "9", false, "parse error"},
		{"over maxPayload", "4" + strings.Repeat("x", 1001), false, "transport error"},
	} {
		t.Run(c.name, func(t *testing.T) {
			url, _, recs := serve(t, Config{PingInterval: time.Minute, PingTimeout: time.Minute, MaxPayload: 1000, MaxQueue: 1 << 20, StallTime: time.Second, HardFactor: 16})
			cl, _ := dial(t, url)
			rec := <-recs
			for _, m := range []struct {
				data   string
				binary bool
			}{{"4hello", false}, {"\x01\x02", true}, {"6", false}, {"4", false}, {c.last, c.binary}} {
				typ := ws.TextMessage
				if m.binary {
					typ = ws.BinaryMessage
				}
				if err := cl.WriteMessage(typ, []byte(m.data)); err != nil {
					t.Fatal(err)
				}
			}
			if reason := rec.waitClosed(t, 10*time.Second); reason != c.reason {
				t.Fatalf("closed for %q, want %q", reason, c.reason)
			}
			rec.mu.Lock()
			defer rec.mu.Unlock()
			if got := strings.Join(rec.msgs, "|"); got != "t:4hello|b:\x01\x02|t:4" {
				t.Fatalf("messages %q", got)
			}
			if rec.closeCnt != 1 {
				t.Fatalf("Closed called %d times", rec.closeCnt)
			}
		})
	}
}

// Close writes what was sent before, then the close frame; the client
// sees a normal closing handshake (1005, no status), not a dropped
// connection. Every frame queued was counted, flushed and drained.
func TestCloseAfterWrites(t *testing.T) {
	url, conns, recs := serve(t, quick)
	cl, _ := dial(t, url)
	c, rec := <-conns, <-recs
	for i := range 100 {
		c.Send(Frame{Data: []byte("4" + strings.Repeat("y", i))})
	}
	c.Close("forced close")
	got := 0
	for {
		_ = cl.SetReadDeadline(time.Now().Add(3 * time.Second))
		_, m, err := cl.ReadMessage()
		if err != nil {
			if !ws.IsCloseError(err, ws.CloseNoStatusReceived) {
				t.Fatalf("after %d messages: %v, want a close without status", got, err)
			}
			break
		}
		if m[0] == '4' {
			got++
		}
	}
	if got != 100 {
		t.Fatalf("%d of 100 messages before the close", got)
	}
	if reason := rec.waitClosed(t, 10*time.Second); reason != "forced close" {
		t.Fatalf("closed for %q", reason)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if rec.queued != 101 || rec.flushed != 101 { // the open packet and 100 messages
		t.Fatalf("queued %d, flushed %d: want 101 each", rec.queued, rec.flushed)
	}
}

// A client that reads nothing while more than MaxQueue waits for it is
// closed as a slow consumer once nothing was written for StallTime.
func TestSlowConsumer(t *testing.T) {
	cfg := quick
	cfg.PingInterval, cfg.PingTimeout = time.Minute, time.Minute
	url, conns, recs := serve(t, cfg)
	_, _ = dial(t, url) // and never read again
	c, rec := <-conns, <-recs
	big := []byte("4" + strings.Repeat("z", 64<<10))
	for i := 0; i < 2000; i++ {
		c.Send(Frame{Data: big})
		select {
		case <-rec.closed:
			i = 2000
		default:
			time.Sleep(time.Millisecond)
		}
	}
	if reason := rec.waitClosed(t, 10*time.Second); reason != "slow consumer" {
		t.Fatalf("closed for %q, want slow consumer", reason)
	}
}

// Framing a flush of 100 events of about 100 bytes into one buffer, as
// WriteFrames does before its one write.
func BenchmarkFrameBatch(b *testing.B) {
	payload := []byte(`42["line",{"n":12345,"t":1763900000000,"text":"the quick brown fox jumps over the lazy dog"}]`)
	buf := make([]byte, 0, 32<<10)
	b.SetBytes(100 * int64(len(payload)))
	b.ReportAllocs()
	for b.Loop() {
		buf = buf[:0]
		for range 100 {
			buf = AppendHeader(buf, true, len(payload))
			buf = append(buf, payload...)
		}
	}
}
