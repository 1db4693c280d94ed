package libfix

import (
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zishang520/socket.io/parsers/engine/v3/packet"
	"github.com/zishang520/socket.io/servers/engine/v3"
	"github.com/zishang520/socket.io/servers/engine/v3/transports"
	"github.com/zishang520/socket.io/v3/pkg/types"
)

// holdMax bounds how long a new connection's packets are held.
const holdMax = 5 * time.Second

// guardTransports makes every transport of eio (websocket and polling)
// check each packet it receives before anyone sees it (validate.go): a
// connection that sends one the official parsers would refuse is closed at
// once, and refused(reason, addr) is told. A new connection's transport
// also holds the packets it receives until the relay has seen the
// connection (release).
//
// The library starts reading a new connection and sends it the open packet
// before it tells anyone of the connection; a packet read in between, most
// often the client's CONNECT, goes to no listener and is lost
// (docs/LIBRARY.md: the lost first packet): the client then waits for an answer that never
// comes until a timeout makes it reconnect. Holding the reader until the
// listeners are in place loses nothing. Upgrades of a connection (they
// carry its sid) are not held: the relay knows the connection already.
//
// With the msgpack parser (text false) the packets are binary messages
// that its decoder checks: they are held, not checked here.
func guardTransports(eio engine.Server, refused func(reason, addr string), text bool) {
	byName := eio.TransportsByName()
	for _, name := range []string{transports.WEBSOCKET, transports.POLLING} {
		if ctor, ok := byName[name]; ok {
			byName[name] = guardingCtor{ctor, refused, text}
		}
	}
}

type guardingCtor struct {
	transports.TransportCtor
	refused func(reason, addr string)
	text    bool // the default parser's text packets: check them
}

func (c guardingCtor) New(ctx *types.HttpContext) transports.Transport {
	t := c.TransportCtor.New(ctx)
	forgetQueue(t, "writeQueue") // the library's polling transport has one
	t = fixPolling(t)
	g := &guardedTransport{Transport: t, open: make(chan struct{}), refused: c.refused, check: c.text,
		addr: ctx.Request().RemoteAddr}
	if w, ok := t.(*wsTransport); ok {
		g.owed = &w.attachments
	}
	if ctx.Query().Has("sid") {
		close(g.open)
	} else {
		g.timer = time.AfterFunc(holdMax, g.release)
	}
	return g
}

// guardedTransport is a transport whose "packet" listeners get only valid
// packets, and on a new connection only after release.
type guardedTransport struct {
	transports.Transport
	open    chan struct{}
	once    sync.Once
	timer   *time.Timer
	refused func(reason, addr string)
	check   bool // check the packets (the default parser)
	addr    string
	owed    *atomic.Int32 // the attachments owed, for the websocket's reader

	mu      sync.Mutex
	in      inbound
	last    *packet.Packet // the last packet checked, and what was found
	verdict string
	closed  bool
}

func (g *guardedTransport) release() {
	g.once.Do(func() {
		close(g.open)
		if g.timer != nil {
			g.timer.Stop()
		}
	})
}

func (g *guardedTransport) On(ev types.EventName, listeners ...types.EventListener) error {
	if ev != "packet" {
		return g.Transport.On(ev, listeners...)
	}
	guarded := make([]types.EventListener, len(listeners))
	for i, l := range listeners {
		guarded[i] = func(args ...any) {
			<-g.open
			if p := PacketOf(args); p != nil && !g.valid(p) {
				return
			}
			l(args...)
		}
	}
	return g.Transport.On(ev, guarded...)
}

// valid checks a packet once (several listeners may see it) and closes the
// connection on the first one refused; nothing after it is passed on.
func (g *guardedTransport) valid(p *packet.Packet) bool {
	g.mu.Lock()
	if g.closed {
		g.mu.Unlock()
		return false
	}
	if p != g.last {
		g.last, g.verdict = p, ""
		if p.Type == packet.MESSAGE && g.check {
			switch d := p.Data.(type) {
			case *types.StringBuffer:
				g.verdict = g.in.check(d.Bytes(), false)
			case *types.BytesBuffer:
				g.verdict = g.in.check(d.Bytes(), true)
			}
			if g.owed != nil {
				g.owed.Store(int32(g.in.pending))
			}
		}
	}
	reason := g.verdict
	if reason != "" {
		g.closed = true
	}
	g.mu.Unlock()
	if reason == "" {
		return true
	}
	g.refused(reason, g.addr)
	g.Transport.OnError("invalid packet", errors.New(reason))
	return false
}

// RemoveListener removes the engine's "packet" listener, which On wrapped
// (the engine adds one per transport and removes it when it leaves the
// transport, on an upgrade from polling).
func (g *guardedTransport) RemoveListener(ev types.EventName, listener types.EventListener) bool {
	if ev != "packet" {
		return g.Transport.RemoveListener(ev, listener)
	}
	g.Transport.RemoveAllListeners(ev)
	return true
}

// Release lets conn's packets through, if they were held.
func Release(conn engine.Socket) {
	if g, ok := conn.Transport().(*guardedTransport); ok {
		g.release()
	}
}
