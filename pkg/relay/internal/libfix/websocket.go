package libfix

import (
	"bufio"
	"errors"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	ws "github.com/gorilla/websocket"
	"github.com/sio-tools/sio/pkg/relay/internal/wsconn"
	"github.com/zishang520/socket.io/parsers/engine/v3/packet"
	"github.com/zishang520/socket.io/servers/engine/v3"
	"github.com/zishang520/socket.io/servers/engine/v3/transports"
	"github.com/zishang520/socket.io/v3/pkg/types"
)

// useOwnWebsocket makes eio's websocket connections use wsTransport.
// take, when not nil, is offered each text message first (see wsTransport).
// ups learns of the upgrades whose probe was answered.
func useOwnWebsocket(eio engine.Server, take func(sid string, msg []byte) bool, ups *upgrades) {
	eio.TransportsByName()[transports.WEBSOCKET] = wsCtor{&transports.WebSocketBuilder{}, take, ups}
}

// wsCtor builds wsTransports; it is the library's websocket builder in all
// else.
type wsCtor struct {
	*transports.WebSocketBuilder
	take func(sid string, msg []byte) bool
	ups  *upgrades
}

func (c wsCtor) New(ctx *types.HttpContext) transports.Transport {
	w := &wsTransport{Transport: transports.MakeTransport(), take: c.take, ups: c.ups}
	w.Prototype(w)
	w.Construct(ctx)
	return w
}

// closeWait is how long closing a connection waits for a write in
// progress (a client that stopped reading does not hold it longer).
const closeWait = time.Second

// wsTransport is the relay's Engine.IO websocket transport. It replaces
// the library's, which writes each packet with a write(2) of its own from
// a goroutine and a task queue that every connection keeps for its whole
// life (docs/LIBRARY.md: a 1,024-slot queue and a goroutine per idle
// connection). Here the packets the engine hands over at once are framed
// into one buffer and written with one system call, by a goroutine that
// exists only while there is something to write.
//
// A text message that take accepts does not go to the engine: the relay
// handled it (relay.passthrough).
//
// The engine's protocol is kept: Send makes the transport unwritable, and
// when the batch is written it emits "drain", becomes writable and emits
// "ready" (the engine then hands over what it queued meanwhile).
type wsTransport struct {
	transports.Transport

	conn *types.WebSocketConn
	raw  net.Conn
	idle time.Duration
	take func(sid string, msg []byte) bool
	ups  *upgrades
	sid  atomic.Pointer[string] // read by the reader, set by the engine
	// attachments is how many binary attachments the client still owes
	// (guardedTransport sets it): a text message until then goes to the
	// engine, where the guard refuses it.
	attachments atomic.Int32

	mu      sync.Mutex
	next    []*packet.Packet // handed over, not yet taken by the writer
	active  bool             // a writer goroutine runs
	closing bool             // DoClose was called
	closed  bool             // the connection is closed

	wmu sync.Mutex // one frame writer at a time: batches, pongs, close replies

	closeSent atomic.Bool // a close frame was written (one per connection)

	// handling is set while the reader has a message in hand.
	handling atomic.Bool

	// extraFlushes is how many more of the engine's flushes than one the
	// next write carries (packets a long-polling transport held, handed
	// over on the upgrade; see WatchDrains).
	extraFlushes atomic.Int32

	// heard is closed when the engine listens to the transport's packets
	// (the first "packet" listener), gone when the connection closed.
	heard, gone chan struct{}
	hearOnce    sync.Once
}

func (w *wsTransport) Construct(ctx *types.HttpContext) {
	w.Transport.Construct(ctx)
	w.conn = ctx.Websocket
	w.raw = w.conn.NetConn()
	w.idle = ctx.IdleTimeout
	// The engine names only a connection's first transport (after this);
	// an upgrade from long-polling, where browsers and Node clients
	// start, carries the connection's id in its query.
	if sid, ok := ctx.Query().Get("sid"); ok {
		w.SetSid(sid)
	}
	// gorilla answers pings and close frames by writing itself; those
	// writes must not cut into a batch.
	w.conn.SetPingHandler(func(data string) error {
		return w.writeControl(ws.PongMessage, []byte(data))
	})
	w.conn.SetCloseHandler(func(code int, _ string) error {
		if w.closeSent.Swap(true) {
			return nil // the answer to ours: the reader ends, and closes
		}
		msg := []byte{}
		if code != ws.CloseNoStatusReceived {
			msg = ws.FormatCloseMessage(code, "")
		}
		return w.writeControl(ws.CloseMessage, msg)
	})
	w.heard, w.gone = make(chan struct{}), make(chan struct{})
	_ = w.conn.Once("close", func(...any) {
		close(w.gone)
		if w.ups != nil {
			w.ups.forget(w.Sid(), w)
		}
		w.mu.Lock()
		w.closed = true
		w.next = nil
		w.mu.Unlock()
		w.OnClose()
	})
	go w.read()
	w.SetWritable(true)
}

