package relay

import (
	"iter"
	"log/slog"
	"math"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sio-tools/sio/pkg/relay/internal/libfix"
	"github.com/sio-tools/sio/pkg/relay/internal/wsconn"
	"github.com/zishang520/socket.io/servers/socket/v3"
	"github.com/zishang520/socket.io/v3/pkg/types"
)

// Connection state recovery, done by the relay rather than the library.
//
// A client whose connection was lost comes back with its session's
// private id and the offset of the last event it received; the server
// sends it what it missed and it goes on as if nothing happened. The
// library has this, but it does not hold across cut connections: events
// broadcast while a session is being restored (between the library's
// RestoreSession and the socket's registration in its namespace) reach
// neither the replay nor the socket; the replay is written before the
// CONNECT answer, so a large one outlasts a client's connect timeout; it
// numbers only events it broadcasts itself, so the relay's passthrough
// would be lost to it; and it finds an offset by a linear search.
//
// Here every event a namespace relays is numbered and kept for the
// recovery window (and within a byte budget), under one lock per
// namespace that also orders its writes to the recipients. A session being
// restored is "catching up": broadcasts skip it, and once its socket is
// registered the relay writes it every event after its offset, under the
// same lock, after the CONNECT answer. So every event goes to a resumed
// client exactly once, in order. The offset is the event's number as a
// decimal string, appended as a last argument (as Node does; clients take
// it off).
//
// The library still does the session's bookkeeping: it gives each socket
// a private id, calls PersistSession when a socket's connection is lost,
// and RestoreSession when a client comes back with an id and an offset;
// the relay's adapter answers both.
type recovery struct {
	window   time.Duration
	maxBytes int64
	logger   *slog.Logger
	all      bool // every client resumes; else only those that ask (OffsetsKey)

	bytes atomic.Int64 // kept in every namespace's log

	logs sync.Map // *eventLog by namespace name

	mu       sync.Mutex
	sessions map[socket.PrivateSessionId]*lostSession
	// live counts the connected sockets by private session id, so that a
	// client that comes back before the server saw its connection end
	// can wait for its session (restore).
	live map[socket.PrivateSessionId]int
	// gone is signalled (closed and replaced) whenever a live socket
	// went (its session, if any, is kept by then).
	gone chan struct{}

	expiry  *time.Timer // trims every log now and then (expire)
	stopped bool        // under mu: Relay.Close stopped the expiry
}

// noOffset is what a client that got no event in its session sends as its
// offset: a recovering server then replays from the session's start. (The
// library restores only with a non-empty offset; Node's client sends none
// in that case, and its session cannot be resumed.)
const noOffset = "0"

type lostSession struct {
	*socket.SessionToPersist
	at time.Time
}

// OffsetsKey, set to true in a client's handshake auth, asks the relay to
// number the client's events and keep its session when its connection
// is lost, also when recovery is not on for every client. sio-pub and
// sio-sub send it; other clients, which would see the offset as an extra
// last argument, get it only when recovery is on for all.
const OffsetsKey = "sio_offsets"

// sessionData is what the relay keeps in a socket's data: whether its
// events carry offsets (it can resume), and the offset of the last event
// before it joined.
type sessionData struct {
	offsets bool
	start   uint64
}

// offsets tells whether events to s carry an offset.
func offsets(s *socket.Socket) bool {
	d, _ := s.Data().(sessionData)
	return d.offsets
}

// eventLog is one namespace's numbered events.
type eventLog struct {
	mu sync.Mutex
	// used: a client whose events carry offsets joined the namespace once.
	// Until then its events are neither numbered nor kept: nobody could
	// resume to them (a session starts when its client joins), and the
	// namespace's clients (browsers, Node) pay nothing for recovery.
	used     bool
	entries  entries // oldest first
	next     uint64  // the number of the next event; the first is 1
	catching map[socket.SocketId]catchUp
	touched  int64 // unix nanoseconds: the last event, join or kept session
	dead     bool  // forgotten by expire

	// The events numbered and kept, not yet handed to their recipients,
	// in order (see broadcast).
	pending  []handover
	spare    []handover // the array of the last batch handed over, for reuse
	handing  bool       // a goroutine is handing the pending events over
	drained  sync.Cond  // signalled when the pending events were taken
	handOffs int        // batches handed over by goroutines of their own (tests)
}

