// Package libfix is what sio-serve changes in the Socket.IO library it
// is built on (github.com/zishang520/socket.io): its own Engine.IO
// websocket transport, the library's long-polling transport mended, every
// packet checked and held until the relay listens, the join gate, the
// heartbeat, and the reads of library internals that its API lacks.
//
// Each piece says which library bug or cost it works around, and the test
// that shows it; docs/ARCHITECTURE.md lists them all, with when each can
// go. The relay reaches this package through Install (its Hooks), the
// per-connection helpers (JoinGate, Heartbeat, WatchDrains, Release) and
// the accessors of namespaces.go and queues.go; nothing here knows the
// relay's rules.
package libfix

import (
	"net/http"
	"strings"

	"github.com/zishang520/socket.io/parsers/engine/v3/packet"
	"github.com/zishang520/socket.io/servers/engine/v3"
	"github.com/zishang520/socket.io/servers/engine/v3/transports"
	"github.com/zishang520/socket.io/servers/socket/v3"
)

// Hooks are how the Engine.IO layer reaches the relay.
type Hooks struct {
	// Take is offered every text message a websocket client sends, before
	// the library; it reports whether it handled the message (the
	// relay's passthrough and confirmations). nil: none is taken.
	Take func(sid string, msg []byte) bool
	// Refused is told of a connection closed for a packet the official
	// parsers would refuse (validate.go); reason is one of a few fixed
	// words.
	Refused func(reason, addr string)
	// Msgpack: the clients speak the msgpack parser, whose packets are
	// binary messages its decoder checks; the checks of validate.go are
	// for the default parser's text.
	Msgpack bool
}

// Engine is an Engine.IO server with the fixes installed.
type Engine struct {
	srv      engine.Server
	upgrades upgrades // the upgrades to websocket whose probe was answered
}

// Install puts the fixes into srv, before it serves: its websocket
// connections use wsTransport, every transport checks and holds its
// packets (held.go), and long-polling is mended (polling.go).
func Install(srv engine.Server, h Hooks) *Engine {
	e := &Engine{srv: srv}
	useOwnWebsocket(srv, h.Take, &e.upgrades)
	guardTransports(srv, h.Refused, !h.Msgpack)
	return e
}

// Prepare readies a request for the engine: a websocket handshake gets a
// writer that the library cannot use after the hijack, a long-polling GET
// waits for an upgrade under way and gets a context the library can read
// safely (pollRequest). done must be called once the engine served it.
// sid is the request's "sid" query parameter.
func (e *Engine) Prepare(w http.ResponseWriter, req *http.Request, sid string) (_ http.ResponseWriter, _ *http.Request, done func()) {
	if strings.EqualFold(req.Header.Get("Upgrade"), "websocket") {
		return &forgetAfterHijack{w}, req, func() {}
	}
	if req.Method != http.MethodGet {
		return w, req, func() {}
	}
	if sid != "" {
		e.upgrades.settle(e.srv, sid)
	}
	req, done = pollRequest(req)
	return w, req, done
}

// WatchDrains calls drained with the number of the engine's flushes each
// completed write of conn carried, on its first transport and on the one
// it upgrades to; written (the relay's ack accounting) counts on it. A
// long-polling write may carry none (the upgrade check's noop) or several
// (packets held for a second send), and so may the websocket's first
// write after an upgrade: it carries the packets long-polling held.
func WatchDrains(conn engine.Socket, drained func(flushes int)) {
	poll := pollingOf(conn.Transport())
	if t := conn.Transport(); t != nil {
		_ = t.On("drain", func(...any) {
			n := 1
			if poll != nil {
				n = poll.drained()
			}
			drained(n)
		})
	}
	_ = conn.On("upgrade", func(args ...any) {
		t, ok := args[0].(transports.Transport)
		if !ok {
			return
		}
		ws := websocketOf(t)
		_ = t.On("drain", func(...any) {
			n := 1
			if ws != nil {
				n += int(ws.extraFlushes.Swap(0))
			}
			drained(n)
		})
		// Before the engine flushes what it queued meanwhile: these came
		// first. Their write is the websocket's first, alone (the engine
		// sends no more until it is done) and carries k flushes.
		if held, k := poll.takeHeld(); len(held) > 0 {
			if ws != nil {
				ws.extraFlushes.Add(int32(k - 1))
			}
			t.Send(held)
		}
	})
}

// ForgetTaskQueue makes a socket's task queue collectable once the socket
// is gone (queues.go). Every socket must go through it.
func ForgetTaskQueue(s *socket.Socket) { forgetQueue(s, "taskQueue") }

// OnWebsocket reports whether conn writes through the relay's websocket
// transport (it moved there from long-polling, or started there).
func OnWebsocket(conn engine.Socket) bool { return websocketOf(conn.Transport()) != nil }

// PacketOf is the packet an engine event is about, or nil.
func PacketOf(args []any) *packet.Packet {
	if len(args) == 0 {
		return nil
	}
	p, _ := args[0].(*packet.Packet)
	return p
}

// first is an event's first argument, or nil.
func first(args []any) any {
	if len(args) == 0 {
		return nil
	}
	return args[0]
}
