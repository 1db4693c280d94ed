// Package wsconn is an Engine.IO v4 session kept without the Socket.IO
// library: over a websocket from the start (Node and python clients with
// transports: ["websocket"], sio-pub and sio-sub with --transport
// websocket, load generators), or over long-polling and then, for most
// clients, the websocket they upgrade to (browsers' and Node clients'
// default; poll.go).
//
// The library keeps, for each connection, an engine socket and a
// transport with event emitters, the handshake request, a goroutine per
// timer and a socket with a task queue and its goroutine: about 46 KB per
// idle connection (docs/BENCHMARKS.md). A Conn keeps the reader's
// goroutine, one runtime timer for the heartbeat, and a small read
// buffer; a writer goroutine exists only while frames wait to be written.
//
// A Conn knows Engine.IO only: the open packet, pings, the close packet,
// messages. What a message means is its Handler's business.
package wsconn

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	ws "github.com/gorilla/websocket"
)

// Config is what every Conn of a server shares.
type Config struct {
	PingInterval time.Duration
	PingTimeout  time.Duration
	// MaxPayload is the largest message a client may send; a larger one
	// closes its connection (as the library and Node do).
	MaxPayload int64
	// MaxQueue is how many bytes may wait for a client that does not read
	// before the stall check: with nothing written for StallTime, or more
	// than HardFactor × MaxQueue waiting, the connection is closed
	// ("slow consumer").
	MaxQueue   int64
	StallTime  time.Duration
	HardFactor int64
}

// Handler gets what happens on a Conn.
type Handler interface {
	// Message gets each Engine.IO message the client sends, in order, on
	// the reader's goroutine: text with its "4", binary as it came.
	Message(data []byte, binary bool)
	// Queued is told of the frames of each Send, before the writer can
	// take them.
	Queued(frames []Frame)
	// Flushing is told that the writer took n frames to write, Drained
	// that it wrote them all.
	Flushing(n int)
	Drained()
	// Closed is called once, when the connection is closed: reason is
	// one of Node's ("transport close", "transport error", "ping timeout",
	// "forced close", "parse error") or "slow consumer".
	Closed(reason string)
}

// Frame is one websocket message to send: an Engine.IO text message (its
// "4" included) or a binary one.
type Frame struct {
	Data   []byte
	Binary bool
}

// Conn is one client's session.
type Conn struct {
	cfg  *Config
	id   string
	ws   *ws.Conn
	raw  net.Conn
	addr string
	h    Handler

	mu       sync.Mutex
	next     []Frame // sent, not yet taken by the writer
	spare    []Frame // the writer's last batch, emptied, for the next
	queued   int64   // bytes in next and in the writer's hands
	active   bool    // a writer goroutine runs
	closing  bool    // Close was called: the close frame follows the writes
	closed   bool    // the connection is closed
	awaiting bool    // a ping was sent, its pong not yet read
	armed    bool    // a stall check is due
	reason   string  // why it closed
	last     int64   // unix nanoseconds of the last write done (or the start)
	beat     *time.Timer
	poll     *polling // while on long-polling (poll.go); ws and raw are nil then
	// getWriting: a long-polling GET writes frames taken from next; after
	// an upgrade the websocket's writer waits for it (poll.go).
	getWriting bool

	wmu       sync.Mutex // one frame writer at a time: batches, pongs, close replies
	closeSent atomic.Bool
	ended     chan struct{} // closed when the reader ended
}

// upgrader takes a handshake over. Reads go through a small buffer (a
// larger message is read into the pool's buffers, see readMessage);
// gorilla's write buffer is never used (frames are built here) and the
// pool keeps it from being made. Origins are checked in front of the relay.
var upgrader = ws.Upgrader{
	ReadBufferSize:  512,
	WriteBufferPool: &sync.Pool{},
	CheckOrigin:     func(*http.Request) bool { return true },
}