// handover is one event for one recipient, or, with then set, a function
// to call once the events before it were handed over.
type handover struct {
	to   *socket.Socket
	out  *outgoing
	then func()
}

// maxPending bounds the events waiting to be handed over; a sender that
// finds more waits (the back pressure a lock gave).
const maxPending = 1024

// maxRounds bounds the batches one sender's goroutine hands over before a
// goroutine of its own takes over (the sender's own events wait
// meanwhile). A variable for tests.
var maxRounds = 4

type catchUp struct {
	after uint64
	since time.Time
}

// entry is one relayed event, kept for the sessions that may resume.
// It holds only what rebuilds the event (about 100 bytes besides the
// event's own).
type entry struct {
	off     uint64
	at      int64 // unix nanoseconds
	from    socket.SocketId
	rooms   *types.Set[socket.Room] // nil: the whole namespace
	frame   []byte                  // a text-only event: its websocket message, "4" + the packet
	packets []types.BufferInterface // else: the packet and its attachments
}

// entries is a queue of entries, oldest first, kept in blocks: a long log
// neither copies itself as it grows (a pause of milliseconds, at 100,000
// entries, for the sender whose event grew it) nor keeps one large array.
type entries struct {
	blocks [][]entry // each of capacity entryBlock
	head   int       // the oldest entry's index in blocks[0]
	n      int
}

const entryBlock = 1024

func (q *entries) len() int { return q.n }

func (q *entries) push(e entry) {
	if len(q.blocks) == 0 || len(q.blocks[len(q.blocks)-1]) == entryBlock {
		q.blocks = append(q.blocks, make([]entry, 0, entryBlock))
	}
	last := &q.blocks[len(q.blocks)-1]
	*last = append(*last, e)
	q.n++
}

// oldest returns the oldest entry; the queue is not empty.
func (q *entries) oldest() *entry { return &q.blocks[0][q.head] }

// drop drops the oldest entry; the queue is not empty.
func (q *entries) drop() {
	b := q.blocks[0]
	b[q.head] = entry{}
	q.head++
	q.n--
	if q.head == len(b) { // the block is done (or it was the last, now empty)
		q.blocks[0] = nil
		q.blocks = q.blocks[1:]
		q.head = 0
	}
}

// all yields every entry, oldest first.
func (q *entries) all() iter.Seq[*entry] {
	return func(yield func(*entry) bool) {
		for i, b := range q.blocks {
			j := 0
			if i == 0 {
				j = q.head
			}
			for ; j < len(b); j++ {
				if !yield(&b[j]) {
					return
				}
			}
		}
	}
}

// entryOverhead is what an entry costs besides its bytes, for the budget.
const entryOverhead = 112

func newEntry(off uint64, from *sender, out outgoing) entry {
	e := entry{off: off, at: time.Now().UnixNano(), from: from.id, rooms: from.roomSet}
	if out.frame != nil {
		e.frame = out.frame
	} else {
		e.packets = out.packets
	}
	return e
}

func (e *entry) size() int64 {
	n := int64(entryOverhead + len(e.frame))
	for _, p := range e.packets {
		n += int64(p.Len())
	}
	return n
}

// outgoing rebuilds the event for a replay.
func (e *entry) outgoing() outgoing {
	if e.frame != nil {
		return outgoing{frame: e.frame}
	}
	opts := &socket.WriteOptions{}
	opts.PreEncoded = true
	return outgoing{packets: e.packets, opts: opts}
}

func newRecovery(window time.Duration, maxBytes int64, all bool, logger *slog.Logger) *recovery {
	return &recovery{window: window, maxBytes: maxBytes, all: all, logger: logger, sessions: map[socket.PrivateSessionId]*lostSession{},
		live: map[socket.PrivateSessionId]int{}, gone: make(chan struct{})}
}

func (rc *recovery) log(nsp string) *eventLog {
	if l, ok := rc.logs.Load(nsp); ok {
		return l.(*eventLog)
	}
	nl := &eventLog{next: 1, catching: map[socket.SocketId]catchUp{}, touched: time.Now().UnixNano()}
	nl.drained.L = &nl.mu
	l, _ := rc.logs.LoadOrStore(nsp, nl)
	return l.(*eventLog)
}

