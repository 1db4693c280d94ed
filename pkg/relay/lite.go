package relay

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"github.com/sio-tools/sio/pkg/relay/internal/libfix"
	"github.com/sio-tools/sio/pkg/relay/internal/wsconn"
	"github.com/zishang520/socket.io/parsers/socket/v3/parser"
	"github.com/zishang520/socket.io/servers/socket/v3"
	"github.com/zishang520/socket.io/v3/pkg/types"
)

// The relay's own sessions. A client that opens an Engine.IO v4 session
// (on a websocket, or on long-polling, which it may upgrade) gets a
// wsconn.Conn and a liteConn instead of the library's engine socket,
// client and sockets: the
// library keeps about 46 KB and three goroutines per idle connection, a
// liteConn a few KB and one goroutine (docs/ARCHITECTURE.md). The relay's
// rules are the same on both kinds: events go to the other clients of the
// namespace or rooms, whichever kind they are (recipients and
// liteRecipients), acks are answered once written, packets are checked
// as libfix checks them, sessions resume after a cut connection from the
// same log of numbered events and store of kept sessions (recovery.go:
// join, replayLite, keepLite).
//
// The library still serves the adapters (--redis, --redis-streams),
// --parser msgpack, recovery for every client (sio-serve --recover given),
// JSONP long-polling and Engine.IO v3: their sessions are the library's.

// liteOn reports whether o lets the relay serve sessions itself.
func (o Options) liteOn() bool {
	return !o.LibraryOnly && o.Adapter == nil && !o.Msgpack && !(o.Recover > 0 && o.RecoverAll)
}

// liteConfig is the sessions' Engine.IO settings: the library's defaults
// where o leaves them zero.
func (o Options) liteConfig() *wsconn.Config {
	cfg := &wsconn.Config{
		PingInterval: o.PingInterval,
		PingTimeout:  o.PingTimeout,
		MaxPayload:   o.MaxBytes,
		MaxQueue:     o.MaxQueue,
		StallTime:    stallTime,
		HardFactor:   hardQueueFactor,
	}
	if cfg.PingInterval <= 0 {
		cfg.PingInterval = 25 * time.Second
	}
	if cfg.PingTimeout <= 0 {
		cfg.PingTimeout = 20 * time.Second
	}
	return cfg
}

// liteSet is every session of the relay's own and its sockets by
// namespace and room.
type liteSet struct {
	cfg   *wsconn.Config
	mu    sync.RWMutex
	conns map[*liteConn]struct{}
	sids  map[string]*liteConn // the sessions that started on long-polling, by id
	nsps  map[string]*liteNsp
}

type liteNsp struct {
	socks map[*liteSock]struct{}
	rooms map[socket.Room]map[*liteSock]struct{}
	// every is socks as a list, never changed once made: made by the
	// first event after a join or a leave (nil until then), read by the
	// events after it without copying (a map's range was 4% of
	// sio-serve's CPU in the pipeline, once per event).
	every atomic.Pointer[[]*liteSock]
}

func newLiteSet(cfg *wsconn.Config) *liteSet {
	return &liteSet{cfg: cfg, conns: make(map[*liteConn]struct{}), sids: make(map[string]*liteConn),
		nsps: make(map[string]*liteNsp)}
}

// count is the number of open sessions.
func (ls *liteSet) count() int {
	ls.mu.RLock()
	defer ls.mu.RUnlock()
	return len(ls.conns)
}

// all lists the open sessions.
func (ls *liteSet) all() []*liteConn {
	ls.mu.RLock()
	defer ls.mu.RUnlock()
	list := make([]*liteConn, 0, len(ls.conns))
	for c := range ls.conns {
		list = append(list, c)
	}
	return list
}

// serves tells whether a session socket is in nsp.
func (ls *liteSet) serves(nsp string) bool {
	ls.mu.RLock()
	defer ls.mu.RUnlock()
	return ls.nsps[nsp] != nil
}

// join records s; answer runs under the lock, after s is recorded: a
// broadcast that finds s comes after it, one that came before does not
// find s.
func (ls *liteSet) join(s *liteSock, answer func()) {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	defer answer()
	n := ls.nsps[s.from.nsp]
	if n == nil {
		n = &liteNsp{socks: make(map[*liteSock]struct{})}
		ls.nsps[s.from.nsp] = n
	}
	n.socks[s] = struct{}{}
	n.every.Store(nil)
	for _, room := range s.from.rooms {
		if n.rooms == nil {
			n.rooms = make(map[socket.Room]map[*liteSock]struct{})
		}
		m := n.rooms[room]
		if m == nil {
			m = make(map[*liteSock]struct{})
			n.rooms[room] = m
		}
		m[s] = struct{}{}
	}
}

