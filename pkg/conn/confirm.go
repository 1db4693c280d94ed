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
	c.waiting = append(c.waiting, done)
	c.sendFlushLocked()
	c.mu.Unlock()
}

// sendFlushLocked sends one request for the waiting Confirms unless one is
// on the wire: a Node server closes the connection on a CONNECT to a
// namespace it still has joined (also one left in the same read).
func (c *Conn) sendFlushLocked() {
	if len(c.confirms) > 0 || len(c.waiting) == 0 {
		return
	}
	c.confirms, c.waiting = c.waiting, nil
	c.flushN++
	if e := c.manager.Engine(); e != nil {
		e.Write(strings.NewReader(fmt.Sprintf("%d%s,", parser.CONNECT, flushNsp(c.flushN))), nil, nil)
	}
}

func flushNsp(n int) string {
	if n%2 == 0 {
		return FlushNamespace + "2"
	}
	return FlushNamespace
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
	if p.Nsp != FlushNamespace && p.Nsp != FlushNamespace+"2" {
		return
	}
	c.mu.Lock()
	if len(c.confirms) == 0 {
		c.mu.Unlock()
		return
	}
	list := c.confirms
	c.confirms = nil
	if p.Type == parser.CONNECT {
		// Leave it again.
		if e := c.manager.Engine(); e != nil {
			e.Write(strings.NewReader(fmt.Sprintf("%d%s,", parser.DISCONNECT, p.Nsp)), nil, nil)
		}
	}
	c.sendFlushLocked()
	c.mu.Unlock()
	for _, done := range list {
		done(true)
	}
}

// failConfirms answers every open Confirm with false; the connection that
// carried them is gone.
func (c *Conn) failConfirms() {
	c.mu.Lock()
	list := append(c.confirms, c.waiting...)
	c.confirms, c.waiting = nil, nil
	c.mu.Unlock()
	for _, done := range list {
		done(false)
	}
}
