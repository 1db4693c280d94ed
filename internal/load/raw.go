package load

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// Raw is a lean Socket.IO v4 client over one websocket, speaking the text
// frames directly (Engine.IO v4: "0{...}" open, "2"/"3" ping/pong, "4" +
// a Socket.IO packet: "40" connect, "42[...]" event). It joins the main
// namespace "/" only. The load generator uses it rather than the Socket.IO
// library so that the client side costs little and is the same for every
// server under test.
type Raw struct {
	ws      *websocket.Conn
	wmu     sync.Mutex
	onEvent func(data []byte, at time.Time)

	joined chan struct{}
	done   chan struct{} // closed when the reader ends
	err    error         // why the reader ended; read after done
}

// wsURL turns http://host:port/ into the Engine.IO websocket endpoint.
func wsURL(base string) (string, error) {
	u, err := url.Parse(base)
	if err != nil {
		return "", err
	}
	switch u.Scheme {
	case "http", "ws":
		u.Scheme = "ws"
	case "https", "wss":
		u.Scheme = "wss"
	default:
		return "", fmt.Errorf("unsupported URL scheme %q", u.Scheme)
	}
	u.Path = "/socket.io/"
	u.RawQuery = "EIO=4&transport=websocket"
	return u.String(), nil
}

var dialer = websocket.Dialer{HandshakeTimeout: 10 * time.Second, ReadBufferSize: 16 << 10, WriteBufferSize: 4 << 10}

// rejoinAfter is how long Dial waits for the server to answer the
// namespace CONNECT before sending it again: the zishang520 server can
// lose a CONNECT that arrives right after the open packet (docs/LIBRARY.md: the lost first packet).
const rejoinAfter = 2 * time.Second

// DialRaw connects to base (http://host:port) and joins "/". onEvent, when
// set, gets the body of every event packet (what follows "42") and the time
// it was read; it runs on the reading goroutine and must not keep data.
func DialRaw(ctx context.Context, base string, onEvent func(data []byte, at time.Time)) (*Raw, error) {
	return DialRawAuth(ctx, base, "", onEvent)
}

// DialRawAuth is DialRaw with auth, a JSON object, sent in the CONNECT
// (sio-serve gives a client that asks with {"sio_offsets":true} the
// events it missed when it comes back, numbered as sio-pub and sio-sub get
// them).
func DialRawAuth(ctx context.Context, base, auth string, onEvent func(data []byte, at time.Time)) (*Raw, error) {
	return dialRawWith(ctx, &dialer, base, auth, onEvent)
}

// dialRawWith is DialRawAuth through d (the scale mode's dialers bind a
// source address and keep small buffers).
func dialRawWith(ctx context.Context, d *websocket.Dialer, base, auth string, onEvent func(data []byte, at time.Time)) (*Raw, error) {
	join := []byte("40" + auth)
	u, err := wsURL(base)
	if err != nil {
		return nil, err
	}
	ws, _, err := d.DialContext(ctx, u, nil)
	if err != nil {
		return nil, err
	}
	c := &Raw{ws: ws, onEvent: onEvent, joined: make(chan struct{}), done: make(chan struct{})}
	// The first frame is the Engine.IO open packet.
	if dl, ok := ctx.Deadline(); ok {
		_ = ws.SetReadDeadline(dl)
	}
	_, msg, err := ws.ReadMessage()
	if err != nil {
		ws.Close()
		return nil, fmt.Errorf("read open packet: %w", err)
	}
	if len(msg) == 0 || msg[0] != '0' {
		ws.Close()
		return nil, fmt.Errorf("expected an open packet, got %.40q", msg)
	}
	_ = ws.SetReadDeadline(time.Time{})
	go c.read()
	if err := c.write(join); err != nil {
		ws.Close()
		return nil, err
	}
	t := time.NewTicker(rejoinAfter)
	defer t.Stop()
	for {
		select {
		case <-c.joined:
			return c, nil
		case <-c.done:
			return nil, fmt.Errorf("connection closed before joining: %w", c.err)
		case <-ctx.Done():
			ws.Close()
			return nil, ctx.Err()
		case <-t.C:
			if err := c.write(join); err != nil {
				ws.Close()
				return nil, err
			}
		}
	}
}

func (c *Raw) write(b []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.ws.WriteMessage(websocket.TextMessage, b)
}

// Send writes one whole Engine.IO text frame (for an event, "42[...]").
func (c *Raw) Send(frame []byte) error { return c.write(frame) }

// Done is closed when the connection ended.
func (c *Raw) Done() <-chan struct{} { return c.done }

// Err tells why the connection ended, once Done is closed.
func (c *Raw) Err() error { return c.err }

// Close closes the websocket without a goodbye.
func (c *Raw) Close() { c.ws.Close() }

func (c *Raw) read() {
	defer close(c.done)
	var buf bytes.Buffer
	joined := false
	for {
		_, r, err := c.ws.NextReader()
		if err != nil {
			c.err = err
			return
		}
		buf.Reset()
		if _, err := buf.ReadFrom(r); err != nil {
			c.err = err
			return
		}
		at := time.Now()
		m := buf.Bytes()
		if len(m) == 0 {
			continue
		}
		switch m[0] {
		case '2': // ping
			if err := c.write([]byte("3")); err != nil {
				c.err = err
				return
			}
		case '1': // close
			c.err = io.EOF
			return
		case '4':
			if len(m) < 2 {
				continue
			}
			switch m[1] {
			case '2':
				if c.onEvent != nil {
					c.onEvent(m[2:], at)
				}
			case '0':
				if !joined {
					joined = true
					close(c.joined)
				}
			case '4':
				c.err = fmt.Errorf("connect refused: %s", m[2:])
				return
			case '1':
				c.err = errors.New("server disconnected the namespace")
				return
			}
		}
	}
}

// The event every publisher sends has one string argument,
// "P S T xxx…": publisher number, sequence number, send time in Unix
// nanoseconds, padded with x to the frame size asked for.
const eventPrefix = `42["m","`

// appendEvent appends a whole event frame of about size bytes.
func appendEvent(b []byte, pub, seq int, ts int64, size int) []byte {
	start := len(b)
	b = append(b, eventPrefix...)
	b = strconv.AppendInt(b, int64(pub), 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, int64(seq), 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, ts, 10)
	b = append(b, ' ')
	for len(b)-start < size-2 {
		b = append(b, 'x')
	}
	return append(b, `"]`...)
}

// parseEvent reads the numbers back from an event body (the frame
// without "42"), as a relay may have re-encoded it.
func parseEvent(data []byte) (pub, seq int, ts int64, ok bool) {
	i := bytes.Index(data, []byte(`,"`))
	if i < 0 {
		return 0, 0, 0, false
	}
	s := data[i+2:]
	if j := bytes.IndexByte(s, '"'); j >= 0 {
		s = s[:j]
	}
	var n [3]int64
	for k := range n {
		d := 0
		for d < len(s) && s[d] >= '0' && s[d] <= '9' {
			n[k] = n[k]*10 + int64(s[d]-'0')
			d++
		}
		if d == 0 || d > 19 || (d < len(s) && s[d] != ' ') || (d == len(s) && k < 2) {
			return 0, 0, 0, false
		}
		s = s[d:]
		if len(s) > 0 {
			s = s[1:]
		}
	}
	return int(n[0]), int(n[1]), n[2], true
}