func (ls *liteSet) leave(s *liteSock) {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	n := ls.nsps[s.from.nsp]
	if n == nil {
		return
	}
	delete(n.socks, s)
	n.every.Store(nil)
	for _, room := range s.from.rooms {
		if m := n.rooms[room]; m != nil {
			delete(m, s)
			if len(m) == 0 {
				delete(n.rooms, room)
			}
		}
	}
	if len(n.socks) == 0 {
		delete(ls.nsps, s.from.nsp)
	}
}

// every returns the sockets of nsp. The list is shared: it is read, never
// changed.
func (ls *liteSet) every(nsp string) []*liteSock {
	ls.mu.RLock()
	defer ls.mu.RUnlock()
	n := ls.nsps[nsp]
	if n == nil {
		return nil
	}
	if l := n.every.Load(); l != nil {
		return *l
	}
	// Stored under the read lock: no join or leave (write lock) comes
	// between the range and the store.
	l := make([]*liteSock, 0, len(n.socks))
	for s := range n.socks {
		l = append(l, s)
	}
	n.every.Store(&l)
	return l
}

// recipients appends to list the sockets of nsp an event from a sender
// with these rooms goes to (the namespace's without rooms), but not.
func (ls *liteSet) recipients(list []*liteSock, nsp string, rooms []socket.Room, not *liteSock) []*liteSock {
	ls.mu.RLock()
	defer ls.mu.RUnlock()
	n := ls.nsps[nsp]
	if n == nil {
		return list
	}
	if len(rooms) == 0 {
		for s := range n.socks {
			if s != not {
				list = append(list, s)
			}
		}
		return list
	}
	var seen map[*liteSock]bool
	if len(rooms) > 1 {
		seen = make(map[*liteSock]bool)
	}
	for _, room := range rooms {
		for s := range n.rooms[room] {
			if s == not || seen[s] {
				continue
			}
			if seen != nil {
				seen[s] = true
			}
			list = append(list, s)
		}
	}
	return list
}

// liteRecipients calls fn for each session socket an event from from goes
// to.
func (r *Relay) liteRecipients(from *sender, fn func(*liteSock)) {
	if r.lite == nil {
		return
	}
	if len(from.rooms) == 0 {
		for _, s := range r.lite.every(from.nsp) {
			if s != from.l {
				fn(s)
			}
		}
		return
	}
	p := recipientLists.Get().(*[]*liteSock)
	list := r.lite.recipients((*p)[:0], from.nsp, from.rooms, from.l)
	for _, s := range list {
		fn(s)
	}
	if cap(list) <= 1<<12 {
		clear(list)
		*p = list[:0]
		recipientLists.Put(p)
	}
}

// recipientLists keeps liteRecipients' lists for the next events.
var recipientLists = sync.Pool{New: func() any { return new([]*liteSock) }}

// liteConn is the relay's side of one session.
type liteConn struct {
	r       *Relay
	c       *wsconn.Conn
	polling bool     // it started on long-polling (liteSet.sids)
	qrooms  []string // the handshake query's "room" values
	in      libfix.Inbound
	dec     parser.Decoder // while a binary packet's attachments come
	decode  *parser.Packet // what dec decoded last

	written written
	left    atomic.Bool // a socket left its namespace itself: the client is going
	joined  atomic.Bool

	mu     sync.Mutex
	socks  []*liteSock // by namespace
	closed bool

	joinedAddr, closedAddr func()
	bare                   *time.Timer
}

// liteSock is a session's socket in one namespace.
type liteSock struct {
	conn  *liteConn
	from  *sender // its namespace, id and rooms
	label string  // its namespace's metrics label
	// With recovery: its events carry offsets, its session is kept when
	// its connection is lost, by pid, from start (the last event before
	// it joined).
	offsets bool
	pid     socket.PrivateSessionId
	start   uint64
	gone    sync.Once
	told    atomic.Bool // the server's DISCONNECT was sent
}

// send queues frames for the session's client.
func (lc *liteConn) send(frames ...wsconn.Frame) { lc.c.Send(frames...) }

