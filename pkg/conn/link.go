package conn

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// link is one Engine.IO v4 connection over a websocket. Every frame is
// written under wmu, so that a packet with attachments goes out whole and
// a pong is never cut into another frame. One goroutine reads it (read).
type link struct {
	ws   frames // a websocket, long-polling (pollFrames), or a websocket that took over long-polling (handedOver)
	open openPacket
	// msgpack: Socket.IO packets go as msgpack binary messages (toMsgpack).
	msgpack bool
	// raw is the connection under a websocket, which writeAll writes
	// frames to itself (frame.go); nil for long-polling.
	raw net.Conn
	// nc is the TCP connection under raw, which times the reads
	// (netconn.go); nil for long-polling, or a connection not dialled by
	// dialTCP.
	nc *netConn

	wmu  sync.Mutex
	wbuf []byte // the frames of one writeAll, kept for the next

	closeOnce sync.Once
	mu        sync.Mutex
	reason    string // why it was closed, when it was closed by us
}

// openPacket is the server's Engine.IO handshake.
type openPacket struct {
	Sid          string `json:"sid"`
	PingInterval int64  `json:"pingInterval"` // ms
	PingTimeout  int64  `json:"pingTimeout"`  // ms
	MaxPayload   int64  `json:"maxPayload"`
}

// writeWait bounds one frame's write: a server that stopped reading for
// that long is given up on (the connection is made anew).
const writeWait = 30 * time.Second

// openWait bounds the wait for the open packet after the upgrade.
const openWait = 10 * time.Second

// dialError is a failed dial; permanent when trying again cannot help
// (no such host, a certificate that is not trusted, an HTTP answer that
// is not Socket.IO's).
type dialError struct {
	msg       string
	permanent bool
}

func (e *dialError) Error() string { return e.msg }

// dialLink opens an Engine.IO websocket connection to endpoint (a ws:// or
// wss:// URL with the Engine.IO query) and reads the open packet.
func dialLink(ctx context.Context, endpoint string, d *websocket.Dialer, header http.Header) (*link, error) {
	ws, resp, err := d.DialContext(ctx, endpoint, header)
	if err != nil {
		return nil, classifyDial(err, resp, endpoint)
	}
	return openLink(ws)
}

// dialPollingLink opens an Engine.IO connection over long-polling. With
// d, it moves it to a websocket at once if the server offers one
// (upgrade.go).
func dialPollingLink(ctx context.Context, endpoint string, client *http.Client, header http.Header, d *websocket.Dialer) (*link, error) {
	p, err := dialPolling(ctx, pollingEndpoint(endpoint), client, header)
	if err != nil {
		return nil, err
	}
	if d != nil {
		ws, unknown := upgradeTo(ctx, p, endpoint, d, header)
		if ws != nil {
			return openLink(ws)
		}
		if unknown {
			// Websockets pass, but reach a server that does not hold the
			// session (no sticky sessions): long-polling would fare no
			// better. A websocket of its own needs no other request.
			p.Close()
			return dialLink(ctx, endpoint, d, header)
		}
	}
	go p.poll()
	return openLink(p)
}

// openLink reads a new connection's open packet.
func openLink(ws frames) (*link, error) {
	_ = ws.SetReadDeadline(time.Now().Add(openWait))
	typ, msg, err := ws.ReadMessage()
	if err != nil {
		ws.Close()
		return nil, &dialError{msg: "no Engine.IO open packet: " + describe(err)}
	}
	if typ != websocket.TextMessage || len(msg) == 0 || msg[0] != '0' {
		ws.Close()
		return nil, &dialError{msg: fmt.Sprintf("not a Socket.IO v4 server? the first message was %.40q", msg), permanent: true}
	}
	l := &link{ws: ws, raw: rawConn(ws)}
	l.nc = netConnOf(l.raw)
	if err := json.Unmarshal(msg[1:], &l.open); err != nil {
		ws.Close()
		return nil, &dialError{msg: "bad Engine.IO open packet: " + err.Error(), permanent: true}
	}
	return l, nil
}

// classifyDial says why a websocket dial failed, and whether trying again
// could help.
func classifyDial(err error, resp *http.Response, endpoint string) error {
	if resp != nil {
		path := "/socket.io/"
		if u, perr := url.Parse(endpoint); perr == nil {
			path = u.Path
		}
		switch {
		case resp.StatusCode == http.StatusServiceUnavailable:
			return &dialError{msg: fmt.Sprintf("the server is full or stopping (%s answered %s)", path, resp.Status)}
		case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
			return &dialError{msg: fmt.Sprintf("refused: %s answered %s", path, resp.Status), permanent: true}
		case resp.StatusCode >= 400 && resp.StatusCode < 500 && resp.StatusCode != http.StatusRequestTimeout && resp.StatusCode != http.StatusTooManyRequests:
			return &dialError{msg: fmt.Sprintf("not a Socket.IO v4 server? %s answered %s", path, resp.Status), permanent: true}
		default:
			return &dialError{msg: fmt.Sprintf("%s answered %s", path, resp.Status)}
		}
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) && dnsErr.IsNotFound {
		return &dialError{msg: describe(err), permanent: true}
	}
	var unknownCA x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var invalid x509.CertificateInvalidError
	var verify *tls.CertificateVerificationError
	if errors.As(err, &unknownCA) || errors.As(err, &hostErr) || errors.As(err, &invalid) || errors.As(err, &verify) {
		return &dialError{msg: "TLS: " + describe(err) + " (see --cacert, or --insecure)", permanent: true}
	}
	var recErr tls.RecordHeaderError
	if errors.As(err, &recErr) {
		return &dialError{msg: "TLS: the server does not speak TLS (try http:// or ws://)", permanent: true}
	}
	return &dialError{msg: describe(err)}
}

