// Package streamsadapter joins sio-serve to other Socket.IO servers
// through a Redis stream, speaking the protocol of Node's
// @socket.io/redis-streams-adapter 0.3 (on socket.io-adapter's
// ClusterAdapter), so that sio-serve and Node servers can share one
// cluster that loses nothing while Redis or a node's link to it is down.
//
// A broadcast is an entry of the stream (default "socket.io", trimmed to
// about MaxLen entries) with the string fields uid (the namespace
// adapter's id), nsp, type ("3", a BROADCAST) and data: the JSON of
// {packet: {type, data, nsp}, opts: {rooms, except, flags}}, or, when the
// packet holds binary, the base64 of its msgpack. Every node reads the
// stream from where it stopped: a node cut from Redis, or a Redis that
// restarts with its data, resumes and misses nothing the stream still
// holds. A broadcast that cannot be added while Redis is away waits, in
// order, up to Options.QueueBytes.
//
// Requests between nodes go over pub/sub: each namespace adapter
// subscribes to "PREFIX#NSP#" (so that PUBSUB NUMSUB counts it as a
// server) and to "PREFIX#NSP#UID#" for answers; fetchSockets is answered
// with the local sockets, serverSideEmit with an acknowledgement of nil
// (sio-serve has no server-side handlers), a broadcast with acks with the
// count of local clients and each client's ack.
package streamsadapter

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/sio-tools/sio/pkg/internal/wire"
	"github.com/sio-tools/sio/pkg/lines"
	"github.com/vmihailenco/msgpack/v5"
	"github.com/zishang520/socket.io/parsers/socket/v3/parser"
	"github.com/zishang520/socket.io/servers/socket/v3"
	"github.com/zishang520/socket.io/v3/pkg/types"
)

// Options are the adapter's settings, with Node's defaults.
type Options struct {
	StreamName    string // "socket.io"
	MaxLen        int64  // about how many entries the stream keeps: 10000
	ReadCount     int64  // entries read at once: 100
	ChannelPrefix string // of the pub/sub channels: "socket.io"
	// SessionKeyPrefix names the sessions kept for recovery: "sio:session:".
	SessionKeyPrefix string
	// QueueBytes bounds the broadcasts waiting for Redis, in bytes;
	// past it they are dropped and counted. Default 64 MiB.
	QueueBytes int64
}

func (o Options) withDefaults() Options {
	if o.StreamName == "" {
		o.StreamName = "socket.io"
	}
	if o.MaxLen <= 0 {
		o.MaxLen = 10000
	}
	if o.ReadCount <= 0 {
		o.ReadCount = 100
	}
	if o.ChannelPrefix == "" {
		o.ChannelPrefix = "socket.io"
	}
	if o.SessionKeyPrefix == "" {
		o.SessionKeyPrefix = "sio:session:"
	}
	if o.QueueBytes <= 0 {
		o.QueueBytes = 64 << 20
	}
	return o
}

// Message types of socket.io-adapter's ClusterAdapter.
const (
	typeBroadcast            = 3
	typeSocketsJoin          = 4
	typeSocketsLeave         = 5
	typeDisconnectSockets    = 6
	typeFetchSockets         = 7
	typeFetchSocketsResponse = 8
	typeServerSideEmit       = 9
	typeServerSideEmitResp   = 10
	typeBroadcastClientCount = 11
	typeBroadcastAck         = 12
)

// blockTime is how long one XREAD waits for entries.
const blockTime = 5 * time.Second

// Cluster is one server's link to the stream. Use Adapter as the
// Socket.IO server's adapter.
type Cluster struct {
	*wire.Link // Up, WriteMetrics (sio_redis_*), the log
	rdb        *redis.Client
	opts       Options

	done      chan struct{} // closed by Close
	closeOnce sync.Once
	wg        sync.WaitGroup

	mu       sync.Mutex
	adapters map[string]*adapter // by namespace
	ps       *redis.PubSub
	subMu    sync.Mutex // orders the pub/sub subscriptions of adapters

	out outQueue
	uid string        // names this server's entries (sio_id)
	seq atomic.Uint64 // numbers them
}