// Queued is told of frames queued for the client (wsconn.Handler).
func (lc *liteConn) Queued(frames []wsconn.Frame) {
	lc.written.created.Add(int64(len(frames)))
	for _, f := range frames {
		lc.r.bytesOut.Add(len(f.Data))
		if f.Binary || (len(f.Data) > 0 && f.Data[0] == '4') {
			lc.r.sent.Inc() // a message, as the library counts: not a ping
		}
	}
}

func (lc *liteConn) Flushing(n int) { lc.written.flush(n) }
func (lc *liteConn) Drained()       { lc.written.drain(1) }

// acceptLite opens a session of the relay's own on the websocket
// handshake req.
func (r *Relay) acceptLite(w http.ResponseWriter, req *http.Request, q url.Values) {
	var lc *liteConn
	_, err := wsconn.Accept(w, req, r.lite.cfg, r.newLiteConn(req, q, &lc, false))
	if err != nil {
		r.log.Debug("websocket handshake failed", "addr", req.RemoteAddr, "err", err)
		return
	}
	if r.closed.Load() {
		lc.c.Close("forced close") // Close may have listed the sessions before this one
	}
}

// acceptLitePolling opens a session of the relay's own on the
// long-polling handshake req; its client may upgrade it to a websocket.
func (r *Relay) acceptLitePolling(w http.ResponseWriter, req *http.Request, q url.Values) {
	var lc *liteConn
	wsconn.AcceptPolling(w, req, r.lite.cfg, r.newLiteConn(req, q, &lc, true))
	if r.closed.Load() {
		lc.c.Close("forced close")
	}
}

// serveLite answers a request that names a session of the relay's own
// (its sid); false if there is none by that id.
func (r *Relay) serveLite(w http.ResponseWriter, req *http.Request, q url.Values, sid string) bool {
	r.lite.mu.RLock()
	lc := r.lite.sids[sid]
	r.lite.mu.RUnlock()
	if lc == nil {
		return false
	}
	switch {
	case req.Method == http.MethodOptions:
		wsconn.Preflight(w, req)
	case q.Get("transport") == "polling":
		lc.c.ServePoll(w, req)
	case q.Get("transport") == "websocket" && websocket.IsWebSocketUpgrade(req):
		lc.c.Upgrade(w, req)
	default:
		wsconn.BadRequest(w, req)
	}
	return true
}

// newLiteConn makes the handler of a new session (stored in *lc); one
// that starts on long-polling is found by its id (sids).
func (r *Relay) newLiteConn(req *http.Request, q url.Values, lc **liteConn, polling bool) func(*wsconn.Conn) wsconn.Handler {
	return func(c *wsconn.Conn) wsconn.Handler {
		l := &liteConn{r: r, c: c, qrooms: q["room"], polling: polling}
		*lc = l
		if r.perAddress != nil {
			l.joinedAddr, l.closedAddr = r.perAddress.opened(req.RemoteAddr)
		}
		r.lite.mu.Lock()
		r.lite.conns[l] = struct{}{}
		if polling {
			r.lite.sids[c.ID()] = l
		}
		r.lite.mu.Unlock()
		l.bare = time.AfterFunc(r.connectTimeout, func() {
			if !l.joined.Load() {
				c.Close("forced close")
			}
		})
		return l
	}
}

// Message takes each message of the client, in order (wsconn.Handler).
func (lc *liteConn) Message(data []byte, binary bool) {
	r := lc.r
	r.bytesIn.Add(len(data))
	if binary {
		if reason := lc.in.Check(data, true); reason != "" {
			lc.refuse(reason)
			return
		}
		lc.add(types.NewBytesBuffer(data))
		return
	}
	if !lc.in.Owed() {
		if nsp, ok := flushRequest(data); ok {
			// Every event read before it was handed on already: the
			// reader relays them as it reads them.
			lc.send(wsconn.Frame{Data: []byte("44" + nsp + `,{"message":"flush confirmed"}`)})
			return
		}
		if lc.passthrough(data) {
			return
		}
	}
	if reason := lc.in.Check(data[1:], false); reason != "" {
		lc.refuse(reason)
		return
	}
	if lc.dec == nil {
		lc.dec = parser.NewDecoder()
		_ = lc.dec.On("decoded", func(args ...any) {
			if p, ok := args[0].(*parser.Packet); ok {
				lc.decode = p
			}
		})
	}
	lc.add(types.NewStringBuffer(data[1:]))
}

