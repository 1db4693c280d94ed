package conn

import (
	"errors"

	"github.com/gorilla/websocket"

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

// SendAll sends events as Send does, in order, and writes them together:
// over a websocket with one system call, which is what makes a burst of
// events cheap. done is nil, or holds a function per body, as for Send
// (a nil one asks for no acknowledgement). It returns how many events
// were written whole to the network (in order: the first n), and
// ErrNotConnected when not all were; the caller keeps the others. Events
// with a done function are answered through it whatever happens to the
// write, as with Send, once SendAll found the connection up.
func (c *Conn) SendAll(bodies [][]byte, done []func(args []any, err error)) (int, error) {
	c.mu.Lock()
	if !c.connected || c.link == nil {
		c.mu.Unlock()
		return 0, ErrNotConnected
	}
	l := c.link
	// The packets' headers, one slice each out of one buffer.
	heads := make([]byte, 0, len(bodies)*c.HeaderSize())
	msgs := make([]out, len(bodies))
	for i, b := range bodies {
		id := int64(-1)
		if done != nil && done[i] != nil {
			id = c.nextAck
			c.nextAck++
			c.acks[id] = done[i]
		}
		start := len(heads)
		if !l.msgpack {
			heads = append(heads, '4')
		}
		heads = lines.AppendPacketHeader(heads, pEvent, 0, c.nsp, id)
		msgs[i] = out{typ: websocket.TextMessage, head: heads[start:len(heads):len(heads)], body: b}
	}
	c.mu.Unlock()
	if l.msgpack {
		for i, m := range msgs {
			bin, err := toMsgpack(append(append(make([]byte, 0, m.size()), m.head...), m.body...), nil)
			if err != nil {
				// Not an event of ours (Send fails the same way).
				l.close("transport error")
				return 0, ErrNotConnected
			}
			msgs[i] = out{typ: websocket.BinaryMessage, body: bin}
		}
	}
	n, err := l.writeAll(msgs)
	if err != nil {
		// The reader sees the link end and fails what waits on it.
		l.close("transport error")
		return n, ErrNotConnected
	}
	return n, nil
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