// add keeps an event; l.mu is held.
func (rc *recovery) add(l *eventLog, e entry) {
	l.entries.push(e)
	l.touched = e.at
	rc.bytes.Add(e.size())
	rc.trim(l, e.at)
}

// trim drops the events older than the window, and the oldest while the
// logs hold more than maxBytes; l.mu is held.
func (rc *recovery) trim(l *eventLog, now int64) {
	for l.entries.len() > 0 {
		e := l.entries.oldest()
		if time.Duration(now-e.at) <= rc.window && rc.bytes.Load() <= rc.maxBytes {
			break
		}
		rc.bytes.Add(-e.size())
		l.entries.drop()
	}
	if len(l.catching) == 0 { // as it is nearly always: no range then, once per event
		return
	}
	for id, c := range l.catching {
		if time.Duration(now-c.since.UnixNano()) > time.Minute { // a restore that never finished
			delete(l.catching, id)
		}
	}
}

// expiryInterval is how often the logs are trimmed besides when an event
// comes: a namespace that fell silent lets its events go after the
// window all the same.
func (rc *recovery) expiryInterval() time.Duration {
	return max(100*time.Millisecond, min(rc.window/2, 10*time.Second))
}

// startExpiry trims every log each expiryInterval until stopExpiry.
func (rc *recovery) startExpiry(served func(nsp string) bool) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.expiry = time.AfterFunc(rc.expiryInterval(), func() {
		rc.expire(time.Now(), served)
		rc.mu.Lock()
		if !rc.stopped {
			rc.expiry.Reset(rc.expiryInterval())
		}
		rc.mu.Unlock()
	})
}

func (rc *recovery) stopExpiry() {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.stopped = true
	if rc.expiry != nil {
		rc.expiry.Stop()
	}
}

// expire trims every log, and forgets the log of a namespace that is no
// longer served (the library frees an empty one) once it holds nothing
// and nothing touched it for twice the window (no session kept for it
// can resume any more): clients that join namespace after namespace
// leave nothing behind.
func (rc *recovery) expire(now time.Time, served func(nsp string) bool) {
	rc.logs.Range(func(k, v any) bool {
		nsp, l := k.(string), v.(*eventLog)
		l.mu.Lock()
		rc.trim(l, now.UnixNano())
		idle := l.entries.len() == 0 && len(l.catching) == 0 && len(l.pending) == 0 && !l.handing &&
			time.Duration(now.UnixNano()-l.touched) > 2*rc.window
		if idle && nsp != "/" && !served(nsp) {
			l.dead = true // a client joining now makes a new log (begin)
			rc.logs.CompareAndDelete(nsp, l)
		}
		l.mu.Unlock()
		return true
	})
}

// begin notes whether a new socket's events carry offsets, and where its
// session starts.
func (rc *recovery) begin(s *socket.Socket) {
	on := rc.all
	if v, ok := s.Handshake().Auth[OffsetsKey].(bool); ok && v {
		on = true
	}
	if !on {
		s.SetData(sessionData{})
		libfix.DropPid(s) // no session is kept for it: no pid promises one
		return
	}
	l := rc.lockedLogAlive(s.Nsp().Name())
	defer l.mu.Unlock()
	l.used = true
	l.touched = time.Now().UnixNano()
	s.SetData(sessionData{offsets: true, start: l.next - 1})
}

// lockedLogAlive returns the log of nsp, locked, made if need be: not
// one that expire forgot meanwhile.
func (rc *recovery) lockedLogAlive(nsp string) *eventLog {
	l := rc.log(nsp)
	l.mu.Lock()
	for l.dead {
		l.mu.Unlock()
		l = rc.log(nsp)
		l.mu.Lock()
	}
	return l
}

// persist keeps a lost socket's session for the window, if it can resume.
func (rc *recovery) persist(s *socket.SessionToPersist) {
	if d, _ := s.Data.(sessionData); !d.offsets {
		return
	}
	now := time.Now()
	rc.mu.Lock()
	defer rc.mu.Unlock()
	for pid, ls := range rc.sessions {
		if now.Sub(ls.at) > rc.window {
			delete(rc.sessions, pid)
		}
	}
	rc.sessions[s.Pid] = &lostSession{s, now}
}

// liveWait bounds how long a client that comes back waits for the server
// to see its old connection end.
const liveWait = 5 * time.Second

