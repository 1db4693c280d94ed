package libfix

import (
	"sync/atomic"
	"time"

	"github.com/zishang520/socket.io/servers/engine/v3"
)

// Heartbeat mends the engine's ping timeout. The engine sends a ping,
// then arms the timer that the client's pong clears, on one goroutine;
// a pong read on another in between (a quick client, a busy machine)
// cleared nothing, and the timer then closed the connection of a client
// that had answered: 13 of 259 pings at a 200 ms ping timeout beside a
// CPU burner, 1 of 267 on a quiet machine; Node, which does both at once,
// none (TestHeartbeatPongBeforeTimer). A little after each pong, unless
// another ping went out since, the relay clears that timer itself.
type Heartbeat struct {
	conn  engine.Socket
	pings atomic.Int64
}

// NewHeartbeat mends conn's ping timeout; tell it of each ping and pong.
func NewHeartbeat(conn engine.Socket) *Heartbeat { return &Heartbeat{conn: conn} }

// heartbeatRecheck are when, after a pong, the ping timer is cleared.
var heartbeatRecheck = []time.Duration{20 * time.Millisecond, 100 * time.Millisecond}

// Ping takes note of a ping the engine queued.
func (h *Heartbeat) Ping() { h.pings.Add(1) }

// Pong takes note of the client's pong ("heartbeat").
func (h *Heartbeat) Pong() {
	seq := h.pings.Load()
	for _, d := range heartbeatRecheck {
		time.AfterFunc(d, func() {
			if h.pings.Load() == seq && h.conn.ReadyState() == "open" {
				clearPingTimeout(h.conn)
			}
		})
	}
}
