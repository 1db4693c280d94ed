package wsconn

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	ws "github.com/gorilla/websocket"
)

// heldWriter is a GET's answer whose body is written only when release
// is closed; written is closed once it was.
type heldWriter struct {
	header  http.Header
	release chan struct{}
	written chan struct{}
	mu      sync.Mutex
	body    strings.Builder
}

func (w *heldWriter) Header() http.Header { return w.header }
func (w *heldWriter) WriteHeader(int)     {}
func (w *heldWriter) Write(b []byte) (int, error) {
	<-w.release
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.body.Write(b)
}
func (w *heldWriter) Flush() {}

// pollingSession opens a long-polling session whose timers never fire
// during a test.
func pollingSession(t *testing.T) (*Conn, *recorder) {
	t.Helper()
	cfg := Config{PingInterval: time.Minute, PingTimeout: time.Minute, MaxPayload: 1000,
		MaxQueue: 1 << 20, StallTime: time.Minute, HardFactor: 16}
	rec := &recorder{closed: make(chan struct{})}
	c := AcceptPolling(httptest.NewRecorder(), httptest.NewRequest("GET", "/socket.io/?EIO=4&transport=polling", nil), &cfg,
		func(*Conn) Handler { return rec })
	t.Cleanup(func() { c.Close("forced close"); <-c.Done() })
	return c, rec
}

// probe opens a websocket to c's session and probes it ("2probe",
// answered "3probe"); the upgrade packet is the caller's to send.
func probe(t *testing.T, c *Conn) *ws.Conn {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(c.Upgrade))
	t.Cleanup(srv.Close)
	conn, _, err := ws.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if err := conn.WriteMessage(ws.TextMessage, []byte("2probe")); err != nil {
		t.Fatal(err)
	}
	if _, m, err := conn.ReadMessage(); err != nil || string(m) != "3probe" {
		t.Fatalf("probe answered %q, %v", m, err)
	}
	return conn
}

// A session upgraded while a GET from before still writes its answer:
// what is sent after the upgrade goes on the websocket only once that
// answer was written, so the frames stay in order even for a client that
// does not wait for its GET before it upgrades. (Before, Send started the
// websocket's writer at once.)
func TestUpgradeWaitsForTheGETWriting(t *testing.T) {
	c, _ := pollingSession(t)

	c.Send(Frame{Data: []byte("4first")})
	get := &heldWriter{header: http.Header{}, release: make(chan struct{}), written: make(chan struct{})}
	go func() {
		defer close(get.written)
		c.ServePoll(get, httptest.NewRequest("GET", "/socket.io/?EIO=4&transport=polling&sid="+c.ID(), nil))
	}()
	for deadline := time.Now().Add(5 * time.Second); ; {
		c.mu.Lock()
		writing := c.getWriting
		c.mu.Unlock()
		if writing {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the GET never took the frame")
		}
		time.Sleep(time.Millisecond)
	}

	conn := probe(t, c)
	if err := conn.WriteMessage(ws.TextMessage, []byte("5")); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); c.Polling(); {
		if time.Now().After(deadline) {
			t.Fatal("not upgraded")
		}
		time.Sleep(time.Millisecond)
	}

	got := make(chan string, 4)
	go func() {
		_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		for {
			_, m, err := conn.ReadMessage()
			if err != nil {
				close(got)
				return
			}
			got <- string(m)
		}
	}()
	c.Send(Frame{Data: []byte("4second")})
	select {
	case m := <-got:
		t.Fatalf("the websocket got %q while the GET still wrote the frame before it", m)
	case <-time.After(300 * time.Millisecond):
	}
	close(get.release)
	<-get.written
	if body := get.body.String(); body != "4first" {
		t.Fatalf("the GET answered %q, want the first frame", body)
	}
	select {
	case m := <-got:
		if m != "4second" {
			t.Fatalf("the websocket got %q, want 4second", m)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the frame sent after the upgrade never came")
	}
	conn.Close()
	for range got {
	}
}

// failingWriter is a GET's answer whose client went away: every write
// fails.
type failingWriter struct{ header http.Header }

func (w *failingWriter) Header() http.Header       { return w.header }
func (w *failingWriter) WriteHeader(int)           {}
func (w *failingWriter) Write([]byte) (int, error) { return 0, errors.New("connection reset by peer") }

// A GET that waited through an upgrade answers a noop on the polling
// connection the client is leaving: if that write fails (the client
// closed it first), the session, on its websocket by now, goes on.
// Before, the failed write ended it ("transport error"). (The GET waiting
// when the probe comes gets its noop then; this is one sent after it.)
func TestUpgradedSessionOutlivesItsLastGET(t *testing.T) {
	c, rec := pollingSession(t)
	poll := func(w http.ResponseWriter) chan struct{} {
		done := make(chan struct{})
		go func() {
			defer close(done)
			c.ServePoll(w, httptest.NewRequest("GET", "/socket.io/?EIO=4&transport=polling&sid="+c.ID(), nil))
		}()
		for deadline := time.Now().Add(5 * time.Second); !c.GetHeld(); {
			if time.Now().After(deadline) {
				t.Fatal("the GET never waited")
			}
			time.Sleep(time.Millisecond)
		}
		return done
	}
	answered := func(get chan struct{}, what string) {
		t.Helper()
		select {
		case <-get:
		case <-time.After(5 * time.Second):
			t.Fatalf("the GET waiting was not answered %s", what)
		}
	}

	first := poll(httptest.NewRecorder())
	conn := probe(t, c)
	answered(first, "on the probe")
	last := poll(&failingWriter{header: http.Header{}})
	if err := conn.WriteMessage(ws.TextMessage, []byte("5")); err != nil {
		t.Fatal(err)
	}
	answered(last, "after the upgrade")
	select {
	case <-rec.closed:
		rec.mu.Lock()
		reason := rec.reason
		rec.mu.Unlock()
		t.Fatalf("the upgraded session ended (%s) when its last GET's answer failed", reason)
	case <-time.After(100 * time.Millisecond):
	}
	c.Send(Frame{Data: []byte("4still")})
	if _, m, err := conn.ReadMessage(); err != nil || string(m) != "4still" {
		t.Fatalf("the websocket got %q, %v; want the frame sent after the upgrade", m, err)
	}
}