// connected and disconnected count a socket that can resume as live.
func (rc *recovery) connected(pid socket.PrivateSessionId) {
	rc.mu.Lock()
	rc.live[pid]++
	rc.mu.Unlock()
}

func (rc *recovery) disconnected(pid socket.PrivateSessionId) {
	rc.mu.Lock()
	if rc.live[pid]--; rc.live[pid] <= 0 {
		delete(rc.live, pid)
	}
	close(rc.gone)
	rc.gone = make(chan struct{})
	rc.mu.Unlock()
}

// takeSession takes the kept session of pid, if any. A client can come
// back before the server saw its old connection end (a busy machine reads
// the reset late): the old socket is still connected, its session not
// kept yet, and the library would start a new one (a gap). While the old
// socket is connected, it waits for it to go (its session is kept then,
// and it has left its namespace, where the resumed socket takes its id),
// up to liveWait.
func (rc *recovery) takeSession(pid socket.PrivateSessionId) *lostSession {
	deadline := time.NewTimer(liveWait)
	defer deadline.Stop()
	for {
		rc.mu.Lock()
		live, gone := rc.live[pid] > 0, rc.gone
		var ls *lostSession
		if !live {
			ls = rc.sessions[pid]
			delete(rc.sessions, pid)
		}
		rc.mu.Unlock()
		if !live {
			return ls
		}
		select {
		case <-gone:
		case <-deadline.C:
			return nil
		}
	}
}

// restore takes a session back, if it is still kept and every event
// after offset is: the socket then catches up (see replay).
func (rc *recovery) restore(nsp string, pid socket.PrivateSessionId, offset string) *socket.Session {
	ls := rc.takeSession(pid)
	if ls == nil || time.Since(ls.at) > rc.window {
		rc.mu.Lock()
		live := rc.live[pid] > 0
		rc.mu.Unlock()
		rc.logger.Info("session not resumed: not kept", "nsp", nsp, "expired", ls != nil, "old_connection_still_open", live)
		return nil
	}
	var after uint64
	if offset == noOffset {
		d, ok := ls.Data.(sessionData)
		if !ok {
			rc.logger.Info("session not resumed: it kept no offsets", "nsp", nsp)
			return nil
		}
		after = d.start
	} else {
		n, err := strconv.ParseUint(offset, 10, 64)
		if err != nil {
			rc.logger.Info("session not resumed: the client's offset is not a number", "nsp", nsp, "offset", offset)
			return nil
		}
		after = n
	}
	if !rc.catchUp(nsp, ls.Sid, after) {
		return nil
	}
	if testHookRestored != nil {
		testHookRestored()
	}
	return &socket.Session{SessionToPersist: ls.SessionToPersist}
}

// testHookRestored, when set by a test, runs after a session was restored
// and before its socket is registered: the window in which the library's
// own recovery lost events.
var testHookRestored func()

// catchUp marks a socket being restored as catching up from after, if
// every event after it is still kept.
func (rc *recovery) catchUp(nsp string, sid socket.SocketId, after uint64) bool {
	l := rc.log(nsp)
	l.mu.Lock()
	defer l.mu.Unlock()
	oldest := l.next
	if l.entries.len() > 0 {
		oldest = l.entries.oldest().off
	}
	if after >= l.next {
		rc.logger.Info("session not resumed: the client's offset was never sent", "nsp", nsp, "id", sid, "after", after, "next", l.next)
		return false
	}
	if after+1 < oldest {
		rc.logger.Warn("session not resumed: events it missed are no longer kept (--recover-bytes, --recover)",
			"nsp", nsp, "id", sid, "after", after, "oldest_kept", oldest)
		return false
	}
	l.catching[sid] = catchUp{after: after, since: time.Now()}
	return true
}

// replay writes a resumed socket every event it missed, and from then on
// the socket gets broadcasts again.
func (rc *recovery) replay(s *socket.Socket) int {
	l := rc.log(s.Nsp().Name())
	l.mu.Lock()
	defer l.mu.Unlock()
	c, ok := l.catching[s.Id()]
	if !ok {
		return 0
	}
	delete(l.catching, s.Id())
	rooms := s.Rooms()
	n := 0
	for e := range l.entries.all() {
		if e.off <= c.after || e.from == s.Id() || !reaches(e.rooms, rooms) {
			continue
		}
		out := e.outgoing()
		out.writeTo(s)
		n++
	}
	return n
}

