package conn

import (
	"fmt"
	"strings"

	"github.com/zishang520/socket.io/parsers/socket/v3/parser"
)

// Confirm asks the server to confirm that it has read everything sent
// before, and calls done(true) when it did, or done(false) when the
// connection was lost first. It does not block.
//
// It works with any Socket.IO server: the request is a CONNECT to the
// namespace FlushNamespace, and any answer (joined or refused) comes only
// after the server read what was sent before it.
func (c *Conn) Confirm(done func(ok bool)) {
	c.mu.Lock()
	if !c.connected {
		c.mu.Unlock()
		done(false)
		return
	}
	c.confirms = append(c.confirms, done)
	c.mu.Unlock()
	if e := c.manager.Engine(); e != nil {
		e.Write(strings.NewReader(fmt.Sprintf("%d%s,", parser.CONNECT, FlushNamespace)), nil, nil)
	}
}

// FlushNamespace is the namespace Confirm asks to join. sio-serve and
// servers without it refuse; a server that accepts every namespace joins
// it, and Confirm leaves it again at once. Either answer will do.
const FlushNamespace = "/_sio_flush"

// onPacket answers the oldest Confirm when the server answers a request.
func (c *Conn) onPacket(args ...any) {
	p, ok := first(args).(*parser.Packet)
	if !ok {
		return
	}
	if p.Type == parser.ACK {
		c.onAck(p)
		return
	}
	if p.Type == parser.CONNECT && p.Nsp == c.nsp {
		// A session id ("pid") means connection state recovery is on.
		data, _ := p.Data.(map[string]any)
		pid, _ := data["pid"].(string)
		c.recovery.Store(pid != "")
		return
	}
	if p.Nsp != FlushNamespace {
		return
	}
	c.mu.Lock()
	if len(c.confirms) == 0 {
		c.mu.Unlock()
		return
	}
	done := c.confirms[0]
	c.confirms = c.confirms[1:]
	c.mu.Unlock()
	if p.Type == parser.CONNECT {
		// Leave it again.
		if e := c.manager.Engine(); e != nil {
			e.Write(strings.NewReader(fmt.Sprintf("%d%s,", parser.DISCONNECT, FlushNamespace)), nil, nil)
		}
	}
	done(true)
}

// failConfirms answers every open Confirm with false; the connection that
// carried them is gone.
func (c *Conn) failConfirms() {
	c.mu.Lock()
	list := c.confirms
	c.confirms = nil
	c.mu.Unlock()
	for _, done := range list {
		done(false)
	}
}
