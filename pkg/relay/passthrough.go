package relay

import (
	"bytes"
	"encoding/json"
	"strconv"
	"sync"

	"github.com/sio-tools/sio/pkg/lines"
	"github.com/sio-tools/sio/pkg/relay/internal/libfix"
	"github.com/sio-tools/sio/pkg/relay/internal/wsconn"
	"github.com/zishang520/socket.io/servers/socket/v3"
	"github.com/zishang520/socket.io/v3/pkg/types"
)

// sender is a client's socket in one namespace, as the relay forwards its
// events: to its rooms when it has any, else to its whole namespace.
type sender struct {
	s       *socket.Socket // a socket of the library's, or
	l       *liteSock      // one of the relay's own sessions (lite.go)
	id      socket.SocketId
	nsp     string
	rooms   []socket.Room
	roomSet *types.Set[socket.Room] // rooms, as the adapter takes them; nil without
}

func newSender(s *socket.Socket, rooms []socket.Room) *sender {
	from := &sender{s: s, id: s.Id(), nsp: s.Nsp().Name(), rooms: rooms}
	if len(rooms) > 0 {
		from.roomSet = types.NewSet(rooms...)
	}
	return from
}

func newLiteSender(l *liteSock, id, nsp string, rooms []socket.Room) *sender {
	from := &sender{l: l, id: socket.SocketId(id), nsp: nsp, rooms: rooms}
	if len(rooms) > 0 {
		from.roomSet = types.NewSet(rooms...)
	}
	return from
}

// senders are a connection's sockets by namespace name.
type senders struct {
	mu    sync.RWMutex
	byNsp map[string]*sender
}

func (ss *senders) add(nsp string, s *sender) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.byNsp == nil {
		ss.byNsp = make(map[string]*sender)
	}
	ss.byNsp[nsp] = s
}

func (ss *senders) remove(nsp string, s *socket.Socket) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if cur := ss.byNsp[nsp]; cur != nil && cur.s == s {
		delete(ss.byNsp, nsp)
	}
}

// all returns every sender of the connection.
func (ss *senders) all() []*sender {
	ss.mu.RLock()
	defer ss.mu.RUnlock()
	list := make([]*sender, 0, len(ss.byNsp))
	for _, s := range ss.byNsp {
		list = append(list, s)
	}
	return list
}

func (ss *senders) get(nsp []byte) *sender {
	ss.mu.RLock()
	defer ss.mu.RUnlock()
	return ss.byNsp[string(nsp)]
}

// passthrough relays a plain event (no ack asked for, no binary) as its
// sender encoded it: the message's bytes are the frame every recipient
// gets. The library would decode the arguments into maps, run its
// listeners, encode them again and queue a task nobody listens to, which
// was most of the relay's work per event. It reports whether it took the
// message; what it does not take (acks, binary, a name the relay drops,
// a socket still joining, anything unusual) goes to the library as before.
//
// The event is forwarded on the sender's own task queue, where the library
// puts the events it decodes, so events keep their order whichever way
// they go.
//
// An event that asks for an ack goes the same way, without its ack id
// (the relay answers the ack itself once the event was written to every
// recipient, as for the events the library decodes): decoded, its
// arguments were encoded again, their keys sorted and big numbers
// rounded (sio-pub --ack | ... | sio-sub -f json changed the data).
func (r *Relay) passthrough(sid string, msg []byte) bool {
	msg, nsp, ack, ok := passable(msg)
	if !ok {
		return false
	}
	c, ok := r.conns.Load(sid)
	if !ok {
		return false
	}
	st := c.(*connState)
	from := st.senders.get(nsp)
	if from == nil {
		// A socket still joining (its CONNECT answer may be out): its
		// first events wait for the join, as the library's would, and
		// then pass through as sent. Handed to the library, they were
		// decoded and encoded again (keys sorted, numbers respelled).
		st.joins.Wait(string(nsp))
		if from = st.senders.get(nsp); from == nil {
			return false
		}
	}
	r.bytesIn.Add(len(msg))
	from.s.Enqueue(func() {
		var then func()
		if ack >= 0 {
			then = func() { r.afterWritten(from, func(lost, all int) { r.answerAck(from, ack, lost, all) }) }
		}
		r.forward(from, msg, then)
	})
	return true
}

// passable reads a message the passthrough may take: a plain event
// (ack -1), or one that asks for an ack (its id; msg without it), whose
// name is not reserved.
func passable(msg []byte) (plain, nsp []byte, ack int64, ok bool) {
	ack = -1
	nsp, name, ok := plainEvent(msg)
	if !ok {
		msg, ack, ok = ackedEvent(msg)
		if !ok {
			return nil, nil, 0, false
		}
		nsp, name, ok = plainEvent(msg)
	}
	if !ok || lines.Reserved(string(name)) {
		return nil, nil, 0, false
	}
	return msg, nsp, ack, true
}