// add gives the decoder a packet's text or one of its attachments and
// handles what it decoded.
func (lc *liteConn) add(b types.BufferInterface) {
	if lc.dec == nil {
		lc.refuse("unexpected_binary")
		return
	}
	var err error
	if sb, ok := b.(*types.StringBuffer); ok {
		err = lc.dec.Add(sb)
	} else {
		err = lc.dec.Add(b)
	}
	if err != nil {
		lc.refuse("payload")
		return
	}
	p := lc.decode
	lc.decode = nil
	if p == nil {
		return // attachments owed
	}
	if !lc.in.Owed() {
		lc.dec = nil // kept only while attachments come
	}
	lc.handle(p)
}

// refuse closes the session for a packet the official parsers refuse.
func (lc *liteConn) refuse(reason string) {
	lc.r.invalidPacket(reason, lc.c.RemoteAddr())
	lc.c.Close("parse error")
}

// sock is the session's socket in nsp, or nil.
func (lc *liteConn) sock(nsp string) *liteSock {
	lc.mu.Lock()
	defer lc.mu.Unlock()
	for _, s := range lc.socks {
		if s.from.nsp == nsp {
			return s
		}
	}
	return nil
}

// passthrough relays a plain event (or one that asks for an ack) as it
// was read, as Relay.passthrough does for the library's sessions.
func (lc *liteConn) passthrough(msg []byte) bool {
	msg, nsp, ack, ok := passable(msg)
	if !ok {
		return false
	}
	s := lc.sock(string(nsp))
	if s == nil {
		return false // handle closes the session
	}
	from, r := s.from, lc.r
	var then func()
	if ack >= 0 {
		then = func() { r.afterWritten(from, func(lost, all int) { r.answerAck(from, ack, lost, all) }) }
	}
	r.forward(from, msg, then)
	return true
}

// handle takes a decoded packet.
func (lc *liteConn) handle(p *parser.Packet) {
	if p.Type == parser.CONNECT {
		lc.connect(p)
		return
	}
	s := lc.sock(p.Nsp)
	if s == nil {
		// A packet for a namespace it did not join: the library and Node
		// close the connection ("invalid state").
		lc.c.Close("parse error")
		return
	}
	switch p.Type {
	case parser.DISCONNECT:
		lc.left.Store(true)
		lc.leave(s, "client namespace disconnect")
	case parser.EVENT, parser.BINARY_EVENT:
		args, _ := p.Data.([]any)
		if p.Id != nil {
			id := *p.Id
			args = append(args, socket.Ack(func(data []any, _ error) { lc.ack(s, id, data) }))
		}
		lc.r.relay(s.from, args)
	}
	// An ACK answers nothing the relay asked: dropped.
}

// ack answers an event's ack id with data.
func (lc *liteConn) ack(s *liteSock, id uint64, data []any) {
	if data == nil {
		data = []any{}
	}
	body, err := json.Marshal(data)
	if err != nil {
		body = []byte("[]")
	}
	pkt := "43" + nspPrefix(s.from.nsp) + strconv.FormatUint(id, 10) + string(body)
	lc.send(wsconn.Frame{Data: []byte(pkt)})
}

// nspPrefix is how a packet names nsp: nothing for "/", else nsp and a comma.
func nspPrefix(nsp string) string {
	if nsp == "/" {
		return ""
	}
	return nsp + ","
}

