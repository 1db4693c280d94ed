package serve

import (
	"bufio"
	"net"
	"net/http"
	"os"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// fullListener fails its next accepts as a process out of open files does.
type fullListener struct {
	net.Listener
	full atomic.Int32
}

func (l *fullListener) Accept() (net.Conn, error) {
	if l.full.Add(-1) >= 0 {
		return nil, &net.OpError{Op: "accept", Net: "tcp", Err: os.NewSyscallError("accept4", syscall.EMFILE)}
	}
	return l.Listener.Accept()
}

// Out of open files, the waiting client gets a 503 with Retry-After at
// once (it hung until its own timeout), it is counted, and the next
// client is accepted as usual.
func TestShedListenerAnswersWhenOutOfFiles(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fl := &fullListener{Listener: inner}
	fl.full.Store(1)
	var shed atomic.Int32
	l := newShedListener(fl, true, func() { shed.Add(1) })
	defer l.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			t.Error(err)
		}
		accepted <- c
	}()

	refused, err := net.Dial("tcp", inner.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer refused.Close()
	_ = refused.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := refused.Write([]byte("GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(refused), nil)
	if err != nil {
		t.Fatalf("no answer for the client the process had no file for: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("answer %s, Retry-After %q: want 503 with Retry-After", resp.Status, resp.Header.Get("Retry-After"))
	}
	if shed.Load() != 1 {
		t.Fatalf("%d refusals counted, want 1", shed.Load())
	}

	next, err := net.Dial("tcp", inner.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer next.Close()
	select {
	case c := <-accepted:
		if c == nil {
			t.Fatal("the next client was not accepted")
		}
		c.Close()
	case <-time.After(5 * time.Second):
		t.Fatal("the next client was not accepted within 5 s")
	}
}
