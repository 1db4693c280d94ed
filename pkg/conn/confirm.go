package conn

import (
	"context"
	"fmt"
	"time"

	"github.com/sio-tools/sio/pkg/lines"
)

// FlushNamespace is the namespace Confirm asks to join. sio-serve and
// servers without it refuse; a server that accepts every namespace joins
// it, and Confirm leaves it again at once. Either answer will do.
const FlushNamespace = "/_sio_flush"

func isFlushNsp(nsp string) bool { return nsp == FlushNamespace || nsp == FlushNamespace+"2" }

func flushNsp(n int) string {
	if n%2 == 0 {
		return FlushNamespace + "2"
	}
	return FlushNamespace
}

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
	l, req := c.nextFlushLocked()
	c.mu.Unlock()
	if req != nil {
		_ = l.writePacket(req, nil)
	}
}

// nextFlushLocked makes one request for the waiting Confirms unless one is
// on the wire (a Node server closes the connection on a CONNECT to a
// namespace it still has joined, also one left in the same read): it
// returns the link and the packet to write, or a nil packet.
func (c *Conn) nextFlushLocked() (*link, []byte) {
	if len(c.confirms) > 0 || len(c.waiting) == 0 || c.link == nil {
		return nil, nil
	}
	c.confirms, c.waiting = c.waiting, nil
	c.flushN++
	return c.link, lines.AppendPacketHeader(nil, pConnect, 0, flushNsp(c.flushN), -1)
}

// flushAnswered takes the server's answer to a request: the oldest
// Confirms are done.
func (c *Conn) flushAnswered(l *link, p *packet) {
	if p.typ != pConnect && p.typ != pConnectError {
		return
	}
	if p.typ == pConnect {
		// Leave it again.
		_ = l.writePacket(lines.AppendPacketHeader(nil, pDisconnect, 0, p.nsp, -1), nil)
	}
	c.mu.Lock()
	list := c.confirms
	c.confirms = nil
	next, req := c.nextFlushLocked()
	c.mu.Unlock()
	if req != nil {
		_ = next.writePacket(req, nil)
	}
	for _, done := range list {
		done(true)
	}
}

// barrierTimeout bounds the wait for the server's answer to a Flush.
const barrierTimeout = 25 * time.Second

// Flush waits until every event sent so far was read by the server. It
// fails when the connection is lost first or ctx ends.
func (c *Conn) Flush(ctx context.Context) error {
	got := make(chan bool, 1)
	c.Confirm(func(ok bool) { got <- ok })
	// The answer comes once the server has read everything before it: a
	// server far behind (a large backlog on a loaded machine) takes a
	// while, so the bound is generous.
	t := time.NewTimer(barrierTimeout)
	defer t.Stop()
	select {
	case ok := <-got:
		if !ok {
			return ErrNotConnected
		}
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return fmt.Errorf("server did not confirm within %v", barrierTimeout)
	}
}
