package conn

import (
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

	joined    bool
	lastHeard time.Time
	heard     atomic.Int64 // unix nanoseconds of the last frame, for the join watchdog
	isJoined  atomic.Bool

	pending *packet  // a packet waiting for its attachments
	bins    [][]byte // the attachments read so far
	early   []func() // events read before the CONNECT answer
}

// loop reads until the link ends and returns why it ended.
func (r *reader) loop() string {
	wait := r.l.pingWait()
	r.touch()
	watch := time.AfterFunc(joinWait, r.watchJoin)
	defer watch.Stop()
	for {
		_ = r.l.ws.SetReadDeadline(time.Now().Add(wait))
		typ, msg, err := r.l.ws.ReadMessage()
		if err != nil {
			if reason := r.l.closedReason(); reason != "" {
				return reason
			}
			reason := readReason(err)
			r.l.close(reason)
			return reason
		}
		r.touch()
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
			if err := r.l.writeText([]byte("3")); err != nil {
				r.l.close("transport error")
			}
		case '4': // message: a Socket.IO packet
			r.message(msg[1:])
		}
	}
}

func (r *reader) touch() {
	now := time.Now()
	r.lastHeard = now
	r.heard.Store(now.UnixNano())
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
		r.pending, r.bins = &p, make([][]byte, 0, p.attachments)
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
		name, args, err := decodeEvent(p.data, bins)
		if err != nil {
			r.l.close("parse error")
			return
		}
		deliver := func() { r.event(p.id, name, args) }
		if !r.joined {
			// A server replays what a resumed session missed before it
			// answers the CONNECT (as Node does): deliver it after.
			r.early = append(r.early, deliver)
			return
		}
		deliver()
	case pAck, pBinaryAck:
		args, err := decodeArgs(p.data, bins)
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
		if off, ok := lines.AsString(args[len(args)-1]); ok {
			args = args[:len(args)-1]
			c.mu.Lock()
			c.offset = off
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
