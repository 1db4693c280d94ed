package relay

import (
	"sync/atomic"

	"github.com/zishang520/socket.io/parsers/engine/v3/packet"
	"github.com/zishang520/socket.io/servers/engine/v3"
	"github.com/zishang520/socket.io/v3/pkg/types"
)

// DefaultMaxQueue is how many bytes may wait for one client that does not
// read before it is disconnected.
const DefaultMaxQueue = 16 << 20

// watchQueue bounds what waits in one connection's write buffer. The
// engine queues a packet ("packetCreate") and hands the queue to the
// transport when the transport can write ("flush"); a client that stops
// reading makes the queue grow. Past max bytes the connection is closed,
// so one stalled client costs at most max bytes and never slows the
// others (a broadcast only appends to its queue).
func (r *Relay) watchQueue(conn engine.Socket, max int64) {
	var queued atomic.Int64
	var closing atomic.Bool
	_ = conn.On("packetCreate", func(args ...any) {
		n := queued.Add(packetSize(args))
		if n <= max || closing.Swap(true) {
			return
		}
		r.slow.Inc()
		r.log.Warn("disconnect slow consumer", "id", conn.Id(), "queued_bytes", n, "max", max)
		go conn.Close(true)
	})
	_ = conn.On("flush", func(args ...any) {
		if len(args) == 0 {
			return
		}
		if buf, ok := args[0].([]*packet.Packet); ok {
			var n int64
			for _, p := range buf {
				n += size(p)
			}
			queued.Add(-n)
		}
	})
}

func packetSize(args []any) int64 {
	if len(args) == 0 {
		return 0
	}
	p, _ := args[0].(*packet.Packet)
	return size(p)
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