func (w *wsTransport) SetSid(sid string) { w.sid.Store(&sid) }

// isGone reports whether the connection closed.
func (w *wsTransport) isGone() bool {
	select {
	case <-w.gone:
		return true
	default:
		return false
	}
}

// reading reports whether the client sent something the transport has
// not handed on yet: a message in hand, or bytes not yet read.
func (w *wsTransport) reading() bool { return w.handling.Load() || unread(w.raw) }

// On notes when the engine starts listening to the transport's packets.
func (w *wsTransport) On(ev types.EventName, listeners ...types.EventListener) error {
	err := w.Transport.On(ev, listeners...)
	if ev == "packet" {
		w.hearOnce.Do(func() { close(w.heard) })
	}
	return err
}

// listened waits until the engine listens to the transport's packets; it
// reports false if the connection closed first. A client upgrading from
// long-polling sends its probe as soon as the websocket is open, and the
// engine listens to a new transport only after that: a probe read in
// between went to no one, and the client stayed on long-polling (about 1
// upgrade in 25 under a CPU burner; TestUpgradesUnderLoad). A new
// connection's client waits for the open packet, sent after the engine
// listens.
func (w *wsTransport) listened() bool {
	select {
	case <-w.heard:
		return true
	default:
	}
	select {
	case <-w.heard:
		return true
	case <-w.gone:
		return false
	}
}

func (w *wsTransport) Sid() string {
	if p := w.sid.Load(); p != nil {
		return *p
	}
	return ""
}

func (w *wsTransport) Name() string          { return transports.WEBSOCKET }
func (w *wsTransport) HandlesUpgrades() bool { return true }

// read hands each message to the engine until the connection fails.
func (w *wsTransport) read() {
	defer w.conn.Close()
	var armed time.Time
	for {
		// The deadline moves at most once a second (each move changes a
		// runtime timer: 4% of the relay's time in a pipeline), one second
		// later than idle, so no read waits less than idle.
		if now := time.Now(); w.idle > 0 && now.Sub(armed) >= time.Second {
			armed = now
			_ = w.conn.SetReadDeadline(now.Add(w.idle + time.Second))
		}
		w.handling.Store(false)
		mt, r, err := w.conn.NextReader()
		w.handling.Store(true)
		if err != nil {
			var ce *ws.CloseError
			if !errors.As(err, &ce) && !errors.Is(err, net.ErrClosed) {
				w.OnError("websocket error", err)
			}
			return
		}
		if mt != ws.TextMessage && mt != ws.BinaryMessage {
			continue
		}
		data, err := wsconn.ReadMessage(r)
		if err != nil {
			w.OnError("websocket error", err)
			return
		}
		if !w.listened() {
			return
		}
		if mt == ws.TextMessage && w.take != nil && w.attachments.Load() == 0 && w.take(w.Sid(), data) {
			continue
		}
		var buf types.BufferInterface
		if mt == ws.TextMessage {
			buf = types.NewStringBuffer(data)
		} else {
			buf = types.NewBytesBuffer(data)
		}
		w.OnData(buf)
	}
}

// Send takes the packets the engine flushes; they are written in order.
func (w *wsTransport) Send(packets []*packet.Packet) {
	if w.ups != nil && len(packets) > 0 && packets[0].Type == packet.PONG && packets[0].Data != nil {
		w.ups.probed(w.Sid(), w) // the answer to an upgrade's probe (pongs have no data else)
	}
	var after func()
	if f := testHookSend.Load(); f != nil {
		after = (*f)(packets)
	}
	w.SetWritable(false)
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return
	}
	w.next = append(w.next, packets...)
	start := !w.active
	w.active = true
	w.mu.Unlock()
	if start {
		go w.writeLoop()
	}
	if after != nil {
		after()
	}
}

