package relay

import (
	"fmt"
	"sync/atomic"
	"time"

	"github.com/zishang520/socket.io/parsers/engine/v3/packet"
	"github.com/zishang520/socket.io/servers/engine/v3"
	"github.com/zishang520/socket.io/servers/engine/v3/transports"
	"github.com/zishang520/socket.io/servers/socket/v3"
	"github.com/zishang520/socket.io/v3/pkg/types"
)

// DefaultMaxQueue is how many bytes may wait for one client that does not
// read before it is disconnected.
const DefaultMaxQueue = 16 << 20

// stallTime is how long a connection with more than MaxQueue bytes waiting
// may go without a completed write before it counts as stalled.
const stallTime = 2 * time.Second

// hardQueueFactor times MaxQueue bytes waiting disconnects a client even
// if it still reads: memory stays bounded when a reader is just too slow.
const hardQueueFactor = 16

// connState is what the relay keeps for one engine connection.
type connState struct {
	conn    engine.Socket
	joins   joins
	written written
	senders senders
	left    atomic.Bool // a socket left its namespace itself: the client is going
	joined  atomic.Bool // a socket joined a namespace once
	// joinedAddr and closedAddr tell the count of the client's address
	// (perAddress) that it joined, and that it closed; nil without limits.
	joinedAddr, closedAddr func()
}

