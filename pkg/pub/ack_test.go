package pub

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sio-tools/sio/pkg/conn"
)

// faultConn is a real connection whose sends fail when fault says so:
// fault gets the event's body and how many times it was sent (from 1),
// and returns the error Send returns instead of sending, or nil to send.
type faultConn struct {
	*conn.Conn
	fault func(c *conn.Conn, body string, attempt int) error

	mu    sync.Mutex
	sends map[string]int
}

func (f *faultConn) Send(body []byte, done func([]any, error)) error {
	f.mu.Lock()
	f.sends[string(body)]++
	n := f.sends[string(body)]
	f.mu.Unlock()
	if err := f.fault(f.Conn, string(body), n); err != nil {
		return err
	}
	return f.Conn.Send(body, done)
}

// SendAll sends the bodies one at a time, as Send does, up to the first
// that fault fails.
func (f *faultConn) SendAll(bodies [][]byte, done []func([]any, error)) (int, error) {
	for i, body := range bodies {
		f.mu.Lock()
		f.sends[string(body)]++
		n := f.sends[string(body)]
		f.mu.Unlock()
		if err := f.fault(f.Conn, string(body), n); err != nil {
			return i, err
		}
		if sent, err := f.Conn.SendAll(bodies[i:i+1], done[i:i+1]); err != nil {
			return i + sent, err
		}
	}
	return len(bodies), nil
}

// runAcker sends the text lines with --ack over a connection to base
// with faults, as Run does.
func runAcker(t *testing.T, base string, lines []string, fault func(*conn.Conn, string, int) error) (string, error) {
	t.Helper()
	c := config(t, base, "--ack", "--ack-timeout", ackTimeout.String())
	cn, err := conn.Dial(context.Background(), conn.Options{URL: c.URL, Reconnect: true})
	if err != nil {
		t.Fatal(err)
	}
	defer cn.Close()
	lim := limit{max: c.MaxBytes, header: cn.HeaderSize(), what: "--max-bytes"}
	items := make(chan item, len(lines))
	for i, l := range lines {
		it, err := encode(c, lim, i+1, []byte(l))
		if err != nil {
			t.Fatal(err)
		}
		items <- it
	}
	close(items)
	var stderr lockedWriter
	a := &acker{cn: &faultConn{Conn: cn, fault: fault, sends: map[string]int{}}, cfg: c, stderr: &stderr, stdout: io.Discard}
	err = a.run(context.Background(), items, &skips{stderr: io.Discard})
	return stderr.String(), err
}

// receive waits for the text lines "1" to "n", in order; a line seen
// before may come again (sent again after a reconnect).
func receive(t *testing.T, got <-chan string, n int) {
	t.Helper()
	for want := 1; want <= n; {
		select {
		case v := <-got:
			var s string
			_ = json.Unmarshal([]byte(v), &s)
			line, err := strconv.Atoi(s)
			switch {
			case err != nil || line > want:
				t.Fatalf("received %s, want line %d", v, want)
			case line == want:
				want++
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("line %d not received", want)
		}
	}
}

var fiveLines = []string{"1", "2", "3", "4", "5"}

const ackTimeout = 2 * time.Second

// A send that fails for the connection (a write error) is a lost
// connection: the event goes again after the reconnect, in order, as for
// "not connected".
func TestAckSendConnectionErrorResends(t *testing.T) {
	base := startRelay(t)
	got := subscribe(t, base)
	stderr, err := runAcker(t, base, fiveLines, func(c *conn.Conn, body string, attempt int) error {
		if body == `["message","3"]` && attempt == 1 {
			c.Reconnect() // the link dies under the write
			return &net.OpError{Op: "write", Net: "tcp", Err: syscall.ECONNRESET}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("run: %v (stderr %q)", err, stderr)
	}
	receive(t, got, len(fiveLines))
}

// A send that fails for the event itself, here when it goes again after
// a reconnect, is reported at once with its error: not dropped, which
// left it to wait for its acknowledgement twice --ack-timeout and end
// with "no acknowledgement".
func TestAckResendErrorIsReported(t *testing.T) {
	base := startRelay(t)
	boom := errors.New("cannot encode line 3")
	start := time.Now()
	stderr, err := runAcker(t, base, fiveLines, func(c *conn.Conn, body string, attempt int) error {
		switch {
		case body != `["message","3"]`:
			return nil
		case attempt == 1:
			c.Reconnect()
			return conn.ErrNotConnected
		default:
			return boom
		}
	})
	if err == nil || !strings.Contains(err.Error(), "line 3: "+boom.Error()) {
		t.Fatalf("run: %v (stderr %q), want line 3's error", err, stderr)
	}
	if d := time.Since(start); d > conn.ResumeDelay+2*ackTimeout {
		t.Errorf("the error took %v: it waited for the acknowledgement", d)
	}
}