// testHookSend, when set by a test, sees the packets the engine hands to a
// websocket transport before they are written; the function it returns, if
// any, runs once they were handed to the writer, on the engine's goroutine
// (the one that flushed them: blocking there holds up the flush and its
// caller).
var testHookSend atomic.Pointer[func([]*packet.Packet) func()]

// writeLoop writes what was handed over until nothing is left.
func (w *wsTransport) writeLoop() {
	for {
		w.mu.Lock()
		batch := w.next
		w.next = nil
		if len(batch) == 0 || w.closed {
			w.active = false
			closing := w.closing
			w.mu.Unlock()
			if closing {
				w.sendClose()
			}
			return
		}
		w.mu.Unlock()
		if err := w.writeBatch(batch); err != nil {
			w.mu.Lock()
			w.active = false
			w.mu.Unlock()
			if !errors.Is(err, net.ErrClosed) {
				w.OnError("websocket error", err)
			}
			_ = w.conn.Close()
			return
		}
		w.Emit("drain")
		w.SetWritable(true)
		w.Emit("ready") // the engine may hand over more: Send appends to next
	}
}

// writeBatch frames packets into websocket messages and writes them with
// one call (wsconn.WriteFrames).
func (w *wsTransport) writeBatch(packets []*packet.Packet) error {
	frames := make([]wsconn.Frame, 0, len(packets))
	for _, p := range packets {
		payload, text, err := w.encode(p)
		if err != nil {
			return err
		}
		frames = append(frames, wsconn.Frame{Data: payload, Binary: !text})
	}
	w.wmu.Lock()
	defer w.wmu.Unlock()
	return wsconn.WriteFrames(w.raw, frames)
}

// encode returns a packet's websocket payload and whether it is text.
// A broadcast comes with its frame encoded once for all recipients.
func (w *wsTransport) encode(p *packet.Packet) ([]byte, bool, error) {
	if p.Options != nil && p.Options.WsPreEncodedFrame != nil {
		f := p.Options.WsPreEncodedFrame
		_, text := f.(*types.StringBuffer)
		return f.Bytes(), text, nil
	}
	data, err := w.Parser().EncodePacket(p, w.SupportsBinary())
	if err != nil {
		return nil, false, err
	}
	_, text := data.(*types.StringBuffer)
	return data.Bytes(), text, nil
}

// writeControl writes a control frame (payload at most 125 bytes).
func (w *wsTransport) writeControl(op int, data []byte) error {
	w.wmu.Lock()
	defer w.wmu.Unlock()
	return wsconn.WriteControl(w.raw, op, data)
}

// DoClose sends the close frame once a write in progress is done; the
// connection is closed when the client answers it, or after closeWait.
func (w *wsTransport) DoClose(fn types.Callable) {
	w.mu.Lock()
	w.closing = true
	active := w.active
	w.mu.Unlock()
	if fn != nil {
		fn()
	}
	if !active {
		w.sendClose() // else the writer does, when it is done
	}
	time.AfterFunc(closeWait, func() { _ = w.conn.Close() })
}

// sendClose starts the websocket closing handshake, as Node's server
// does: a close frame without a status (clients see 1005), then the
// connection is closed when the client answers (the reader ends), or
// after closeWait. Closed without one, clients saw an abnormal closure
// (1006), as if the network had failed.
func (w *wsTransport) sendClose() {
	if w.closeSent.Swap(true) {
		return
	}
	if w.writeControl(ws.CloseMessage, nil) != nil {
		_ = w.conn.Close()
	}
}

// forgetAfterHijack is the response writer of a websocket upgrade. The
// library keeps the request's context, and with it the response writer,
// for the connection's whole life; net/http's response keeps the
// connection's 4 KB read and write buffers, which gorilla does not use.
// Forgetting the response once the connection is hijacked lets them go
// (8 KB per idle connection).
type forgetAfterHijack struct{ http.ResponseWriter }

func (f *forgetAfterHijack) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	h, ok := f.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, errors.New("relay: the response cannot be hijacked")
	}
	c, rw, err := h.Hijack()
	if err == nil {
		f.ResponseWriter = hijacked{}
	}
	return c, rw, err
}

// hijacked is what a response is once its connection was taken over.
type hijacked struct{}

func (hijacked) Header() http.Header       { return http.Header{} }
func (hijacked) Write([]byte) (int, error) { return 0, http.ErrHijacked }
func (hijacked) WriteHeader(int)           {}