// watchConn counts the bytes in and out of one connection and the
// messages sent on it, holds back its packets for a namespace it is still
// joining (joins), and bounds what waits in its write buffer. The
// engine queues a packet ("packetCreate") and hands the queue to the
// transport when its last write completed ("flush"); a client that stops
// reading makes the queue grow and the flushes stop. With more than max
// bytes waiting and no flush for stallTime, or more than hardQueueFactor
// times max waiting, the connection is closed: one stalled client costs
// at most about max bytes and never slows the others (a broadcast only
// appends to its queue), while a slow reader that keeps reading is not cut
// off by a burst.
func (r *Relay) watchConn(conn engine.Socket, max int64) {
	var queued atomic.Int64
	var lastFlush atomic.Int64 // unix nanoseconds
	var closing atomic.Bool
	lastFlush.Store(time.Now().UnixNano())
	st := &connState{conn: conn}
	if r.perAddress != nil {
		st.joinedAddr, st.closedAddr = r.perAddress.opened(conn.RemoteAddress())
	}
	// The library closes a connection that joined no namespace within
	// its connect timeout, but politely: a long-polling one then waits up
	// to 30 s for a poll to carry the close, holding its --max-conns slot
	// and its memory; bare handshakes by the thousand locked honest
	// clients out. The relay drops such a connection at once, before the
	// library's timer (set a little later) fires.
	bare := time.AfterFunc(r.connectTimeout, func() {
		if !st.joined.Load() {
			conn.Close(true)
		}
	})
	j, w := &st.joins, &st.written
	id := conn.Id()
	r.conns.Store(id, st)
	_ = conn.On("close", func(args ...any) {
		closing.Store(true) // no slow-consumer check is left to do
		j.closeAll()
		// What was not written to a client that goes away of its own
		// accord, or that the relay keeps for its session, was not lost.
		reason, _ := first(args).(string)
		if len(args) > 1 && args[1] != nil {
			// Why the engine closed it, beyond the reason the socket logs
			// (a polling transport's error, say).
			r.log.Debug("connection closed", "sid", id, "reason", reason, "description", fmt.Sprint(args[1]))
		}
		if hook := testHookEngineClose.Load(); hook != nil {
			(*hook)()
		}
		w.close(!st.left.Load() && !(r.recovery != nil && socket.RECOVERABLE_DISCONNECT_REASONS.Has(reason)))
		r.conns.Delete(id)
		bare.Stop()
		if st.closedAddr != nil {
			st.closedAddr()
		}
	})
	// check disconnects the client when it is stalled with more than max
	// bytes waiting, or holds more than hardQueueFactor times max; when
	// it may become stalled, it looks again then: the events that filled
	// its queue may well be the last for a while.
	var armed atomic.Bool
	var check func()
	check = func() {
		n := queued.Load()
		if n <= max || closing.Load() {
			return
		}
		idle := time.Duration(time.Now().UnixNano() - lastFlush.Load())
		if idle < stallTime && n <= hardQueueFactor*max {
			if !armed.Swap(true) {
				time.AfterFunc(stallTime-idle, func() {
					armed.Store(false)
					check()
				})
			}
			return
		}
		if closing.Swap(true) {
			return
		}
		r.slow.Inc()
		r.log.Warn("disconnect slow consumer", "id", conn.Id(), "queued_bytes", n, "max", max,
			"no_write_for", idle.Round(time.Millisecond))
		go conn.Close(true)
	}
	// A transport's "drain" says a write is done; written counts the
	// engine's flushes written. A long-polling write may carry none (the
	// upgrade check's noop) or several (packets held for a second send),
	// and so may the websocket's first write after an upgrade.
	poll := pollingOf(conn.Transport())
	if t := conn.Transport(); t != nil {
		_ = t.On("drain", func(...any) {
			n := 1
			if poll != nil {
				n = poll.drained()
			}
			w.drain(n)
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
			w.drain(n)
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
	_ = conn.On("packet", func(args ...any) {
		p := firstPacket(args)
		r.bytesIn.Add(int(size(p)))
		j.received(p)
	})
	hb := heartbeat{conn: conn}
	_ = conn.On("heartbeat", func(...any) { hb.pong() })
	_ = conn.On("packetCreate", func(args ...any) {
		p := firstPacket(args)
		if p != nil && p.Type == packet.PING {
			hb.pings.Add(1)
		}
		j.sent(p)
		w.queued()
		sz := size(p)
		r.bytesOut.Add(int(sz))
		if p != nil && p.Type == packet.MESSAGE {
			r.sent.Inc()
		}
		if queued.Add(sz) > max {
			check()
		}
	})
	_ = conn.On("flush", func(args ...any) {
		lastFlush.Store(time.Now().UnixNano())
		if len(args) == 0 {
			return
		}
		if buf, ok := args[0].([]*packet.Packet); ok {
			w.flush(len(buf))
			var n int64
			for _, p := range buf {
				n += size(p)
			}
			queued.Add(-n)
		}
	})
}

func first(args []any) any {
	if len(args) == 0 {
		return nil
	}
	return args[0]
}

// firstPacket is the packet an engine event is about, or nil.
func firstPacket(args []any) *packet.Packet {
	if len(args) == 0 {
		return nil
	}
	p, _ := args[0].(*packet.Packet)
	return p
}

// size is a packet's payload size, or 1 KB when the payload does not say.
func size(p *packet.Packet) int64 {
	if p == nil {
		return 0
	}
	if b, ok := p.Data.(types.BufferInterface); ok {
		return int64(b.Len()) + 1
	}
	if p.Data == nil {
		return 1
	}
	return 1 << 10
}

// testHookEngineClose, when set by a test, runs when the relay sees an
// engine connection end, before the library does (it keeps the session
// of the connection's sockets after this).
var testHookEngineClose atomic.Pointer[func()]

// heartbeat mends the engine's ping timeout. The engine sends a ping,
// then arms the timer that the client's pong clears, on one goroutine;
// a pong read on another in between (a quick client, a busy machine)
// cleared nothing, and the timer then closed the connection of a client
// that had answered: 13 of 259 pings at a 200 ms ping timeout beside a
// CPU burner, 1 of 267 on a quiet machine; Node, which does both at once,
// none (TestHeartbeatPongBeforeTimer). A little after each pong, unless
// another ping went out since, the relay clears that timer itself.
type heartbeat struct {
	conn  engine.Socket
	pings atomic.Int64
}

// heartbeatRecheck are when, after a pong, the ping timer is cleared.
var heartbeatRecheck = []time.Duration{20 * time.Millisecond, 100 * time.Millisecond}

func (h *heartbeat) pong() {
	seq := h.pings.Load()
	for _, d := range heartbeatRecheck {
		time.AfterFunc(d, func() {
			if h.pings.Load() == seq && h.conn.ReadyState() == "open" {
				clearPingTimeout(h.conn)
			}
		})
	}
}
