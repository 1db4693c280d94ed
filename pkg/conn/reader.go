package conn

import (
	"encoding/json"
	"io"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/sio-tools/sio/pkg/lines"
)

// reader reads one link: Engine.IO pings and messages, the Socket.IO
// packets they carry, their attachments.
type reader struct {
	c *Conn
	l *link

	joined   bool
	heard    atomic.Int64 // unix nanoseconds of the last read from the server (over long-polling: of the last frame)
	isJoined atomic.Bool
	arena    []byte // what is left of the buffer the next message is read into (readMessage)

	dec     decoder
	pending *packet  // a packet waiting for its attachments
	bins    [][]byte // the attachments read so far
	early   []func() // events read before the CONNECT answer
}

// loop reads until the link ends and returns why it ended.
//
// Over a websocket the connection under it (netConn) arms the read
// deadline and notes the time before and after each system call; over
// long-polling the loop does, for each message.
func (r *reader) loop() string {
	wait := r.l.pingWait()
	r.touch()
	nc := r.l.nc
	if nc != nil {
		nc.wait, nc.heard, nc.idle = wait, &r.heard, r.idle
	}
	watch := time.AfterFunc(joinWait, r.watchJoin)
	defer watch.Stop()
	for {
		if nc == nil {
			if !r.l.queued() {
				r.idle()
			}
			_ = r.l.ws.SetReadDeadline(time.Now().Add(wait))
		}
		typ, msg, err := r.next()
		if err != nil {
			if reason := r.l.closedReason(); reason != "" {
				return reason
			}
			reason := readReason(err)
			r.l.close(reason)
			return reason
		}
		if nc == nil {
			r.touch()
		}
		if typ == websocket.BinaryMessage {
			if r.l.msgpack {
				r.msgpackPacket(msg)
			} else {
				r.attachment(msg)
			}
			continue
		}
		if len(msg) == 0 {
			continue
		}
		switch msg[0] {
		case '1': // close
			r.l.close("transport close")
			return "transport close"
		case '2': // ping
			r.idle() // what was read goes on before a write can hold the reader up
			if err := r.l.writeText([]byte("3")); err != nil {
				r.l.close("transport error")
			}
		case '4': // message: a Socket.IO packet
			r.message(msg[1:])
		}
	}
}

// next reads the next message: straight from gorilla's reader into the
// arena over a websocket, else as the link's frames give it.
func (r *reader) next() (int, []byte, error) {
	if ws := r.l.direct(); ws != nil {
		return r.readMessage(ws)
	}
	return r.l.ws.ReadMessage()
}

// arenaSize is the size of the buffers messages are read into, one after
// the other: a message is a slice of one (which it keeps from the
// collector while anything holds on to it), not an allocation of its own
// that gorilla's ReadMessage grows from 512 bytes.
const arenaSize = 64 << 10

// readMessage reads ws's next message into the arena.
func (r *reader) readMessage(ws *websocket.Conn) (int, []byte, error) {
	typ, rd, err := ws.NextReader()
	if err != nil {
		return 0, nil, err
	}
	b := r.arena[:0]
	for {
		if len(b) == cap(b) {
			nb := make([]byte, len(b), max(arenaSize, 2*len(b)))
			copy(nb, b)
			b = nb
		}
		n, err := rd.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			break
		}
		if err != nil {
			return 0, nil, err
		}
	}
	r.arena = b[len(b):]
	return typ, b[:len(b):len(b)], nil
}

// idle tells the consumer that every event read so far was handed to it
// (Options.OnIdle).
func (r *reader) idle() {
	if f := r.c.opts.OnIdle; f != nil {
		f()
	}
}

// lastHeard is when the server was last heard.
func (r *reader) lastHeard() time.Time { return time.Unix(0, r.heard.Load()) }

func (r *reader) touch() {
	r.heard.Store(time.Now().UnixNano())
}