// Open connects to the Redis at url and starts reading the stream from
// its end. It fails when the URL is bad or Redis does not answer within
// timeout; later outages are ridden out (see Up).
func Open(ctx context.Context, url string, o Options, timeout time.Duration, log *slog.Logger) (*Cluster, error) {
	ro, err := redis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("bad Redis URL %q: %v", url, err)
	}
	ro.MinRetryBackoff = 100 * time.Millisecond
	ro.MaxRetryBackoff = 2 * time.Second
	ro.ReadTimeout = blockTime + 5*time.Second // an XREAD blocks for blockTime
	// No retry by the client library: it would send again a pipeline of
	// additions whose answer it lost (added twice); publish does it,
	// after it looked what was added.
	ro.MaxRetries = -1
	c := &Cluster{
		Link:     wire.NewLink(log, "serving local clients, keeping broadcasts until it is back"),
		rdb:      redis.NewClient(ro),
		opts:     o.withDefaults(),
		done:     make(chan struct{}),
		adapters: map[string]*adapter{},
		uid:      newUID(),
	}
	c.out.init(c.opts.QueueBytes)
	c.Metrics.NewGauge("sio_redis_queued_bytes", func() float64 { return float64(c.out.size()) })
	octx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	last, err := c.lastID(octx)
	if err != nil {
		_ = c.rdb.Close()
		return nil, fmt.Errorf("redis at %s: %v", ro.Addr, err)
	}
	c.ps = c.rdb.Subscribe(octx)
	c.Started()
	c.wg.Add(3)
	go c.read(last)
	go c.publish(last)
	go c.receive()
	return c, nil
}

// lastID is the id of the stream's last entry, where reading starts
// ("0-0" for an empty or missing stream): unlike "$", nothing added
// between two reads is missed.
func (c *Cluster) lastID(ctx context.Context) (string, error) {
	e, err := c.rdb.XRevRangeN(ctx, c.opts.StreamName, "+", "-", 1).Result()
	if err != nil {
		return "", err
	}
	if len(e) == 0 {
		return "0-0", nil
	}
	return e[0].ID, nil
}

// Close stops reading and publishing; it may be called more than once.
// Broadcasts still waiting for Redis are dropped.
func (c *Cluster) Close() {
	c.closeOnce.Do(func() {
		close(c.done)
		c.out.close()
		_ = c.ps.Close()
		_ = c.rdb.Close()
		c.wg.Wait()
	})
}

func (c *Cluster) closed() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// pause waits d, or less if the cluster closes; it reports false then.
func (c *Cluster) pause(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-c.done:
		return false
	case <-t.C:
		return true
	}
}

// read reads the stream from after id, for ever, and hands each entry to
// its namespace's adapter. After an error it goes on from the same id.
func (c *Cluster) read(id string) {
	defer c.wg.Done()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-c.done
		cancel()
	}()
	backoff := 100 * time.Millisecond
	for !c.closed() {
		res, err := c.rdb.XRead(ctx, &redis.XReadArgs{
			Streams: []string{c.opts.StreamName, id},
			Count:   c.opts.ReadCount,
			Block:   blockTime,
		}).Result()
		if err != nil && !errors.Is(err, redis.Nil) {
			if c.closed() {
				return
			}
			c.SetUp(false, err)
			if !c.pause(backoff) {
				return
			}
			backoff = min(2*backoff, 2*time.Second)
			continue
		}
		backoff = 100 * time.Millisecond
		c.SetUp(true, nil)
		for _, s := range res {
			for _, e := range s.Messages {
				c.onEntry(e)
				id = e.ID
			}
		}
	}
}

// onEntry takes one stream entry.
func (c *Cluster) onEntry(e redis.XMessage) {
	nsp, _ := e.Values["nsp"].(string)
	if nsp == "" {
		return // not a Socket.IO entry
	}
	c.mu.Lock()
	a := c.adapters[nsp]
	c.mu.Unlock()
	if a == nil {
		return // no client of that namespace here
	}
	m, err := decodeEntry(e.Values)
	if err != nil {
		c.Malformed.Inc()
		c.Log.Warn("dropped a malformed stream entry", "id", e.ID, "err", err)
		return
	}
	if m.UID == a.uid {
		return // our own
	}
	m.Offset = e.ID
	c.Received.Inc()
	a.onMessage(m)
}