// Accept takes the websocket handshake req over and opens a session on it:
// the open packet is written before Accept returns, and the reader starts
// once newHandler gave the Conn's handler. On failure the response is
// already written.
func Accept(w http.ResponseWriter, req *http.Request, cfg *Config, newHandler func(*Conn) Handler) (*Conn, error) {
	conn, err := upgrader.Upgrade(w, req, nil)
	if err != nil {
		return nil, err
	}
	c := &Conn{cfg: cfg, id: NewID(), ws: conn, raw: conn.NetConn(), addr: req.RemoteAddr, ended: make(chan struct{})}
	c.last = time.Now().UnixNano()
	c.handle(conn)
	c.h = newHandler(c)
	c.Send(Frame{Data: []byte(c.openPacket(`[]`))})
	c.mu.Lock()
	c.beat = time.AfterFunc(cfg.PingInterval, c.heartbeat)
	c.mu.Unlock()
	go c.read()
	return c, nil
}

// handle sets conn's read limit and answers its pings and close frames.
func (c *Conn) handle(conn *ws.Conn) {
	conn.SetReadLimit(c.cfg.MaxPayload)
	conn.SetPingHandler(func(data string) error { return c.writeControl(ws.PongMessage, []byte(data)) })
	conn.SetCloseHandler(func(code int, _ string) error {
		if c.closeSent.Swap(true) {
			return nil // the answer to ours
		}
		msg := []byte{}
		if code != ws.CloseNoStatusReceived {
			msg = ws.FormatCloseMessage(code, "")
		}
		return c.writeControl(ws.CloseMessage, msg)
	})
}

func ms(d time.Duration) string { return strconv.FormatInt(d.Milliseconds(), 10) }

// NewID returns a session or socket id: 20 characters of base64url from
// 15 random bytes, as long as the library's.
func NewID() string {
	var b [15]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// ID is the session id (the open packet's sid).
func (c *Conn) ID() string { return c.id }

// RemoteAddr is the client's address as the request had it.
func (c *Conn) RemoteAddr() string { return c.addr }

// Done is closed once the connection is closed and its reader ended.
func (c *Conn) Done() <-chan struct{} { return c.ended }

// read hands each message on until the connection fails.
func (c *Conn) read() {
	reason := "transport close"
	defer func() {
		c.end(reason)
		close(c.ended)
	}()
	for {
		mt, r, err := c.ws.NextReader()
		if err != nil {
			var ce *ws.CloseError
			if !errors.As(err, &ce) && !errors.Is(err, net.ErrClosed) && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
				reason = "transport error"
			}
			return
		}
		if mt != ws.TextMessage && mt != ws.BinaryMessage {
			continue
		}
		data, err := ReadMessage(r)
		if err != nil {
			reason = "transport error"
			return
		}
		if c.isClosed() {
			return
		}
		if mt == ws.BinaryMessage {
			c.h.Message(data, true)
			continue
		}
		if len(data) == 0 {
			reason = "parse error"
			return
		}
		switch data[0] {
		case '4':
			c.h.Message(data, false)
		case '3':
			c.pong()
		case '1':
			return // the client closes: "transport close"
		case '0', '5', '6':
			// open, upgrade, noop: nothing to do on a websocket
		default:
			// a ping (the server pings in v4), an error or no packet type
			reason = "parse error"
			return
		}
	}
}

var readBufs = sync.Pool{New: func() any { b := make([]byte, 0, 4<<10); return &b }}

// ReadMessage reads a message into a slice of its own size (the
// library's buffers start reading at 512 bytes and grow by doubling).
func ReadMessage(r io.Reader) ([]byte, error) {
	bp := readBufs.Get().(*[]byte)
	defer readBufs.Put(bp)
	b := (*bp)[:0]
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	if cap(b) <= 64<<10 {
		*bp = b[:0]
	}
	return append([]byte(nil), b...), nil
}