// pingWait is how long the link may go without a frame from the server
// before it counts as dead: the server pings every PingInterval and waits
// PingTimeout for the pong, as the official client reckons.
func (l *link) pingWait() time.Duration {
	d := time.Duration(l.open.PingInterval+l.open.PingTimeout) * time.Millisecond
	if d <= 0 {
		d = 45 * time.Second
	}
	return d
}

// writeText writes one Engine.IO text message.
func (l *link) writeText(msg []byte) error {
	_, err := l.writeAll([]out{{typ: websocket.TextMessage, body: msg}})
	return err
}

// engineMessage is the head of a Socket.IO packet as an Engine.IO
// message.
var engineMessage = []byte{'4'}

// writePacket writes a Socket.IO packet ("4" + text) and its attachments,
// all with one write.
func (l *link) writePacket(text []byte, bins [][]byte) error {
	if l.msgpack {
		m, err := toMsgpack(text, bins)
		if err != nil {
			return err
		}
		_, err = l.writeAll([]out{{typ: websocket.BinaryMessage, body: m}})
		return err
	}
	msgs := make([]out, 0, 1+len(bins))
	msgs = append(msgs, out{typ: websocket.TextMessage, head: engineMessage, body: text})
	for _, b := range bins {
		msgs = append(msgs, out{typ: websocket.BinaryMessage, body: b})
	}
	_, err := l.writeAll(msgs)
	return err
}

// writeAll writes msgs in order: over a websocket their frames with one
// write, over long-polling as few POSTs as the server's maxPayload
// allows. It returns how many were written whole (the others did not
// reach the network whole: a server drops a frame cut short with the
// connection).
func (l *link) writeAll(msgs []out) (int, error) {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	if p, ok := l.ws.(*pollFrames); ok {
		limit := int(l.open.MaxPayload)
		if limit <= 0 {
			limit = 1e6 // Engine.IO's default
		}
		_ = p.SetWriteDeadline(time.Now().Add(writeWait))
		return p.postAll(msgs, limit)
	}
	if l.raw == nil {
		for i, m := range msgs {
			payload := m.body
			if len(m.head) > 0 {
				payload = append(append(make([]byte, 0, m.size()), m.head...), m.body...)
			}
			_ = l.ws.SetWriteDeadline(time.Now().Add(writeWait))
			if err := l.ws.WriteMessage(m.typ, payload); err != nil {
				return i, err
			}
		}
		return len(msgs), nil
	}
	buf := l.wbuf[:0]
	for _, m := range msgs {
		buf = appendFrame(buf, m)
	}
	if cap(buf) <= maxKeptBuffer {
		l.wbuf = buf[:0]
	}
	_ = l.raw.SetWriteDeadline(time.Now().Add(writeWait))
	n, err := l.raw.Write(buf)
	if err != nil {
		return wholeFrames(msgs, n), err
	}
	return len(msgs), nil
}

// close ends the link, saying why (the first reason counts). The reader
// then returns.
func (l *link) close(reason string) {
	l.closeOnce.Do(func() {
		l.mu.Lock()
		l.reason = reason
		l.mu.Unlock()
		// A close frame, unless a write is stuck (a server that stopped
		// reading): closing must not wait for it.
		if l.wmu.TryLock() {
			_ = l.ws.SetWriteDeadline(time.Now().Add(time.Second))
			_ = l.ws.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""))
			l.wmu.Unlock()
		}
		l.ws.Close()
	})
}

// closedReason is the reason given to close, if it was called.
func (l *link) closedReason() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.reason
}

// readReason names why reading failed, as the official client does.
func readReason(err error) string {
	var ce *websocket.CloseError
	var ne net.Error // gorilla's own errors do not unwrap
	switch {
	case errors.As(err, &ce):
		return "transport close"
	case errors.Is(err, os.ErrDeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "ping timeout"
	case errors.Is(err, net.ErrClosed), strings.Contains(err.Error(), "EOF"):
		return "transport close"
	}
	return "transport error"
}

// describe drops the "dial tcp 127.0.0.1:1:" and URL prefixes of an error.
func describe(err error) string {
	for {
		switch e := err.(type) {
		case *net.OpError:
			err = e.Err
		case *url.Error:
			err = e.Err
		default:
			return err.Error()
		}
	}
}