// connect joins the session to a namespace, as the library's namespaces
// and the relay's middlewares do: the token, the rooms, then the answer.
func (lc *liteConn) connect(p *parser.Packet) {
	r := lc.r
	nsp := p.Nsp
	if lc.sock(nsp) != nil {
		lc.c.Close("parse error") // a second CONNECT: "invalid state"
		return
	}
	if r.closed.Load() {
		lc.c.Close("forced close")
		return
	}
	auth, _ := p.Data.(map[string]any)
	addr := lc.c.RemoteAddr()
	if r.token != "" && !tokenOK(&socket.Handshake{Auth: auth}, r.token) {
		r.metrics.GetOrCreateCounter(`sio_refused_total{reason="unauthorized"}`).Inc()
		r.log.Warn("refused: bad or missing token", "addr", addr, "nsp", nsp)
		lc.connectError(nsp, map[string]any{"message": "unauthorized", "data": map[string]any{"reason": "token"}})
		return
	}
	rc := r.recovery
	var restored *socket.Session
	if rc != nil {
		pid, _ := auth["pid"].(string)
		offset, _ := auth["offset"].(string)
		if pid != "" && offset != "" {
			restored = rc.restore(nsp, socket.PrivateSessionId(pid), offset)
		}
	}
	s := &liteSock{conn: lc, label: r.nspLabel(nsp)}
	if restored != nil {
		d, _ := restored.Data.(sessionData)
		s.pid, s.start, s.offsets = restored.Pid, d.start, true
		var rooms []socket.Room
		if restored.Rooms != nil {
			for _, room := range restored.Rooms.Keys() {
				if room != socket.Room(restored.Sid) { // the library's sockets are in a room of their own id
					rooms = append(rooms, room)
				}
			}
		}
		s.from = newLiteSender(s, string(restored.Sid), nsp, rooms)
	} else {
		h := &socket.Handshake{Auth: auth}
		if len(lc.qrooms) > 0 {
			h.Query = types.ParsedUrlQuery{"room": lc.qrooms}
		}
		rooms := Rooms(h)
		if len(rooms) > r.maxRooms {
			r.Refused("rooms")
			r.log.Warn("refused: too many rooms", "addr", addr, "nsp", nsp, "rooms", len(rooms), "max", r.maxRooms)
			lc.connectError(nsp, map[string]any{"message": "too many rooms", "data": map[string]any{"max": r.maxRooms}})
			return
		}
		if rc != nil {
			if v, ok := auth[OffsetsKey].(bool); (ok && v) || rc.all {
				s.offsets, s.pid = true, socket.PrivateSessionId(wsconn.NewID())
			}
		}
		s.from = newLiteSender(s, wsconn.NewID(), nsp, rooms)
	}
	if f := testHookJoining; f != nil {
		f()
	}
	// Counted before it is recorded: leave, which may come as soon as
	// it is, counts it out.
	r.mu.Lock()
	r.liteSocks++
	r.byNsp[s.label]++
	r.mu.Unlock()
	if s.offsets {
		rc.connected(s.pid)
	}
	replayed, ok := lc.join(s, restored != nil)
	if !ok {
		r.mu.Lock()
		r.liteSocks--
		r.byNsp[s.label]--
		r.mu.Unlock()
		if restored != nil {
			rc.persist(restored.SessionToPersist) // kept for the client's next try
			lc.c.Close("forced close")
		}
		if s.offsets {
			rc.disconnected(s.pid)
		}
		return
	}
	// Close may have listed the sockets to tell before this one was
	// recorded: then it is told here (it was recorded before this look,
	// so a Close that starts later lists it).
	closing := r.closed.Load()
	r.connects.Inc()
	if !lc.joined.Swap(true) {
		lc.bare.Stop()
		if lc.joinedAddr != nil {
			lc.joinedAddr()
		}
	}
	if restored != nil {
		r.log.Info("connect", "id", s.from.id, "nsp", nsp, "addr", addr, "rooms", s.from.rooms, "recovered", true, "replayed", replayed)
	} else {
		r.log.Info("connect", "id", s.from.id, "nsp", nsp, "addr", addr, "rooms", s.from.rooms, "recovered", false)
	}
	if closing {
		lc.disconnect(s)
	}
}

// join records a socket with its session and namespace and answers its
// CONNECT; false if the session closed meanwhile. A client told it joined
// gets every event sent after, and none before the answer. A socket whose events
// carry offsets joins under its namespace's log lock, which orders the
// events: a new session starts after the last event numbered, a resumed
// one is written every event it missed (replay) before any later one.
func (lc *liteConn) join(s *liteSock, resumed bool) (replayed int, ok bool) {
	answer := `{"sid":"` + string(s.from.id) + `"}`
	if s.offsets {
		answer = `{"sid":"` + string(s.from.id) + `","pid":"` + string(s.pid) + `"}`
	}
	record := func() bool {
		lc.mu.Lock()
		defer lc.mu.Unlock()
		if lc.closed {
			return false
		}
		lc.socks = append(lc.socks, s)
		lc.r.lite.join(s, func() { lc.send(wsconn.Frame{Data: []byte("40" + nspPrefix(s.from.nsp) + answer)}) })
		return true
	}
	if !s.offsets {
		return 0, record()
	}
	rc := lc.r.recovery
	l := rc.lockedLogAlive(s.from.nsp)
	defer l.mu.Unlock()
	if !resumed {
		l.used = true
		l.touched = time.Now().UnixNano()
		s.start = l.next - 1
		return 0, record()
	}
	c, catching := l.catching[s.from.id]
	if !catching {
		return 0, false // given up on (trim): the client starts again
	}
	delete(l.catching, s.from.id)
	if !record() {
		return 0, false
	}
	return rc.replayLite(l, s, c.after), true
}