// ackedEvent turns an event that asks for an ack, "4" "2" ["/" NSP ","]
// ID JSON-ARRAY, into the same event without its ack id, and the id.
func ackedEvent(msg []byte) (plain []byte, id int64, ok bool) {
	if len(msg) < 4 || msg[0] != '4' || msg[1] != '2' {
		return nil, 0, false
	}
	head := 2
	if msg[2] == '/' {
		i := bytes.IndexByte(msg[2:], ',')
		if i < 0 {
			return nil, 0, false
		}
		head += i + 1
	}
	n := head
	for n < len(msg) && n-head < 16 && msg[n] >= '0' && msg[n] <= '9' {
		n++
	}
	// At most libfix.MaxAckID digits, as libfix allows (more is not an exact
	// number in JavaScript): such an event takes the library's way, where
	// the check closes its sender.
	if n == head || n-head > libfix.MaxAckID || n == len(msg) || msg[n] != '[' {
		return nil, 0, false
	}
	id, err := strconv.ParseInt(string(msg[head:n]), 10, 64)
	if err != nil {
		return nil, 0, false
	}
	plain = make([]byte, 0, len(msg)-(n-head))
	return append(append(plain, msg[:head]...), msg[n:]...), id, true
}

// answerAck answers the ack a sender asked for, as relay does: with no
// argument, or with an error when some recipients' connection was lost
// before the event was written to them.
func (r *Relay) answerAck(from *sender, id int64, lost, all int) {
	args := "[]"
	if lost > 0 {
		msg, _ := json.Marshal(notDelivered(lost, all))
		args = `[{"error":` + string(msg) + `}]`
	}
	pkt := "3" + nspPrefix(from.nsp) + strconv.FormatInt(id, 10) + args
	if from.l != nil {
		from.l.conn.send(wsconn.Frame{Data: []byte("4" + pkt)})
		return
	}
	opts := &socket.WriteOptions{PreEncoded: true}
	opts.WsPreEncodedFrame = types.NewStringBuffer([]byte("4" + pkt))
	from.s.Client().WriteToEngine([]types.BufferInterface{types.NewStringBuffer([]byte(pkt))}, opts)
}

// forward writes the Engine.IO message msg, an event from one client, to
// the other clients of its namespace or rooms.
//
// The sender may have disconnected since it sent the event (sio-pub does,
// once the server has read everything): its events are relayed all the
// same, as the library relays the ones it decoded.
func (r *Relay) forward(from *sender, msg []byte, then func()) {
	r.events.Inc()
	r.broadcast(from, func(off uint64) outgoing {
		if off != 0 {
			return outgoing{frame: withOffset(msg, off)}
		}
		return outgoing{frame: msg}
	}, then)
}

// withOffset appends offset off, as a last string argument, to a plain
// event (an Engine.IO message whose JSON array ends the message).
func withOffset(msg []byte, off uint64) []byte {
	end := len(bytes.TrimRight(msg, " \t\r\n")) - 1 // the array's "]"
	out := make([]byte, 0, end+24)
	out = append(out, msg[:end]...)
	out = append(out, ',', '"')
	out = strconv.AppendUint(out, off, 10)
	return append(out, '"', ']')
}

// recipients calls fn for each client an event from a sender goes to: the
// other members of its rooms when it has any, else of its namespace.
func (r *Relay) recipients(from *sender, fn func(*socket.Socket)) {
	s := from.s
	var nsp socket.Namespace
	if s != nil {
		nsp = s.Nsp()
	} else if r.namespaces != nil {
		nsp, _ = r.namespaces.Load(from.nsp)
	}
	if nsp == nil {
		return // no client of the library's in it
	}
	each := func(to *socket.Socket) {
		if to != s && to.Connected() {
			fn(to)
		}
	}
	if from.roomSet != nil {
		for _, id := range nsp.Adapter().Sockets(from.roomSet).Keys() {
			if to, ok := nsp.Sockets().Load(id); ok {
				each(to)
			}
		}
		return
	}
	nsp.Sockets().Range(func(_ socket.SocketId, to *socket.Socket) bool {
		each(to)
		return true
	})
}

// plainEvent parses an Engine.IO message that carries a Socket.IO EVENT
// packet with no ack id: "4" "2" ["/" NSP ","] JSON-ARRAY, whose first
// element is a string without escapes, the event's name. The array must
// be valid JSON in valid UTF-8: a recipient's client would fail on
// anything else.
func plainEvent(msg []byte) (nsp, name []byte, ok bool) {
	if len(msg) < 4 || msg[0] != '4' || msg[1] != '2' {
		return nil, nil, false
	}
	b := msg[2:]
	nsp = mainNsp
	if b[0] == '/' {
		i := bytes.IndexByte(b, ',')
		if i <= 1 { // no comma, or "/," (the main namespace, spelled out)
			return nil, nil, false
		}
		nsp, b = b[:i], b[i+1:]
	}
	if len(b) == 0 || b[0] != '[' { // an ack id, or not an array
		return nil, nil, false
	}
	n := bytes.TrimLeft(b[1:], " \t\r\n")
	if len(n) == 0 || n[0] != '"' {
		return nil, nil, false
	}
	end := bytes.IndexAny(n[1:], "\"\\")
	if end < 0 || n[1+end] != '"' {
		return nil, nil, false
	}
	// Text frames must be UTF-8 (a browser closes its connection on one
	// that is not); the library's decoding mends what is not.
	if !lines.Valid(b, lines.UTF8|lines.Floats) {
		return nil, nil, false
	}
	return nsp, n[1 : 1+end], true
}

var mainNsp = []byte("/")