// replayLite writes a resumed session socket every event after after it
// missed; l.mu is held.
func (rc *recovery) replayLite(l *eventLog, s *liteSock, after uint64) int {
	rooms := types.NewSet(s.from.rooms...)
	n := 0
	for e := range l.entries.all() {
		if e.off <= after || e.from == s.from.id || !reaches(e.rooms, rooms) {
			continue
		}
		out := e.outgoing()
		out.sendTo(s.conn)
		n++
	}
	return n
}

// recoverable tells whether a socket that went for reason keeps its
// session, as Node's server decides: a connection lost or closed by the
// server, not a client that left or broke the protocol.
func recoverable(reason string) bool { return socket.RECOVERABLE_DISCONNECT_REASONS.Has(reason) }

// keepLite keeps a session socket's session when its connection is lost
// (as PersistSession does for the library's), and counts it gone.
func (rc *recovery) keepLite(s *liteSock, reason string) {
	if recoverable(reason) {
		rc.persist(&socket.SessionToPersist{
			Sid:   s.from.id,
			Pid:   s.pid,
			Rooms: types.NewSet(s.from.rooms...),
			Data:  sessionData{offsets: true, start: s.start},
		})
		l := rc.log(s.from.nsp)
		l.mu.Lock()
		l.touched = time.Now().UnixNano()
		l.mu.Unlock()
	}
	rc.disconnected(s.pid)
}

// reaches tells whether an event sent to rooms (nil: the namespace) goes
// to a member of the rooms in has.
func reaches(rooms, has *types.Set[socket.Room]) bool {
	if rooms == nil {
		return true
	}
	for _, r := range rooms.Keys() {
		if has.Has(r) {
			return true
		}
	}
	return false
}

// recoveryAdapter is the library's in-memory adapter with the relay's
// sessions.
type recoveryAdapter struct {
	socket.Adapter
	rc  *recovery
	nsp string
}

func (a *recoveryAdapter) PersistSession(s *socket.SessionToPersist) {
	a.rc.persist(s)
	l := a.rc.log(a.nsp)
	l.mu.Lock()
	l.touched = time.Now().UnixNano()
	l.mu.Unlock()
}

func (a *recoveryAdapter) RestoreSession(pid socket.PrivateSessionId, offset string) (*socket.Session, error) {
	return a.rc.restore(a.nsp, pid, offset), nil
}

type recoveryAdapterBuilder struct{ rc *recovery }

func (b recoveryAdapterBuilder) New(nsp socket.Namespace) socket.Adapter {
	return &recoveryAdapter{Adapter: socket.NewAdapter(nsp), rc: b.rc, nsp: nsp.Name()}
}

// outgoing is one event as its recipients get it: a text-only event's
// websocket message ("4" and the Socket.IO packet), or its Socket.IO
// packets (a text packet, then its attachments) and the library's write
// options.
type outgoing struct {
	frame   []byte
	packets []types.BufferInterface
	opts    *socket.WriteOptions
	frames  []wsconn.Frame // as the relay's own sessions take it (liteFrames)
}

// lib makes a text-only event's packets and write options, as the
// library takes them, once: an event that goes to sessions of the
// relay's own alone never needs them. It is called by the goroutine that
// makes the event, before others may read it.
func (o *outgoing) lib() *outgoing {
	if o.opts == nil {
		opts := &socket.WriteOptions{}
		opts.PreEncoded = true
		opts.WsPreEncodedFrame = types.NewStringBuffer(o.frame)
		// The Socket.IO packet, for transports that frame it themselves
		// (polling); the library copies it for each recipient.
		o.packets = []types.BufferInterface{types.NewStringBuffer(o.frame[1:])}
		o.opts = opts
	}
	return o
}

// writeTo writes the event to a socket of the library's. A text event to
// a connection on the relay's websocket transport goes to the engine
// without the copy of its packet WriteToEngine makes per recipient (4% of
// sio-serve's CPU in the pipeline): that transport writes the pre-encoded
// frame and never reads the packet, and a connection on it never goes back
// to long-polling, whose transport would read (and so use up) the packet.
func (o *outgoing) writeTo(s *socket.Socket) {
	o.lib()
	if o.frame != nil {
		if conn := s.Conn(); libfix.OnWebsocket(conn) {
			conn.Write(o.packets[0], &o.opts.Options, nil)
			return
		}
	}
	s.Client().WriteToEngine(o.packets, o.opts)
}