// connectError refuses a CONNECT with a CONNECT_ERROR packet.
func (lc *liteConn) connectError(nsp string, body map[string]any) {
	b, _ := json.Marshal(body)
	lc.send(wsconn.Frame{Data: []byte("44" + nspPrefix(nsp) + string(b))})
}

// leave takes a socket out of its namespace.
func (lc *liteConn) leave(s *liteSock, reason string) {
	s.gone.Do(func() {
		r := lc.r
		lc.mu.Lock()
		for i, o := range lc.socks {
			if o == s {
				lc.socks = append(lc.socks[:i], lc.socks[i+1:]...)
				break
			}
		}
		lc.mu.Unlock()
		r.lite.leave(s)
		r.mu.Lock()
		r.liteSocks--
		r.byNsp[s.label]--
		r.mu.Unlock()
		if s.offsets {
			r.recovery.keepLite(s, reason)
		}
		r.metrics.GetOrCreateCounter(`sio_disconnections_total{reason="` + reason + `"}`).Inc()
		r.log.Info("disconnect", "id", s.from.id, "nsp", s.from.nsp, "reason", reason)
	})
}

// disconnect tells the client its socket was disconnected by the server.
func (lc *liteConn) disconnect(s *liteSock) {
	if s.told.Swap(true) {
		return
	}
	lc.send(wsconn.Frame{Data: []byte("41" + nspPrefix(s.from.nsp))})
	lc.leave(s, "server namespace disconnect")
}

// Closed ends the session (wsconn.Handler).
func (lc *liteConn) Closed(reason string) {
	if hook := testHookEngineClose.Load(); hook != nil {
		(*hook)()
	}
	r := lc.r
	if reason == "slow consumer" {
		r.slow.Inc()
		r.log.Warn("disconnect slow consumer", "id", lc.c.ID(), "queued_bytes", lc.c.Queued(), "max", r.lite.cfg.MaxQueue)
		reason = "forced close"
	}
	lc.mu.Lock()
	lc.closed = true
	socks := append([]*liteSock(nil), lc.socks...)
	lc.mu.Unlock()
	kept := false // a socket's session is kept: what was not written will be
	for _, s := range socks {
		kept = kept || (s.offsets && recoverable(reason))
		lc.leave(s, reason)
	}
	lc.written.close(!lc.left.Load() && !kept)
	lc.bare.Stop()
	if lc.closedAddr != nil {
		lc.closedAddr()
	}
	r.lite.mu.Lock()
	delete(r.lite.conns, lc)
	if lc.polling {
		delete(r.lite.sids, lc.c.ID())
	}
	r.lite.mu.Unlock()
}

// closeLite tells every session's sockets they are disconnected (Close).
func (r *Relay) closeLite() {
	if r.lite == nil {
		return
	}
	for _, lc := range r.lite.all() {
		lc.mu.Lock()
		socks := append([]*liteSock(nil), lc.socks...)
		lc.mu.Unlock()
		for _, s := range socks {
			lc.disconnect(s)
		}
	}
}

// endLite closes the sessions left (Close, once the wait is over).
func (r *Relay) endLite() {
	if r.lite == nil {
		return
	}
	for _, lc := range r.lite.all() {
		lc.c.Close("forced close")
	}
}

// sendTo queues the event for a session of the relay's own. A text-only
// event goes as one frame made on the stack: no array per event.
func (o *outgoing) sendTo(lc *liteConn) {
	if o.frame != nil {
		lc.send(wsconn.Frame{Data: o.frame})
		return
	}
	lc.send(o.liteFrames()...)
}

// liteFrames is an outgoing event as session frames, made once per event.
func (o *outgoing) liteFrames() []wsconn.Frame {
	if o.frames != nil {
		return o.frames
	}
	if o.frame != nil {
		o.frames = []wsconn.Frame{{Data: o.frame}}
		return o.frames
	}
	fs := make([]wsconn.Frame, 0, len(o.packets))
	for _, p := range o.packets {
		if sb, ok := p.(*types.StringBuffer); ok {
			fs = append(fs, wsconn.Frame{Data: append([]byte{'4'}, sb.Bytes()...)})
			continue
		}
		fs = append(fs, wsconn.Frame{Data: p.Bytes(), Binary: true})
	}
	o.frames = fs
	return fs
}