// heartbeat runs on the timer: a ping every PingInterval after the last
// pong, and the connection closed when a pong is PingTimeout late. The
// mark that a pong is due is set before the ping is written, so a pong
// read at once finds it (the library armed its timer after the ping was
// out, docs/ARCHITECTURE.md).
func (c *Conn) heartbeat() {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	if c.awaiting {
		polling := c.poll != nil
		c.mu.Unlock()
		if polling {
			c.end("ping timeout") // as Node: no GET would take a close packet
		} else {
			c.Close("ping timeout")
		}
		return
	}
	c.awaiting = true
	c.beat.Reset(c.cfg.PingTimeout)
	c.mu.Unlock()
	c.Send(Frame{Data: ping})
}

var ping = []byte("2")

// pong takes the client's answer to a ping.
func (c *Conn) pong() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.awaiting && !c.closed {
		c.awaiting = false
		c.beat.Reset(c.cfg.PingInterval)
	}
}

func (c *Conn) isClosed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed
}

// Send queues frames to be written in order, by a writer goroutine that
// runs while frames wait. Frames sent to a closed connection are dropped.
func (c *Conn) Send(frames ...Frame) {
	var n int64
	for _, f := range frames {
		n += int64(len(f.Data)) + 1
	}
	c.mu.Lock()
	if c.closed || c.closing {
		c.mu.Unlock()
		return
	}
	c.next = append(c.next, frames...)
	// Queued reads them where they were copied: frames itself then stays
	// on its caller's stack.
	c.h.Queued(c.next[len(c.next)-len(frames):])
	c.queued += n
	start := !c.active && c.poll == nil && !c.getWriting
	if c.poll != nil {
		c.poll.signal() // a GET takes them
	} else if start {
		c.active = true
	}
	stalled := c.cfg.MaxQueue > 0 && c.queued > c.cfg.MaxQueue && c.stalledLocked()
	c.mu.Unlock()
	if stalled {
		go c.Close("slow consumer")
		return
	}
	if start {
		go c.writeLoop()
	}
}

// Queued is how many bytes wait to be written.
func (c *Conn) Queued() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.queued
}

// stalledLocked reports whether a client with more than MaxQueue waiting
// is to be closed now; else it arms a check for when it would be. c.mu is
// held.
func (c *Conn) stalledLocked() bool {
	idle := time.Duration(time.Now().UnixNano() - c.last)
	if idle >= c.cfg.StallTime || c.queued > c.cfg.HardFactor*c.cfg.MaxQueue {
		return true
	}
	if !c.armed {
		c.armed = true
		time.AfterFunc(c.cfg.StallTime-idle, func() {
			c.mu.Lock()
			c.armed = false
			stalled := !c.closed && c.queued > c.cfg.MaxQueue && c.stalledLocked()
			c.mu.Unlock()
			if stalled {
				c.Close("slow consumer")
			}
		})
	}
	return false
}

// writeLoop writes what was sent until nothing is left.
func (c *Conn) writeLoop() {
	for {
		c.mu.Lock()
		batch := c.next
		if len(batch) == 0 || c.closed {
			c.active = false
			if batch == nil && !c.closed {
				c.next, c.spare = c.spare, nil // the next Send appends to it
			}
			closing := c.closing && !c.closed
			c.mu.Unlock()
			if closing {
				c.sendClose()
			}
			return
		}
		c.next, c.spare = c.spare, nil
		c.mu.Unlock()
		c.h.Flushing(len(batch))
		n, err := c.writeBatch(batch)
		if err != nil {
			c.mu.Lock()
			c.active = false
			c.mu.Unlock()
			c.end("transport error")
			return
		}
		clear(batch)
		c.mu.Lock()
		c.queued -= n
		c.last = time.Now().UnixNano()
		if cap(batch) <= maxSpare && !c.closed {
			c.spare = batch[:0]
		}
		c.mu.Unlock()
		c.h.Drained()
	}
}

// maxSpare is the most frames a batch's array may hold to be kept for the
// next (a burst's larger array is let go).
const maxSpare = 256

var batchBufs = sync.Pool{New: func() any { b := make([]byte, 0, 32<<10); return &b }}

// maxCopy is the largest payload copied into a batch's buffer; a larger
// one is written from where it lies.
const maxCopy = 16 << 10