// lockedLog returns the log of namespace nsp, locked, when its events are
// numbered and kept (a client of it asked for offsets); else nil. rc may
// be nil (recovery off).
func (rc *recovery) lockedLog(nsp string) *eventLog {
	if rc == nil {
		return nil
	}
	v, ok := rc.logs.Load(nsp)
	if !ok {
		return nil
	}
	l := v.(*eventLog)
	l.mu.Lock()
	if !l.used {
		l.mu.Unlock()
		return nil
	}
	return l
}

// broadcast sends an event from a sender to the other clients of its
// namespace or rooms, then calls then (if not nil) once the event was
// handed to every recipient. build makes the event given its offset (0:
// none, recovery is off).
//
// With recovery, the event is numbered and kept under the namespace's
// lock, which orders it with every other event of the namespace and with
// the replays to resumed sessions: each client gets the events in the
// order of their numbers, so that its last number says what it missed.
// Handing an event to its recipients under that lock serialised the
// namespace's senders (10 senders to 10 receivers: 0.74x the deliveries
// of the relay without recovery): the waiting senders' goroutines parked,
// and the writers woken in their place wrote one frame per system call.
// So the lock only numbers an event and queues it with its recipients;
// one goroutine at a time (the first sender that finds none at work)
// hands the queue over, in order, outside the lock, while the others go
// back to reading.
func (r *Relay) broadcast(from *sender, build func(off uint64) outgoing, then func()) {
	l := r.recovery.lockedLog(from.nsp)
	if l == nil { // recovery off, or no client of the namespace asked for offsets
		out := build(0)
		r.recipients(from, out.writeTo)
		r.liteRecipients(from, func(to *liteSock) {
			// One whose events carry offsets joined after this event
			// was found unnumbered: its session starts after it.
			if !to.offsets {
				out.sendTo(to.conn)
			}
		})
		if then != nil {
			then()
		}
		return
	}
	rc := r.recovery
	off := l.next
	l.next++
	out := build(off)
	rc.add(l, newEntry(off, from, out))
	// The library's sockets are handed their events later, by pointer:
	// only then is the event copied to the heap.
	var lib, plain *outgoing // plain: for clients whose events carry no offset
	r.recipients(from, func(to *socket.Socket) {
		if _, catching := l.catching[to.Id()]; catching {
			return
		}
		if rc.all || offsets(to) {
			if lib == nil {
				lib = new(outgoing)
				*lib = out
			}
			l.pending = append(l.pending, handover{to: to, out: lib.lib()})
			return
		}
		if plain == nil {
			o := build(0)
			plain = &o
		}
		l.pending = append(l.pending, handover{to: to, out: plain.lib()})
	})
	// Writes to the relay's own sessions only queue: they go in the
	// log's order under its lock.
	r.liteRecipients(from, func(to *liteSock) {
		if to.offsets {
			out.sendTo(to.conn)
			return
		}
		if plain == nil {
			o := build(0)
			plain = &o
		}
		plain.sendTo(to.conn)
	})
	if then != nil {
		l.pending = append(l.pending, handover{then: then})
	}
	if l.handing {
		for len(l.pending) > maxPending && l.handing {
			l.drained.Wait()
		}
		l.mu.Unlock()
		return
	}
	l.handing = true
	l.handOver(maxRounds)
}

// handOver hands the pending events to their recipients, in order, until
// none is left, or for at most rounds batches: then a goroutine of its
// own goes on. l.mu is held on entry and released on return.
func (l *eventLog) handOver(rounds int) {
	for range rounds {
		batch := l.pending
		if len(batch) == 0 {
			l.handing = false
			l.mu.Unlock()
			return
		}
		l.pending = l.spare[:0]
		l.spare = nil
		l.drained.Broadcast()
		l.mu.Unlock()
		for i := range batch {
			h := &batch[i]
			if h.then != nil {
				h.then()
			} else {
				h.to.Client().WriteToEngine(h.out.packets, h.out.opts)
			}
		}
		clear(batch)
		l.mu.Lock()
		if cap(batch) <= 4*maxPending {
			l.spare = batch[:0]
		}
	}
	l.handOffs++
	l.mu.Unlock()
	go func() {
		l.mu.Lock()
		l.handOver(math.MaxInt)
	}()
}
