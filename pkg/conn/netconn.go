package conn

import (
	"context"
	"crypto/tls"
	"net"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// netConn is the TCP connection under a websocket link (the dialer's
// NetDialContext makes it). Once the link's reader runs, it does per
// system call what the reader did per message: it tells the reader's
// consumer that everything read so far was handed on (idle), arms the read
// deadline (wait, the time the server may stay silent), and notes when the
// server was last heard. Only the reading goroutine reads it.
type netConn struct {
	net.Conn
	wait  time.Duration
	heard *atomic.Int64 // unix nanoseconds of the last read that got bytes
	idle  func()
}

func (c *netConn) Read(p []byte) (int, error) {
	if c.idle != nil {
		c.idle()
	}
	if c.wait > 0 {
		_ = c.Conn.SetReadDeadline(time.Now().Add(c.wait))
	}
	n, err := c.Conn.Read(p)
	if n > 0 && c.heard != nil {
		c.heard.Store(time.Now().UnixNano())
	}
	return n, err
}

// dialTCP is the websocket dialer's NetDialContext: a TCP connection as
// gorilla makes it, in a netConn.
func dialTCP(ctx context.Context, network, addr string) (net.Conn, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	return &netConn{Conn: c}, nil
}

// netConnOf is the netConn under raw (a link's connection: a netConn, or
// TLS over one), or nil.
func netConnOf(raw net.Conn) *netConn {
	if t, ok := raw.(*tls.Conn); ok {
		raw = t.NetConn()
	}
	nc, _ := raw.(*netConn)
	return nc
}

// direct is the gorilla connection the reader can read messages from
// itself (readMessage), or nil: long-polling, or a websocket that took
// over long-polling while messages of the handshake are still queued.
func (l *link) direct() *websocket.Conn {
	switch f := l.ws.(type) {
	case *websocket.Conn:
		return f
	case *handedOver:
		if len(f.from.in) == 0 {
			return f.ws
		}
	}
	return nil
}

// queued tells whether long-polling has messages waiting to be read.
func (l *link) queued() bool {
	switch f := l.ws.(type) {
	case *pollFrames:
		return len(f.in) > 0
	case *handedOver:
		return len(f.from.in) > 0
	}
	return false
}
