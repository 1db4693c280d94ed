package serve

import (
	"errors"
	"io"
	"net"
	"os"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// shedListener answers the clients the process has no file for. Out of
// open files (ulimit -n), accept fails and net/http retries after a pause:
// the connections the kernel completed wait in the listen backlog, and
// their clients hung until their own handshake timeout (10 s for sio-sub,
// 20 s for browsers), where Node's server resets them at once
// (docs/BENCHMARKS.md, scale). shedListener keeps one descriptor in
// reserve (/dev/null): out of files, it lets it go, accepts the waiting
// connection with it, answers 503 with Retry-After (plain HTTP only; a TLS
// client is closed), closes it and takes the reserve again. Clients then
// retry, as after --max-conns.
type shedListener struct {
	net.Listener
	plain bool // answer 503; else (TLS) only close
	shed  func()

	mu    sync.Mutex
	spare *os.File // nil while it could not be taken back
}

// newShedListener wraps ln; shed is called for each connection refused
// for want of a file.
func newShedListener(ln net.Listener, plain bool, shed func()) *shedListener {
	l := &shedListener{Listener: ln, plain: plain, shed: shed}
	l.spare, _ = os.Open(os.DevNull)
	return l
}

// outOfFiles reports whether err is accept failing for want of a file.
func outOfFiles(err error) bool {
	return errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE)
}

func (l *shedListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err == nil || !outOfFiles(err) || !l.shedOne() {
			return c, err
		}
	}
}

// busy is the answer to a connection refused for want of a file.
var busy = func() string {
	body := "sio-serve: out of open files (ulimit -n); try again later\n"
	return "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\nRetry-After: 5\r\n" +
		"Connection: close\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body
}()

// shedOne refuses one waiting connection with the reserve descriptor. It
// reports false when it could not (no reserve: accept's error stands, and
// net/http waits before it tries again).
func (l *shedListener) shedOne() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.spare == nil {
		if l.spare, _ = os.Open(os.DevNull); l.spare == nil {
			return false
		}
	}
	_ = l.spare.Close()
	l.spare = nil
	c, err := l.Listener.Accept()
	if err == nil {
		if l.shed != nil {
			l.shed() // counted before the client can read the answer
		}
		if l.plain {
			// The request first (closed with it unread, the connection
			// would be reset before the client read the answer).
			_ = c.SetDeadline(time.Now().Add(100 * time.Millisecond))
			var req [4 << 10]byte
			_, _ = c.Read(req[:])
			_, _ = io.WriteString(c, busy)
		}
		_ = c.Close()
	}
	l.spare, _ = os.Open(os.DevNull) // nil if another goroutine took the file meanwhile
	return err == nil
}

func (l *shedListener) Close() error {
	l.mu.Lock()
	if l.spare != nil {
		_ = l.spare.Close()
		l.spare = nil
	}
	l.mu.Unlock()
	return l.Listener.Close()
}