// writeBatch writes a batch, and returns the bytes it counted for in
// queued.
func (c *Conn) writeBatch(frames []Frame) (int64, error) {
	var n int64
	for _, f := range frames {
		n += int64(len(f.Data)) + 1
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return n, WriteFrames(c.raw, frames)
}

// WriteFrames frames messages and writes them to w with one call: small
// ones copied into one buffer, large ones written from where they lie.
// The caller keeps other writers out.
func WriteFrames(w net.Conn, frames []Frame) error {
	bp := batchBufs.Get().(*[]byte)
	defer batchBufs.Put(bp)
	buf := (*bp)[:0]
	var vec net.Buffers
	for _, f := range frames {
		buf = AppendHeader(buf, !f.Binary, len(f.Data))
		if len(f.Data) <= maxCopy {
			buf = append(buf, f.Data...)
			continue
		}
		vec = append(vec, buf, f.Data)
		buf = buf[len(buf):len(buf):len(buf)] // what follows goes elsewhere
	}
	if vec == nil {
		if cap(buf) <= 1<<20 {
			*bp = buf[:0] // keep what it grew to
		}
		_, err := w.Write(buf)
		return err
	}
	if len(buf) > 0 {
		vec = append(vec, buf)
	}
	_, err := vec.WriteTo(w)
	return err
}

// AppendHeader appends a server's (unmasked) frame header for a whole
// message of n bytes.
func AppendHeader(b []byte, text bool, n int) []byte {
	op := byte(0x82) // FIN, binary
	if text {
		op = 0x81
	}
	switch {
	case n < 126:
		return append(b, op, byte(n))
	case n <= 0xffff:
		return binary.BigEndian.AppendUint16(append(b, op, 126), uint16(n))
	default:
		return binary.BigEndian.AppendUint64(append(b, op, 127), uint64(n))
	}
}

// closeWait is how long closing waits for the client's answer to the
// close frame (and for a write in progress).
const closeWait = time.Second

// writeControl writes a control frame (payload at most 125 bytes).
func (c *Conn) writeControl(op int, data []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return WriteControl(c.raw, op, data)
}

// WriteControl writes a control frame (payload at most 125 bytes) to w,
// giving up after closeWait (a client that stopped reading does not hold
// it longer). The caller keeps other writers out.
func WriteControl(w net.Conn, op int, data []byte) error {
	f := append([]byte{0x80 | byte(op), byte(len(data))}, data...)
	_ = w.SetWriteDeadline(time.Now().Add(closeWait))
	_, err := w.Write(f)
	_ = w.SetWriteDeadline(time.Time{})
	return err
}

// Close ends the session as Node's server does: what was sent before is
// written, then a close frame without a status; the connection is closed
// when the client answers, or after closeWait. reason is what the
// Handler's Closed gets.
func (c *Conn) Close(reason string) {
	c.mu.Lock()
	if c.closing || c.closed {
		c.mu.Unlock()
		return
	}
	c.closing = true
	c.reason = reason
	active := c.active || c.getWriting // a writer comes: it sends the close frame
	p := c.poll
	c.mu.Unlock()
	if p != nil {
		p.signal() // the GET waiting takes what is left and the close packet
	} else if !active {
		c.sendClose()
	}
	time.AfterFunc(closeWait, func() { c.end(reason) })
}

// sendClose writes the close frame, once.
func (c *Conn) sendClose() {
	if c.closeSent.Swap(true) {
		return
	}
	if c.writeControl(ws.CloseMessage, nil) != nil {
		c.end("transport error")
	}
}

// end closes the connection and tells the handler, once. A reason given
// to Close wins over what the reader saw after it.
func (c *Conn) end(reason string) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	if c.reason != "" {
		reason = c.reason
	}
	c.next, c.spare = nil, nil
	if c.beat != nil {
		c.beat.Stop()
	}
	conn, p := c.ws, c.poll
	c.mu.Unlock()
	if conn != nil {
		_ = conn.Close()
	} else {
		close(c.ended) // no reader ever ran
	}
	if p != nil {
		p.signal() // the GET waiting answers
	}
	c.h.Closed(reason)
}
