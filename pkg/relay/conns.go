package relay

import (
	"sync/atomic"
	"time"

	"github.com/zishang520/socket.io/parsers/engine/v3/packet"
	"github.com/zishang520/socket.io/servers/engine/v3"
	"github.com/zishang520/socket.io/servers/engine/v3/transports"
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
	joins   joins
	written written
	senders senders
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
	st := &connState{}
	j, w := &st.joins, &st.written
	id := conn.Id()
	r.conns.Store(id, st)
	_ = conn.On("close", func(...any) {
		j.closeAll()
		w.close()
		r.conns.Delete(id)
	})
	drain := func(...any) { w.drain() }
	if t := conn.Transport(); t != nil {
		_ = t.On("drain", drain)
	}
	_ = conn.On("upgrade", func(args ...any) {
		if t, ok := args[0].(transports.Transport); ok {
			_ = t.On("drain", drain)
		}
	})
	_ = conn.On("packet", func(args ...any) {
		p := firstPacket(args)
		r.bytesIn.Add(int(size(p)))
		j.received(p)
	})
	_ = conn.On("packetCreate", func(args ...any) {
		p := firstPacket(args)
		j.sent(p)
		w.queued()
		sz := size(p)
		r.bytesOut.Add(int(sz))
		if p != nil && p.Type == packet.MESSAGE {
			r.sent.Inc()
		}
		n := queued.Add(sz)
		if n <= max {
			return
		}
		idle := time.Duration(time.Now().UnixNano() - lastFlush.Load())
		if idle < stallTime && n <= hardQueueFactor*max {
			return
		}
		if closing.Swap(true) {
			return
		}
		r.slow.Inc()
		r.log.Warn("disconnect slow consumer", "id", conn.Id(), "queued_bytes", n, "max", max,
			"no_write_for", idle.Round(time.Millisecond))
		go conn.Close(true)
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
