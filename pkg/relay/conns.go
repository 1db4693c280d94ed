package relay

import (
	"fmt"
	"sync/atomic"
	"time"

	"github.com/sio-tools/sio/pkg/relay/internal/libfix"
	"github.com/zishang520/socket.io/parsers/engine/v3/packet"
	"github.com/zishang520/socket.io/servers/engine/v3"
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

// connState is what the relay keeps for one engine connection, with a
// method for each engine event it listens to (watchConn). It counts the
// bytes in and out and the messages sent, holds back packets for a
// namespace the client is still joining (joins), tracks what was written
// for acks (written), and bounds what waits in the write buffer.
//
// The engine queues a packet ("packetCreate") and hands the queue to the
// transport when its last write completed ("flush"); a client that stops
// reading makes the queue grow and the flushes stop. With more than max
// bytes waiting and no flush for stallTime, or more than hardQueueFactor
// times max waiting, the connection is closed: one stalled client costs at
// most about max bytes and never slows the others (a broadcast only
// appends to its queue), while a slow reader that keeps reading is not cut
// off by a burst.
type connState struct {
	r    *Relay
	conn engine.Socket
	max  int64 // bytes that may wait before the stall check (MaxQueue)

	joins     libfix.JoinGate
	written   written
	senders   senders
	heartbeat *libfix.Heartbeat
	left      atomic.Bool // a socket left its namespace itself: the client is going
	joined    atomic.Bool // a socket joined a namespace once
	// joinedAddr and closedAddr tell the count of the client's address
	// (perAddress) that it joined, and that it closed; nil without limits.
	joinedAddr, closedAddr func()
	bare                   *time.Timer // closes it if it joins nothing in time

	queued    atomic.Int64 // bytes queued and not yet flushed
	lastFlush atomic.Int64 // unix nanoseconds
	closing   atomic.Bool  // closed or being closed: no stall check is left to do
	armed     atomic.Bool  // a stall check is due
}

// watchConn starts watching a new engine connection; the engine's events
// go to connState's methods.
func (r *Relay) watchConn(conn engine.Socket, max int64) {
	st := &connState{r: r, conn: conn, max: max, heartbeat: libfix.NewHeartbeat(conn)}
	st.lastFlush.Store(time.Now().UnixNano())
	if r.perAddress != nil {
		st.joinedAddr, st.closedAddr = r.perAddress.opened(conn.RemoteAddress())
	}
	// The library closes a connection that joined no namespace within
	// its connect timeout, but politely: a long-polling one then waits up
	// to 30 s for a poll to carry the close, holding its --max-conns slot
	// and its memory; bare handshakes by the thousand locked honest
	// clients out. The relay drops such a connection at once, before the
	// library's timer (set a little later) fires.
	st.bare = time.AfterFunc(r.connectTimeout, func() {
		if !st.joined.Load() {
			conn.Close(true)
		}
	})
	r.conns.Store(conn.Id(), st)
	_ = conn.On("close", st.onClose)
	libfix.WatchDrains(conn, st.written.drain)
	_ = conn.On("packet", st.onPacket)
	_ = conn.On("heartbeat", func(...any) { st.heartbeat.Pong() })
	_ = conn.On("packetCreate", st.onPacketCreate)
	_ = conn.On("flush", st.onFlush)
}

// onClose: the connection ended.
func (st *connState) onClose(args ...any) {
	r := st.r
	st.closing.Store(true)
	st.joins.CloseAll()
	var reason string
	if len(args) > 0 {
		reason, _ = args[0].(string)
	}
	if len(args) > 1 && args[1] != nil {
		// Why the engine closed it, beyond the reason the socket logs
		// (a polling transport's error, say).
		r.log.Debug("connection closed", "sid", st.conn.Id(), "reason", reason, "description", fmt.Sprint(args[1]))
	}
	if hook := testHookEngineClose.Load(); hook != nil {
		(*hook)()
	}
	// What was not written to a client that goes away of its own accord,
	// or that the relay keeps for its session, was not lost.
	st.written.close(!st.left.Load() && !(r.recovery != nil && socket.RECOVERABLE_DISCONNECT_REASONS.Has(reason)))
	r.conns.Delete(st.conn.Id())
	st.bare.Stop()
	if st.closedAddr != nil {
		st.closedAddr()
	}
}

// onPacket: the client sent a packet (before the library sees it).
func (st *connState) onPacket(args ...any) {
	p := libfix.PacketOf(args)
	st.r.bytesIn.Add(int(size(p)))
	st.joins.Received(p)
}

// onPacketCreate: the engine queued a packet for the client.
func (st *connState) onPacketCreate(args ...any) {
	p := libfix.PacketOf(args)
	if p != nil && p.Type == packet.PING {
		st.heartbeat.Ping()
	}
	st.joins.Sent(p)
	st.written.queued()
	sz := size(p)
	st.r.bytesOut.Add(int(sz))
	if p != nil && p.Type == packet.MESSAGE {
		st.r.sent.Inc()
	}
	if st.queued.Add(sz) > st.max {
		st.checkStall()
	}
}

// onFlush: the engine handed its queue to the transport.
func (st *connState) onFlush(args ...any) {
	st.lastFlush.Store(time.Now().UnixNano())
	if len(args) == 0 {
		return
	}
	if buf, ok := args[0].([]*packet.Packet); ok {
		st.written.flush(len(buf))
		var n int64
		for _, p := range buf {
			n += size(p)
		}
		st.queued.Add(-n)
	}
}

// checkStall disconnects the client when it is stalled with more than max
// bytes waiting, or holds more than hardQueueFactor times max; when it
// may become stalled, it looks again then: the events that filled its
// queue may well be the last for a while.
func (st *connState) checkStall() {
	n := st.queued.Load()
	if n <= st.max || st.closing.Load() {
		return
	}
	idle := time.Duration(time.Now().UnixNano() - st.lastFlush.Load())
	if idle < stallTime && n <= hardQueueFactor*st.max {
		if !st.armed.Swap(true) {
			time.AfterFunc(stallTime-idle, func() {
				st.armed.Store(false)
				st.checkStall()
			})
		}
		return
	}
	if st.closing.Swap(true) {
		return
	}
	st.r.slow.Inc()
	st.r.log.Warn("disconnect slow consumer", "id", st.conn.Id(), "queued_bytes", n, "max", st.max,
		"no_write_for", idle.Round(time.Millisecond))
	go st.conn.Close(true)
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
// engine connection or a session of its own end, before the library or
// the relay keeps the session of the connection's sockets.
var testHookEngineClose atomic.Pointer[func()]
