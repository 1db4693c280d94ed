package conn

import (
	"errors"

	"github.com/sio-tools/sio/pkg/lines"
)

// ErrNotConnected is returned while the connection is down: the caller
// keeps what it wanted to send.
var ErrNotConnected = errors.New("not connected")

// HeaderSize is the most Send adds to a body: the Engine.IO message type,
// the packet type, the namespace and an ack id.
func (c *Conn) HeaderSize() int {
	return 1 + len(lines.AppendPacketHeader(nil, pEvent, 0, c.nsp, 1<<52))
}

// Send sends an event whose data, the JSON array ["event", args...], the
// caller encoded (lines.AppendArray). It returns once the event was
// written to the network, or ErrNotConnected, when it was not written.
//
// With done nil the event asks for no acknowledgement. Otherwise done gets
// the acknowledgement's arguments, or ErrNotConnected when the connection
// was lost first; an event whose write failed is answered that way too,
// and Send returns nil.
func (c *Conn) Send(body []byte, done func(args []any, err error)) error {
	l, id := c.prepare(done)
	if l == nil {
		return ErrNotConnected
	}
	text := lines.AppendPacketHeader(make([]byte, 0, len(body)+24), pEvent, 0, c.nsp, id)
	return c.write(l, append(text, body...), nil, done != nil)
}

// Emit sends an event with any arguments, binary ones ([]byte, also
// nested) as attachments; done as for Send.
func (c *Conn) Emit(event string, args []any, done func(args []any, err error)) error {
	l, id := c.prepare(done)
	if l == nil {
		return ErrNotConnected
	}
	text, bins := encodeEvent(c.nsp, id, event, args)
	return c.write(l, text, bins, done != nil)
}

// prepare returns the joined connection and, when done is set, the ack id
// it is registered under (else -1).
func (c *Conn) prepare(done func([]any, error)) (*link, int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.connected || c.link == nil {
		return nil, -1
	}
	id := int64(-1)
	if done != nil {
		id = c.nextAck
		c.nextAck++
		c.acks[id] = done
	}
	return c.link, id
}

func (c *Conn) write(l *link, text []byte, bins [][]byte, acked bool) error {
	if err := l.writePacket(text, bins); err != nil {
		// The reader sees the link end and fails what waits on it.
		l.close("transport error")
		if acked {
			return nil
		}
		return ErrNotConnected
	}
	return nil
}

// acked calls the done function of an acknowledged event.
func (c *Conn) acked(id int64, args []any) {
	c.mu.Lock()
	done := c.acks[id]
	delete(c.acks, id)
	c.mu.Unlock()
	if done != nil {
		done(args, nil)
	}
}