// watchJoin closes a link whose namespace CONNECT got no answer while the
// server sent nothing for joinWait; it runs on a timer.
func (r *reader) watchJoin() {
	if r.isJoined.Load() {
		return
	}
	idle := time.Since(time.Unix(0, r.heard.Load()))
	if idle >= joinWait {
		r.l.close("no answer to the namespace CONNECT")
		return
	}
	time.AfterFunc(joinWait-idle, r.watchJoin)
}

// message handles the text part of a Socket.IO packet.
func (r *reader) message(b []byte) {
	p, err := parsePacket(b)
	if err != nil {
		r.l.close("parse error")
		return
	}
	if p.attachments > 0 {
		pending := p
		r.pending, r.bins = &pending, make([][]byte, 0, p.attachments)
		return
	}
	r.packet(&p, nil)
}

// msgpackPacket takes a whole Socket.IO packet of the msgpack parser.
func (r *reader) msgpackPacket(b []byte) {
	text, bins, err := fromMsgpack(b)
	if err != nil {
		r.l.close("parse error")
		return
	}
	p, err := parsePacket(text)
	if err != nil {
		r.l.close("parse error")
		return
	}
	r.packet(&p, bins)
}

// attachment takes a binary frame: the next attachment of the pending
// packet.
func (r *reader) attachment(b []byte) {
	if r.pending == nil {
		r.l.close("parse error")
		return
	}
	r.bins = append(r.bins, b)
	if len(r.bins) == r.pending.attachments {
		p, bins := r.pending, r.bins
		r.pending, r.bins = nil, nil
		r.packet(p, bins)
	}
}

// packet handles a whole Socket.IO packet.
func (r *reader) packet(p *packet, bins [][]byte) {
	c := r.c
	if p.nsp != c.nsp {
		if isFlushNsp(p.nsp) {
			c.flushAnswered(r.l, p)
		}
		return
	}
	switch p.typ {
	case pConnect:
		if r.joined {
			return
		}
		r.joined = true
		r.isJoined.Store(true)
		c.joined(p.data)
		for _, deliver := range r.early {
			deliver()
		}
		r.early = nil
	case pConnectError:
		c.refused(r.l, p.data)
	case pDisconnect:
		r.l.close("io server disconnect")
	case pEvent, pBinaryEvent:
		name, args, err := r.dec.event(p.data, bins)
		if err != nil {
			r.l.close("parse error")
			return
		}
		if !r.joined {
			// A server replays what a resumed session missed before it
			// answers the CONNECT (as Node does): deliver it after.
			id := p.id
			r.early = append(r.early, func() { r.event(id, name, args) })
			return
		}
		r.event(p.id, name, args)
	case pAck, pBinaryAck:
		args, err := r.dec.args(p.data, bins)
		if err != nil {
			r.l.close("parse error")
			return
		}
		c.acked(p.id, args)
	}
}

// event hands one event on. With connection state recovery on, the server
// appends the event's offset as a last string argument: it is taken off
// and kept, to resume from it.
func (r *reader) event(id int64, name string, args []any) {
	c := r.c
	if c.recovering.Load() && len(args) > 0 {
		// Kept as it came, and read only to resume (offsetLocked).
		switch off := args[len(args)-1].(type) {
		case json.RawMessage:
			if len(off) > 0 && off[0] == '"' {
				args = args[:len(args)-1]
				c.mu.Lock()
				c.offset = off
				c.mu.Unlock()
			}
		case string:
			args = args[:len(args)-1]
			raw, _ := json.Marshal(off)
			c.mu.Lock()
			c.offset = raw
			c.mu.Unlock()
		}
	}
	if c.opts.OnEvent != nil {
		c.opts.OnEvent(name, args)
	}
	if id >= 0 {
		// The sender asked for an acknowledgement: the event was taken.
		_ = r.l.writePacket(append(lines.AppendPacketHeader(nil, pAck, 0, c.nsp, id), "[]"...), nil)
	}
}