// publish adds the queued broadcasts to the stream, in order, many per
// round trip. What Redis did not take is tried again until it does, and
// nothing twice: a batch whose answer was lost (a cut connection) may
// have been added in part, so before it is sent again the stream is read
// for it (landed). Each entry carries an id of its own for that, sio_id,
// a field Node's adapter ignores.
func (c *Cluster) publish(last string) {
	defer c.wg.Done()
	ctx := context.Background()
	backoff := 100 * time.Millisecond
	uncertain := false // the last batch may have been added in part
	fail := func(err error) bool {
		if c.closed() {
			return false
		}
		c.SetUp(false, err)
		if !c.pause(backoff) {
			return false
		}
		backoff = min(2*backoff, 2*time.Second)
		return true
	}
	for {
		batch := c.out.peek(256)
		if batch == nil {
			return // closed
		}
		if uncertain {
			ids, err := c.landed(ctx, last, batch)
			if err != nil {
				if !fail(err) {
					return
				}
				continue
			}
			uncertain = false
			if len(ids) > 0 {
				last = ids[len(ids)-1]
				c.out.drop(len(ids), ids)
				c.Published.Add(len(ids))
				continue
			}
		}
		pipe := c.rdb.Pipeline()
		cmds := make([]*redis.StringCmd, len(batch))
		for i, m := range batch {
			cmds[i] = pipe.XAdd(ctx, &redis.XAddArgs{Stream: c.opts.StreamName, MaxLen: c.opts.MaxLen, Approx: true, Values: m.values})
		}
		if _, err := pipe.Exec(ctx); err != nil {
			uncertain = true
			if !fail(err) {
				return
			}
			continue
		}
		backoff = 100 * time.Millisecond
		c.SetUp(true, nil)
		ids := make([]string, len(cmds))
		for i, cmd := range cmds {
			ids[i] = cmd.Val()
		}
		last = ids[len(ids)-1]
		c.out.drop(len(batch), ids)
		c.Published.Add(len(batch))
	}
}

// landed reads the stream after last, the id of the last entry known to
// be added, for the entries of batch, and returns the ids of those added:
// a batch's first entries, as Redis runs a pipeline in order.
func (c *Cluster) landed(ctx context.Context, last string, batch []entry) ([]string, error) {
	found := map[string]string{} // sio_id → stream id
	for from := nextOffset(last); ; {
		es, err := c.rdb.XRangeN(ctx, c.opts.StreamName, from, "+", 1000).Result()
		if err != nil {
			return nil, err
		}
		for _, e := range es {
			if id, ok := e.Values["sio_id"].(string); ok {
				found[id] = e.ID
			}
			from = nextOffset(e.ID)
		}
		if len(es) < 1000 {
			break
		}
	}
	var ids []string
	for _, m := range batch {
		id, ok := found[m.values["sio_id"].(string)]
		if !ok {
			break
		}
		ids = append(ids, id)
	}
	return ids, nil
}

// nextSioID names an entry of this server's (publish).
func (c *Cluster) nextSioID() string {
	return c.uid + "-" + strconv.FormatUint(c.seq.Add(1), 10)
}

// receive takes the pub/sub messages: requests of other nodes.
func (c *Cluster) receive() {
	defer c.wg.Done()
	ch := c.ps.Channel(redis.WithChannelSize(1 << 12))
	for {
		select {
		case <-c.done:
			return
		case m, ok := <-ch:
			if !ok {
				return
			}
			c.onPubSub(m.Channel, []byte(m.Payload))
		}
	}
}

func (c *Cluster) onPubSub(channel string, body []byte) {
	rest, ok := strings.CutPrefix(channel, c.opts.ChannelPrefix+"#")
	if !ok {
		return
	}
	m, err := decodeRequest(body)
	if err != nil {
		c.Malformed.Inc()
		c.Log.Warn("dropped a malformed message from redis", "channel", channel, "err", err)
		return
	}
	c.mu.Lock()
	a := c.adapters[m.Nsp]
	c.mu.Unlock()
	if a == nil || !strings.HasPrefix(rest, m.Nsp+"#") || m.UID == a.uid {
		return
	}
	c.Received.Inc()
	a.onMessage(m)
}

// answer publishes a response to the node whose adapter is uid.
func (c *Cluster) answer(nsp, uid string, body []byte) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.rdb.Publish(ctx, c.opts.ChannelPrefix+"#"+nsp+"#"+uid+"#", body).Err(); err != nil {
		c.Log.Warn("cannot answer a request of another node", "err", err)
	}
}

// Adapter returns the Socket.IO adapter constructor for the cluster.
func (c *Cluster) Adapter() socket.AdapterConstructor { return builder{c} }

type builder struct{ c *Cluster }

func (b builder) New(nsp socket.Namespace) socket.Adapter {
	a := &adapter{Adapter: socket.MakeAdapter(), c: b.c, uid: newUID()}
	a.Prototype(a)
	a.Construct(nsp)
	return a
}

// adapter is the library's in-memory adapter that also adds every
// broadcast that is not local-only to the stream, and answers the other
// nodes' requests.
type adapter struct {
	socket.Adapter
	c   *Cluster
	uid string
	// recovery is the server's connection state recovery window in ms,
	// 0 when off: broadcasts then carry their stream id as an offset,
	// and sessions are kept in Redis (sessions.go).
	recovery int64
	// gate holds local broadcasts while a restored session's socket is
	// not yet registered (sessions.go).
	gate      sync.RWMutex
	restoring sync.Map // socket id → release func, while gate is held
	caughtUp  sync.Map // socket id → the last stream id of its restore
}

