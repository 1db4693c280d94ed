package relay

import (
	"sync"
	"time"

	"github.com/zishang520/socket.io/servers/engine/v3"
	"github.com/zishang520/socket.io/servers/engine/v3/transports"
	"github.com/zishang520/socket.io/v3/pkg/types"
)

// holdMax bounds how long a new connection's packets are held.
const holdMax = 5 * time.Second

// holdNewConnections makes eio's new connections (websocket and polling)
// hold the packets they receive until the relay has seen the connection
// (release).
//
// The library starts reading a new connection and sends it the open packet
// before it tells anyone of the connection; a packet read in between, most
// often the client's CONNECT, goes to no listener and is lost
// (README, "library problems": the lost first packet): the client then waits for an answer that never
// comes until a timeout makes it reconnect. Holding the reader until the
// listeners are in place loses nothing. Upgrades of a connection (they
// carry its sid) are not held: the relay knows the connection already.
func holdNewConnections(eio engine.Server) {
	byName := eio.TransportsByName()
	for _, name := range []string{transports.WEBSOCKET, transports.POLLING} {
		if ctor, ok := byName[name]; ok {
			byName[name] = holdingCtor{ctor}
		}
	}
}

type holdingCtor struct{ transports.TransportCtor }

func (c holdingCtor) New(ctx *types.HttpContext) transports.Transport {
	t := c.TransportCtor.New(ctx)
	forgetQueue(t, "writeQueue") // the library's polling transport has one
	t = fixPolling(t)
	if ctx.Query().Has("sid") {
		return t
	}
	h := &heldTransport{Transport: t, open: make(chan struct{})}
	h.timer = time.AfterFunc(holdMax, h.release)
	return h
}

// heldTransport is a transport whose "packet" listeners wait for release.
type heldTransport struct {
	transports.Transport
	open  chan struct{}
	once  sync.Once
	timer *time.Timer
}

func (h *heldTransport) release() {
	h.once.Do(func() {
		close(h.open)
		h.timer.Stop()
	})
}

func (h *heldTransport) On(ev types.EventName, listeners ...types.EventListener) error {
	if ev != "packet" {
		return h.Transport.On(ev, listeners...)
	}
	held := make([]types.EventListener, len(listeners))
	for i, l := range listeners {
		held[i] = func(args ...any) {
			<-h.open
			l(args...)
		}
	}
	return h.Transport.On(ev, held...)
}

// RemoveListener removes the engine's "packet" listener, which On wrapped
// (the engine adds one per transport and removes it when it leaves the
// transport, on an upgrade from polling).
func (h *heldTransport) RemoveListener(ev types.EventName, listener types.EventListener) bool {
	if ev != "packet" {
		return h.Transport.RemoveListener(ev, listener)
	}
	h.Transport.RemoveAllListeners(ev)
	return true
}

// release lets conn's packets through, if they were held.
func release(conn engine.Socket) {
	if h, ok := conn.Transport().(*heldTransport); ok {
		h.release()
	}
}
