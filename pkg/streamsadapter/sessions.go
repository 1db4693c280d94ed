package streamsadapter

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sio-tools/sio/pkg/internal/wire"
	"github.com/vmihailenco/msgpack/v5"
	"github.com/zishang520/socket.io/servers/socket/v3"
	"github.com/zishang520/socket.io/v3/pkg/types"
)

// Connection state recovery across nodes, as Node's streams adapter does
// it: a session is kept in Redis under SessionKeyPrefix + pid (the base64
// of the msgpack of {sid, pid, rooms, data}, expiring with the recovery
// window), and a client that comes back to any node with its pid and the
// stream id of the last event it got receives the events of the stream
// after it that were for its rooms.

// restoreCalls bounds the XRANGE calls of one restore, and restoreCount
// the entries of each: a stream that grows faster than it is read does
// not keep a restore going for ever (Node stops after 100 calls too).
const (
	restoreCalls = 100
	restoreCount = 10000
)

var offsetRE = regexp.MustCompile(`^[0-9]+-[0-9]+$`)

// errNoSession is a restore that finds no session or no offset: the
// client gets a new session.
var errNoSession = errors.New("session or offset not found")

func (a *adapter) PersistSession(s *socket.SessionToPersist) {
	rooms := []string{}
	if s.Rooms != nil {
		for _, r := range s.Rooms.Keys() {
			rooms = append(rooms, string(r))
		}
	}
	body, err := msgpack.Marshal(map[string]any{"sid": string(s.Sid), "pid": string(s.Pid), "rooms": rooms, "data": wire.ToWire(s.Data)})
	if err != nil {
		a.c.Log.Warn("cannot keep a session", "err", err)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	key := a.c.opts.SessionKeyPrefix + string(s.Pid)
	if err := a.c.rdb.Set(ctx, key, base64.StdEncoding.EncodeToString(body), time.Duration(a.recovery)*time.Millisecond).Err(); err != nil {
		a.c.Log.Warn("cannot keep a session in redis", "err", err)
	}
}

// RestoreSession finds a session and the events it missed. From then
// until its socket is registered (Registered, or restoreHold at most),
// this server broadcasts to none of its clients: the socket is in no
// room yet, and an event broadcast meanwhile would be neither in the
// missed ones nor sent to it.
func (a *adapter) RestoreSession(pid socket.PrivateSessionId, offset string) (*socket.Session, error) {
	if !offsetRE.MatchString(offset) {
		return nil, errNoSession
	}
	a.gate.Lock()
	s, err := a.restore(pid, offset)
	if err != nil {
		a.gate.Unlock()
		return nil, err
	}
	var once sync.Once
	release := func() {
		once.Do(func() {
			a.restoring.Delete(s.Sid)
			a.gate.Unlock()
		})
	}
	a.restoring.Store(s.Sid, release)
	time.AfterFunc(restoreHold, release)
	return s, nil
}

// restoreHold bounds how long a restore holds the broadcasts here: a
// socket that is refused or goes before it is registered says nothing.
const restoreHold = 2 * time.Second

// Registered tells that the socket of a restored session is registered
// (the relay calls it from its connection handler): the broadcasts held
// since the restore go on, to it too.
func (a *adapter) Registered(sid socket.SocketId) {
	if release, ok := a.restoring.Load(sid); ok {
		release.(func())()
	}
}

func (a *adapter) restore(pid socket.PrivateSessionId, offset string) (*socket.Session, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	raw, err := a.c.rdb.GetDel(ctx, a.c.opts.SessionKeyPrefix+string(pid)).Result()
	if err != nil {
		return nil, errNoSession
	}
	at, err := a.c.rdb.XRange(ctx, a.c.opts.StreamName, offset, offset).Result()
	if err != nil || len(at) == 0 {
		return nil, errNoSession // trimmed away, or never there
	}
	s, err := decodeSession(raw)
	if err != nil {
		a.c.Malformed.Inc()
		return nil, errNoSession
	}
	missed, last, err := a.missed(ctx, offset, s.Rooms)
	if err != nil {
		return nil, errNoSession
	}
	// Events up to last may still be on their way to the clients here
	// (added to the stream, not yet broadcast here): the socket got them
	// among the missed ones, so not again (local).
	a.caughtUp.Store(s.Sid, last)
	time.AfterFunc(caughtUpFor, func() { a.caughtUp.CompareAndDelete(s.Sid, last) })
	return &socket.Session{SessionToPersist: s, MissedPackets: missed}, nil
}

// caughtUpFor is how long a restored socket's catch-up point is kept:
// long after the events before it were broadcast here.
const caughtUpFor = 30 * time.Second

// skipCaughtUp returns o, with the restored sockets that got the event
// of offset off among their missed events excepted.
func (a *adapter) skipCaughtUp(off string, o *socket.BroadcastOptions) *socket.BroadcastOptions {
	var skip []socket.Room
	a.caughtUp.Range(func(k, v any) bool {
		if !after(off, v.(string)) {
			skip = append(skip, socket.Room(k.(socket.SocketId)))
		}
		return true
	})
	if len(skip) == 0 {
		return o
	}
	c := &socket.BroadcastOptions{Except: types.NewSet(skip...)}
	if o != nil {
		c.Rooms, c.Flags = o.Rooms, o.Flags
		if o.Except != nil {
			c.Except.Add(o.Except.Keys()...)
		}
	}
	return c
}

// after tells whether stream id a comes after b.
func after(a, b string) bool {
	ams, aseq, _ := strings.Cut(a, "-")
	bms, bseq, _ := strings.Cut(b, "-")
	am, _ := strconv.ParseUint(ams, 10, 64)
	bm, _ := strconv.ParseUint(bms, 10, 64)
	if am != bm {
		return am > bm
	}
	as, _ := strconv.ParseUint(aseq, 10, 64)
	bs, _ := strconv.ParseUint(bseq, 10, 64)
	return as > bs
}

// missed reads the stream after offset for the events of this namespace
// that a session in rooms would have got, each with its offset.
// It also returns the id of the last entry read.
func (a *adapter) missed(ctx context.Context, offset string, rooms *types.Set[socket.Room]) ([]any, string, error) {
	missed := []any{}
	for range restoreCalls {
		entries, err := a.c.rdb.XRangeN(ctx, a.c.opts.StreamName, nextOffset(offset), "+", restoreCount).Result()
		if err != nil {
			return nil, "", err
		}
		for _, e := range entries {
			offset = e.ID
			if nsp, _ := e.Values["nsp"].(string); nsp != a.Nsp().Name() || e.Values["type"] != "3" {
				continue
			}
			m, err := decodeEntry(e.Values)
			if err != nil {
				continue
			}
			p, o, err := m.broadcast()
			if err != nil || !reaches(rooms, o) {
				continue
			}
			missed = append(missed, append(p.Data.([]any), e.ID))
		}
		if len(entries) < restoreCount {
			break
		}
	}
	return missed, offset, nil
}

// reaches tells whether a broadcast with o reached a session in rooms
// (its own id is one): to all, or to one of its rooms, and to none it is
// excepted from.
func reaches(rooms *types.Set[socket.Room], o *socket.BroadcastOptions) bool {
	in := o.Rooms == nil || o.Rooms.Len() == 0
	for _, r := range rooms.Keys() {
		if o.Except != nil && o.Except.Has(r) {
			return false
		}
		if !in && o.Rooms.Has(r) {
			in = true
		}
	}
	return in
}

// nextOffset is the id right after offset (XRANGE's exclusive start is
// Redis 6.2 or later).
func nextOffset(offset string) string {
	ms, seq, _ := strings.Cut(offset, "-")
	n, _ := strconv.ParseUint(seq, 10, 64)
	return ms + "-" + strconv.FormatUint(n+1, 10)
}

// decodeSession reads a kept session.
func decodeSession(raw string) (*socket.SessionToPersist, error) {
	b, err := base64.StdEncoding.DecodeString(raw)
	if err != nil {
		return nil, err
	}
	v, err := wire.DecodeMsgpack(b)
	if err != nil {
		return nil, err
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%w: session is %T", errMalformed, v)
	}
	sid, _ := m["sid"].(string)
	pid, _ := m["pid"].(string)
	if sid == "" || pid == "" {
		return nil, fmt.Errorf("%w: session without sid or pid", errMalformed)
	}
	rooms, err := wire.RoomList(m["rooms"])
	if err != nil {
		return nil, err
	}
	return &socket.SessionToPersist{Sid: socket.SocketId(sid), Pid: socket.PrivateSessionId(pid),
		Rooms: types.NewSet(rooms...), Data: wire.FromWire(m["data"])}, nil
}