func (a *adapter) channels() []string {
	p := a.c.opts.ChannelPrefix + "#" + a.Nsp().Name() + "#"
	return []string{p, p + a.uid + "#"}
}

func (a *adapter) Init() {
	a.Adapter.Init()
	if r := a.Nsp().Server().Opts().ConnectionStateRecovery(); r != nil {
		a.recovery = r.MaxDisconnectionDuration()
	}
	// Subscriptions change in the order namespaces come and go: a
	// namespace freed and made again at once keeps its public channel.
	a.c.subMu.Lock()
	defer a.c.subMu.Unlock()
	a.c.mu.Lock()
	a.c.adapters[a.Nsp().Name()] = a
	a.c.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := a.c.ps.Subscribe(ctx, a.channels()...); err != nil {
		a.c.Log.Warn("cannot subscribe to the requests of other nodes", "nsp", a.Nsp().Name(), "err", err)
	}
}

func (a *adapter) Close() {
	a.c.subMu.Lock()
	a.c.mu.Lock()
	if a.c.adapters[a.Nsp().Name()] == a {
		delete(a.c.adapters, a.Nsp().Name())
	}
	other := a.c.adapters[a.Nsp().Name()] != nil // made again meanwhile
	a.c.mu.Unlock()
	if !a.c.closed() {
		chans := a.channels()
		if other {
			chans = chans[1:] // the public channel is the new adapter's too
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = a.c.ps.Unsubscribe(ctx, chans...)
		cancel()
	}
	a.c.subMu.Unlock()
	a.Adapter.Close()
}

func (a *adapter) Broadcast(p *parser.Packet, o *socket.BroadcastOptions) {
	switch {
	case o != nil && o.Flags != nil && o.Flags.Local:
	case a.recovery > 0 && storable(p, o):
		// The event's offset is its stream id: wait for it (while
		// Redis is away too), as Node does.
		values, err := a.entry(p, o)
		if err != nil {
			a.c.Dropped.Inc()
			break
		}
		if id := a.c.out.pushWait(values); id != "" {
			p.Data = append(p.Data.([]any), id)
		} else {
			a.c.Dropped.Inc()
		}
	default:
		a.publish(p, o)
	}
	a.local(p, o)
}

// local broadcasts to the clients here, unless a restore holds the gate,
// and not to a restored socket that got the event among its missed ones.
func (a *adapter) local(p *parser.Packet, o *socket.BroadcastOptions) {
	a.gate.RLock()
	defer a.gate.RUnlock()
	if a.recovery > 0 {
		if data, ok := p.Data.([]any); ok && len(data) > 1 && storable(p, o) {
			if off, ok := data[len(data)-1].(string); ok && offsetRE.MatchString(off) {
				o = a.skipCaughtUp(off, o)
			}
		}
	}
	a.Adapter.Broadcast(p, o)
}

// entry is a broadcast's stream entry, with its sio_id.
func (a *adapter) entry(p *parser.Packet, o *socket.BroadcastOptions) (map[string]any, error) {
	values, err := encodeEntry(a.uid, a.Nsp().Name(), p, o)
	if err == nil {
		values["sio_id"] = a.c.nextSioID()
	}
	return values, err
}

// storable tells whether a broadcast is kept for recovery and carries
// an offset: an event without ack, not volatile (as Node decides).
func storable(p *parser.Packet, o *socket.BroadcastOptions) bool {
	if p.Type != parser.EVENT && p.Type != parser.BINARY_EVENT || p.Id != nil {
		return false
	}
	if _, ok := p.Data.([]any); !ok {
		return false
	}
	return o == nil || o.Flags == nil || !o.Flags.Volatile
}

func (a *adapter) publish(p *parser.Packet, o *socket.BroadcastOptions) {
	values, err := a.entry(p, o)
	if err != nil {
		a.c.Dropped.Inc()
		a.c.Log.Warn("cannot publish to redis", "err", err)
		return
	}
	if !a.c.out.push(values) {
		a.c.Dropped.Inc()
		a.c.Log.Warn("dropped a broadcast: too much waits for redis", "queued_bytes", a.c.out.size())
	}
}

// onMessage takes a message of another node of the namespace.
func (a *adapter) onMessage(m *message) {
	switch m.Type {
	case typeBroadcast:
		p, o, err := m.broadcast()
		if err != nil {
			a.c.Malformed.Inc()
			return
		}
		if m.RequestID == "" {
			if a.recovery > 0 && m.Offset != "" && storable(p, o) {
				p.Data = append(p.Data.([]any), m.Offset)
			}
			a.local(p, o)
			return
		}
		a.broadcastWithAck(m, p, o)
	case typeSocketsJoin, typeSocketsLeave, typeDisconnectSockets:
		o, rooms, err := m.socketsOp()
		if err != nil {
			a.c.Malformed.Inc()
			return
		}
		switch m.Type {
		case typeSocketsJoin:
			a.Adapter.AddSockets(o, rooms)
		case typeSocketsLeave:
			a.Adapter.DelSockets(o, rooms)
		default:
			closeToo, _ := m.Data["close"].(bool)
			a.Adapter.DisconnectSockets(o, closeToo)
		}
	case typeFetchSockets:
		a.fetchSockets(m)
	case typeServerSideEmit:
		if m.RequestID != "" {
			a.respond(m, typeServerSideEmitResp, map[string]any{"requestId": m.RequestID, "packet": nil})
		}
	}
}

// broadcastWithAck sends a broadcast with acks of another node to the
// clients here, and tells that node how many there are and each ack.
func (a *adapter) broadcastWithAck(m *message, p *parser.Packet, o *socket.BroadcastOptions) {
	a.gate.RLock()
	defer a.gate.RUnlock()
	a.Adapter.BroadcastWithAck(p, o, func(n uint64) {
		a.respond(m, typeBroadcastClientCount, map[string]any{"requestId": m.RequestID, "clientCount": n})
	}, func(args []any, err error) {
		var v any
		if len(args) > 0 {
			v = wire.ToWire(args[0])
		}
		a.respond(m, typeBroadcastAck, map[string]any{"requestId": m.RequestID, "packet": v})
	})
}

// fetchSockets answers a fetchSockets request with the sockets here.
func (a *adapter) fetchSockets(m *message) {
	o, _, err := m.socketsOp()
	if err != nil {
		a.c.Malformed.Inc()
		return
	}
	o.Flags = &socket.BroadcastFlags{Local: true}
	a.Adapter.FetchSockets(o)(func(list []socket.SocketDetails, err error) {
		sockets := make([]any, 0, len(list))
		for _, s := range list {
			var rooms []string
			if r := s.Rooms(); r != nil {
				for _, k := range r.Keys() {
					rooms = append(rooms, string(k))
				}
			}
			sockets = append(sockets, map[string]any{
				"id": string(s.Id()), "handshake": s.Handshake(), "rooms": rooms, "data": wire.ToWire(s.Data()),
			})
		}
		a.respond(m, typeFetchSocketsResponse, map[string]any{"requestId": m.RequestID, "sockets": sockets})
	})
}

// respond publishes a response to the node that sent m.
func (a *adapter) respond(m *message, typ int, data map[string]any) {
	body, err := msgpack.Marshal(map[string]any{"uid": a.uid, "nsp": a.Nsp().Name(), "type": typ, "data": data})
	if err != nil {
		a.c.Log.Warn("cannot encode a response", "err", err)
		return
	}
	go a.c.answer(a.Nsp().Name(), m.UID, body)
}

// newUID names a namespace adapter in its messages, like Node's
// randomBytes(8).toString("hex").
func newUID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// encodeEntry makes the stream entry of a broadcast.
func encodeEntry(uid, nsp string, p *parser.Packet, o *socket.BroadcastOptions) (map[string]any, error) {
	rooms, except := []string{}, []string{}
	flags := map[string]any{}
	if o != nil {
		rooms, except = names(o.Rooms), names(o.Except)
		if o.Flags != nil && o.Flags.Volatile {
			flags["volatile"] = true
		}
	}
	data := wire.ToWire(p.Data)
	typ := p.Type
	if typ == parser.BINARY_EVENT {
		typ = parser.EVENT
	}
	body := map[string]any{
		"packet": map[string]any{"type": int(typ), "data": data, "nsp": nsp},
		"opts":   map[string]any{"rooms": rooms, "except": except, "flags": flags},
	}
	var s string
	if lines.HasBinary([]any{data}) {
		b, err := msgpack.Marshal(body)
		if err != nil {
			return nil, err
		}
		s = base64.StdEncoding.EncodeToString(b)
	} else {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		s = string(b)
	}
	return map[string]any{"uid": uid, "nsp": nsp, "type": "3", "data": s}, nil
}

func names(s *types.Set[socket.Room]) []string {
	out := []string{}
	if s == nil {
		return out
	}
	for _, r := range s.Keys() {
		out = append(out, string(r))
	}
	return out
}
