package conn

import (
	"sync"

	"github.com/sio-tools/sio/pkg/lines"
	"github.com/zishang520/socket.io/parsers/socket/v3/parser"
	"github.com/zishang520/socket.io/v3/pkg/types"
)

// firstAckID is where our ack ids start, far above the library's own (which
// count from 0 on the same socket), so the two never meet.
const firstAckID = 1 << 32

// acks are the events sent with Send that wait for an acknowledgement.
type acks struct {
	mu      sync.Mutex
	next    int64
	waiting map[int64]func(error)
}

// HeaderSize is the most Send adds to a body: the packet type, the
// namespace and an ack id, and the Engine.IO message type.
func (c *Conn) HeaderSize() int { return len(lines.AppendHeader(nil, c.nsp, firstAckID<<20)) + 1 }

// Send sends an event whose data, the JSON array ["event", args...], the
// caller encoded (lines.AppendArray). With done nil it is sent without
// acknowledgement; else done(nil) is called when the server acks it, or
// done(ErrNotConnected) when the connection is lost first. Like Emit, it
// refuses while disconnected.
func (c *Conn) Send(body []byte, done func(error)) error {
	if !c.Connected() {
		return ErrNotConnected
	}
	e := c.manager.Engine()
	if e == nil {
		return ErrNotConnected
	}
	id := int64(-1)
	if done != nil {
		c.acks.mu.Lock()
		if c.acks.waiting == nil {
			c.acks.waiting = map[int64]func(error){}
			c.acks.next = firstAckID
		}
		id = c.acks.next
		c.acks.next++
		c.acks.waiting[id] = done
		c.acks.mu.Unlock()
	}
	pkt := lines.AppendHeader(make([]byte, 0, len(body)+32), c.nsp, id)
	pkt = append(pkt, body...)
	e.Write(types.NewStringBuffer(pkt), nil, nil)
	return nil
}

// onAck calls the done function of an acknowledged Send.
func (c *Conn) onAck(p *parser.Packet) {
	if p.Nsp != c.nsp || p.Id == nil || *p.Id < firstAckID {
		return
	}
	c.acks.mu.Lock()
	done := c.acks.waiting[int64(*p.Id)]
	delete(c.acks.waiting, int64(*p.Id))
	c.acks.mu.Unlock()
	if done != nil {
		done(nil)
	}
}

// failAcks answers every waiting Send with ErrNotConnected.
func (c *Conn) failAcks() {
	c.acks.mu.Lock()
	waiting := c.acks.waiting
	c.acks.waiting = nil
	c.acks.mu.Unlock()
	for _, done := range waiting {
		done(ErrNotConnected)
	}
}
