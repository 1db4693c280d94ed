package pub

import (
	"context"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sio-tools/sio/pkg/conn"
)

// memConn is a connection in memory for the ack window: each send waits
// in sent for the test to answer it; drop cuts the connection, failing
// what is out, and the next Reconnect brings it back.
type memConn struct {
	mu    sync.Mutex
	up    bool
	ready chan struct{}
	sent  chan sentEvent
}

type sentEvent struct {
	body string
	done func([]any, error)
}

func newMemConn() *memConn {
	c := &memConn{up: true, ready: make(chan struct{}), sent: make(chan sentEvent, 100)}
	close(c.ready)
	return c
}

func (c *memConn) Ready() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ready
}

func (c *memConn) Connected() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.up
}

func (c *memConn) drop() {
	c.mu.Lock()
	c.up, c.ready = false, make(chan struct{})
	c.mu.Unlock()
}

func (c *memConn) Reconnect() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.up {
		c.up = true
		close(c.ready)
	}
}

func (c *memConn) Send(body []byte, done func([]any, error)) error {
	if !c.Connected() {
		return conn.ErrNotConnected
	}
	c.sent <- sentEvent{string(body), done}
	return nil
}

func (c *memConn) SendAll(bodies [][]byte, done []func([]any, error)) (int, error) {
	for i, b := range bodies {
		if err := c.Send(b, done[i]); err != nil {
			return i, err
		}
	}
	return len(bodies), nil
}

func (c *memConn) Emit(event string, args []any, done func([]any, error)) error {
	return c.Send([]byte(event), done)
}

// next is the next event sent, or fails the test.
func (c *memConn) next(t *testing.T) sentEvent {
	t.Helper()
	select {
	case s := <-c.sent:
		return s
	case <-time.After(10 * time.Second):
		t.Fatal("nothing sent")
		return sentEvent{}
	}
}

// idle fails the test if something is sent within a short while.
func (c *memConn) idle(t *testing.T, why string) {
	t.Helper()
	select {
	case s := <-c.sent:
		t.Fatalf("%s, yet %s was sent", why, s.body)
	case <-time.After(100 * time.Millisecond):
	}
}

// The ack window without sockets: at most --window events are out; the
// replies are printed in input order whatever order the acks come in;
// after a lost connection what was not acknowledged goes again, in
// order, before anything new, and an ack from before the loss counts.
func TestAckWindow(t *testing.T) {
	c := config(t, "http://127.0.0.1:1", "--reply", "--window", "2", "-f", "json")
	cn := newMemConn()
	items := make(chan item, 10)
	lim := limit{max: c.MaxBytes, header: 20, what: "--max-bytes"}
	for i, l := range []string{"1", "2", "3", "4", "5"} {
		it, err := encode(c, lim, i+1, []byte(l))
		if err != nil {
			t.Fatal(err)
		}
		items <- it
	}
	close(items)
	var stdout, stderr lockedWriter
	a := &acker{cn: cn, cfg: c, stderr: &stderr, stdout: &stdout}
	errc := make(chan error, 1)
	go func() { errc <- a.run(context.Background(), items, &skips{stderr: io.Discard}) }()

	e1, e2 := cn.next(t), cn.next(t)
	if e1.body != `["message",1]` || e2.body != `["message",2]` {
		t.Fatalf("sent %s, %s; want lines 1 and 2", e1.body, e2.body)
	}
	cn.idle(t, "the window of 2 is full")
	e2.done([]any{"r2"}, nil) // out of order: nothing can be printed yet
	cn.idle(t, "line 1 is not acknowledged")
	if out := stdout.String(); out != "" {
		t.Fatalf("printed %q before line 1's reply", out)
	}
	e1.done([]any{"r1"}, nil)
	e3, e4 := cn.next(t), cn.next(t)
	if e3.body != `["message",3]` || e4.body != `["message",4]` {
		t.Fatalf("sent %s, %s; want lines 3 and 4", e3.body, e4.body)
	}
	e4.done([]any{"r4"}, nil) // acknowledged before the loss: not sent again
	cn.drop()
	e3.done(nil, conn.ErrNotConnected)
	cn.Reconnect()
	// After conn.ResumeDelay: line 3 again, then line 5.
	if r := cn.next(t); r.body != `["message",3]` {
		t.Fatalf("after the reconnect %s was sent first, want line 3", r.body)
	} else {
		r.done([]any{"r3"}, nil)
	}
	e5 := cn.next(t)
	if e5.body != `["message",5]` {
		t.Fatalf("then %s, want line 5", e5.body)
	}
	e5.done([]any{"r5"}, nil)
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if out, want := stdout.String(), "\"r1\"\n\"r2\"\n\"r3\"\n\"r4\"\n\"r5\"\n"; out != want {
		t.Errorf("replies %q, want %q in input order", out, want)
	}
	if !strings.Contains(stderr.String(), "1 line(s) were sent again") {
		t.Errorf("stderr %q does not say that one line went again", stderr.String())
	}
}
