// Package redisadapter joins sio-serve to other Socket.IO servers through
// Redis, speaking the protocol of Node's @socket.io/redis-adapter (8.x,
// classic pub/sub), so that sio-serve and Node servers can share one
// cluster.
//
// A broadcast is published as the msgpack array [uid, packet, opts] on
// "socket.io#NSP#" (no room, or several), or "socket.io#NSP#ROOM#" (one
// room), where packet is {type, data, nsp} and opts {rooms, except,
// flags}. Every server subscribes to "socket.io#*" and broadcasts what the
// others publish to its own clients.
//
// The requests of other nodes (fetchSockets, serverSideEmit, socketsJoin,
// socketsLeave, disconnectSockets, broadcasts with acks, allRooms) are
// answered as Node's adapter answers them: each namespace subscribes to
// its request channel, "socket.io-request#NSP#", so that Node's
// serverCount (PUBSUB NUMSUB of that channel) counts this server, and
// answers on "socket.io-response#NSP#" (requests.go). sio-serve makes no
// requests itself.
package redisadapter

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/redis/go-redis/v9"
	"github.com/sio-tools/sio/pkg/internal/wire"
	"github.com/vmihailenco/msgpack/v5"
	"github.com/zishang520/socket.io/parsers/socket/v3/parser"
	"github.com/zishang520/socket.io/servers/socket/v3"
	"github.com/zishang520/socket.io/v3/pkg/types"
)

// Prefix is the channel prefix, Node's default "key".
const Prefix = "socket.io"

// subscribeTimeout bounds the writing of a SUBSCRIBE or UNSUBSCRIBE of a
// namespace's request channel, a dial when Redis is away.
const subscribeTimeout = 2 * time.Second

// queueSize bounds the broadcasts waiting to be published. While Redis is
// unreachable they are dropped (and counted) rather than stall the local
// clients.
const queueSize = 1 << 16

// Cluster is one server's link to Redis. Use Adapter as the Socket.IO
// server's adapter.
type Cluster struct {
	*wire.Link // Up, WriteMetrics (sio_redis_*), the log
	rdb        *redis.Client
	uid        string

	out       chan outMsg
	done      chan struct{} // closed by Close
	closeOnce sync.Once
	wg        sync.WaitGroup

	mu       sync.Mutex
	adapters map[string]*adapter // by namespace
	ps       *redis.PubSub       // broadcasts by pattern, requests by namespace
	// subMu keeps the request channels subscribed in the order adapters
	// come and go: a namespace freed and made again at once (sio-serve
	// frees empty ones) ends subscribed.
	subMu sync.Mutex

	requests *metrics.Counter // requests of other nodes taken
}

type outMsg struct {
	channel string
	body    []byte
}

// CheckURL tells whether url is a Redis URL Open can use.
func CheckURL(url string) error {
	_, err := redis.ParseURL(url)
	return err
}

// Open connects to the Redis at url (redis://HOST:PORT/DB) and starts
// listening. It fails when the URL is bad or Redis does not answer within
// timeout; later outages are ridden out (see Up). log gets the cluster's
// own lines; the Redis library's go where UseLogger sent them.
func Open(ctx context.Context, url string, timeout time.Duration, log *slog.Logger) (*Cluster, error) {
	opts, err := redis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("bad Redis URL %q: %v", url, err)
	}
	opts.MinRetryBackoff = 100 * time.Millisecond
	opts.MaxRetryBackoff = 2 * time.Second
	c := &Cluster{
		Link:     wire.NewLink(log, "serving local clients only, retrying"),
		rdb:      redis.NewClient(opts),
		uid:      newUID(),
		out:      make(chan outMsg, queueSize),
		done:     make(chan struct{}),
		adapters: map[string]*adapter{},
	}
	c.requests = c.Metrics.NewCounter("sio_redis_requests_total")
	pctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := c.rdb.Ping(pctx).Err(); err != nil {
		_ = c.rdb.Close()
		return nil, fmt.Errorf("redis at %s: %v", opts.Addr, err)
	}
	ps := c.rdb.PSubscribe(pctx, Prefix+"#*")
	if _, err := ps.Receive(pctx); err != nil { // the subscription's confirmation
		_ = ps.Close()
		_ = c.rdb.Close()
		return nil, fmt.Errorf("redis at %s: subscribe: %v", opts.Addr, err)
	}
	c.ps = ps
	c.Started()
	c.wg.Add(3)
	go c.receive(ps)
	go c.publish()
	go c.watch()
	return c, nil
}

// Close stops listening and publishing. It may be called more than once,
// also at the same time: each call returns once the cluster has stopped.
func (c *Cluster) Close() {
	c.closeOnce.Do(func() {
		close(c.done)
		_ = c.rdb.Close() // ends the subscription's reading too
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

// watch pings Redis every second and logs when it goes and comes back.
func (c *Cluster) watch() {
	defer c.wg.Done()
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-c.done:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := c.rdb.Ping(ctx).Err()
		cancel()
		c.SetUp(err == nil, err)
	}
}

// publish sends queued broadcasts in order, many per round trip.
func (c *Cluster) publish() {
	defer c.wg.Done()
	ctx := context.Background()
	for {
		var first outMsg
		select {
		case <-c.done:
			return
		case first = <-c.out:
		}
		pipe := c.rdb.Pipeline()
		pipe.Publish(ctx, first.channel, first.body)
		n := 1
	more:
		for n < 256 {
			select {
			case m := <-c.out:
				pipe.Publish(ctx, m.channel, m.body)
				n++
			default:
				break more
			}
		}
		if _, err := pipe.Exec(ctx); err != nil {
			c.Dropped.Add(n)
			c.SetUp(false, err)
			continue
		}
		c.Published.Add(n)
	}
}

// receive broadcasts what other servers published to the local clients.
func (c *Cluster) receive(ps *redis.PubSub) {
	defer c.wg.Done()
	defer ps.Close()
	ch := ps.Channel(redis.WithChannelSize(queueSize))
	for {
		select {
		case <-c.done:
			return
		case m, ok := <-ch:
			if !ok {
				return
			}
			c.onMessage(m.Channel, []byte(m.Payload))
		}
	}
}

func (c *Cluster) onMessage(channel string, body []byte) {
	if nsp, ok := requestNsp(channel); ok {
		c.onRequest(nsp, channel, body)
		return
	}
	if !c.wanted(channel) {
		return // for no namespace or room here: not even decoded
	}
	msg, err := decode(body)
	if err != nil {
		c.Malformed.Inc()
		c.Log.Warn("dropped a malformed message from redis", "channel", channel, "err", err)
		return
	}
	if msg.uid == c.uid {
		return // our own
	}
	to := c.route(channel, msg.nsp)
	if to == nil {
		return // its namespace has no clients here, or not in its room
	}
	c.Received.Inc()
	to.local(msg)
}

// wanted tells, before the message is decoded, whether a namespace here
// may take a message on channel. The channel alone is ambiguous when a
// name holds "#": "PREFIX#/a#b#x#" is /a's room "b#x", /a#b's room "x",
// or all of /a#b#x. So each reading is tried, and the message's own
// namespace decides which it is (onMessage).
func (c *Cluster) wanted(channel string) bool {
	rest, ok := strings.CutPrefix(channel, Prefix+"#")
	if !ok {
		return false
	}
	for i := 0; i < len(rest); i++ {
		if rest[i] == '#' && c.route(channel, rest[:i]) != nil {
			return true
		}
	}
	return false
}

// route returns the adapter of namespace nsp when a message on channel
// can be for its clients here, else nil.
func (c *Cluster) route(channel, nsp string) *adapter {
	c.mu.Lock()
	a := c.adapters[nsp]
	c.mu.Unlock()
	if a == nil || !a.takes(channel) {
		return nil
	}
	return a
}

// Adapter returns the Socket.IO adapter constructor for the cluster.
func (c *Cluster) Adapter() socket.AdapterConstructor { return builder{c} }

type builder struct{ c *Cluster }

func (b builder) New(nsp socket.Namespace) socket.Adapter {
	a := &adapter{Adapter: socket.MakeAdapter(), c: b.c}
	a.Prototype(a)
	a.Construct(nsp)
	return a
}

// adapter is the library's in-memory adapter that also publishes every
// broadcast that is not local-only, and answers the requests of other
// nodes for its namespace.
type adapter struct {
	socket.Adapter
	c        *Cluster
	channel  string // of its broadcasts: "PREFIX#NSP#"
	requests string // of the requests: "PREFIX-request#NSP#"
	answers  string // of the answers: "PREFIX-response#NSP#"
}

func (a *adapter) Init() {
	a.Adapter.Init()
	nsp := a.Nsp().Name()
	a.channel = Prefix + "#" + nsp + "#"
	a.requests = requestChannelPrefix + nsp + "#"
	a.answers = responseChannelPrefix + nsp + "#"
	a.c.subMu.Lock()
	defer a.c.subMu.Unlock()
	a.c.mu.Lock()
	a.c.adapters[nsp] = a
	a.c.mu.Unlock()
	// Only written, not waited for. While Redis is away the library
	// subscribes once it is back, as to every other channel.
	ctx, cancel := context.WithTimeout(context.Background(), subscribeTimeout)
	defer cancel()
	if err := a.c.ps.Subscribe(ctx, a.requests); err != nil {
		a.c.Log.Warn("cannot subscribe to the requests of other nodes yet", "nsp", nsp, "err", err)
	}
}

// takes tells whether a message on channel can be for a's clients: the
// channel is a's, "PREFIX#NSP#", or that of one of its rooms,
// "PREFIX#NSP#ROOM#", that a client here is in.
func (a *adapter) takes(channel string) bool {
	rest, ok := strings.CutPrefix(channel, a.channel)
	if !ok {
		return false
	}
	room := strings.TrimSuffix(rest, "#")
	if room == "" || a.Rooms() == nil {
		return true
	}
	_, ok = a.Rooms().Load(socket.Room(room))
	return ok
}

func (a *adapter) Close() {
	a.c.subMu.Lock()
	a.c.mu.Lock()
	ours := a.c.adapters[a.Nsp().Name()] == a
	if ours {
		delete(a.c.adapters, a.Nsp().Name())
	}
	a.c.mu.Unlock()
	if ours && !a.c.closed() {
		// No longer counted as a server of the namespace. (An adapter
		// that took its place keeps the subscription: there is one per
		// channel on the connection.) The library forgets the channel
		// first, so it is not subscribed again after an outage either.
		ctx, cancel := context.WithTimeout(context.Background(), subscribeTimeout)
		_ = a.c.ps.Unsubscribe(ctx, a.requests)
		cancel()
	}
	a.c.subMu.Unlock()
	a.Adapter.Close()
}

func (a *adapter) Broadcast(p *parser.Packet, o *socket.BroadcastOptions) {
	if o == nil || o.Flags == nil || !o.Flags.Local {
		a.publish(p, o)
	}
	a.Adapter.Broadcast(p, o)
}

func (a *adapter) publish(p *parser.Packet, o *socket.BroadcastOptions) {
	if !a.c.Up() {
		a.c.Dropped.Inc() // Redis is down: not even encoded
		return
	}
	var rooms, except []string
	var volatile bool
	if o != nil {
		rooms = names(o.Rooms)
		except = names(o.Except)
		volatile = o.Flags != nil && o.Flags.Volatile
	}
	body, err := encode(a.c.uid, p.Type, a.Nsp().Name(), p.Data, rooms, except, volatile)
	if err != nil {
		a.c.Dropped.Inc()
		a.c.Log.Warn("cannot publish to redis", "err", err)
		return
	}
	ch := a.channel
	if len(rooms) == 1 {
		ch += rooms[0] + "#"
	}
	select {
	case a.c.out <- outMsg{ch, body}:
	default:
		a.c.Dropped.Inc()
	}
}

// local broadcasts a message from another server to the clients here.
func (a *adapter) local(m *message) {
	p := &parser.Packet{Type: m.typ, Nsp: m.nsp, Data: m.data}
	a.Adapter.Broadcast(p, &socket.BroadcastOptions{
		Rooms:  types.NewSet(m.rooms...),
		Except: types.NewSet(m.except...),
		Flags:  &socket.BroadcastFlags{WriteOptions: socket.WriteOptions{Volatile: m.volatile}},
	})
}

func names(s *types.Set[socket.Room]) []string {
	if s == nil {
		return nil
	}
	var out []string
	for _, r := range s.Keys() {
		out = append(out, string(r))
	}
	return out
}

// newUID names this server in its messages, like Node's uid2(6).
func newUID() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// message is a broadcast decoded from Redis.
type message struct {
	uid      string
	typ      parser.PacketType
	nsp      string
	data     any
	rooms    []socket.Room
	except   []socket.Room
	volatile bool
}

var errMalformed = wire.ErrMalformed

// encode writes [uid, {type, data, nsp}, {rooms, except, flags}].
func encode(uid string, typ parser.PacketType, nsp string, data any, rooms, except []string, volatile bool) ([]byte, error) {
	flags := map[string]any{}
	if volatile {
		flags["volatile"] = true // Node reads the key's presence
	}
	if rooms == nil {
		rooms = []string{}
	}
	if except == nil {
		except = []string{}
	}
	return msgpack.Marshal([]any{
		uid,
		map[string]any{"type": int(typ), "data": wire.ToWire(data), "nsp": nsp},
		map[string]any{"rooms": rooms, "except": except, "flags": flags},
	})
}

// decode reads a broadcast strictly: anything unexpected is an error.
func decode(body []byte) (*message, error) {
	v, err := wire.DecodeMsgpack(body)
	if err != nil {
		return nil, err
	}
	raw, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("%w: message is %T", errMalformed, v)
	}
	if len(raw) != 3 {
		return nil, fmt.Errorf("%w: %d elements, want 3", errMalformed, len(raw))
	}
	m := &message{nsp: "/"}
	if m.uid, ok = raw[0].(string); !ok {
		return nil, fmt.Errorf("%w: uid is %T", errMalformed, raw[0])
	}
	pkt, ok := raw[1].(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%w: packet is %T", errMalformed, raw[1])
	}
	typ, ok := wire.Number(pkt["type"])
	if !ok || (typ != float64(parser.EVENT) && typ != float64(parser.BINARY_EVENT)) {
		return nil, fmt.Errorf("%w: packet type %v", errMalformed, pkt["type"])
	}
	m.typ = parser.EVENT // the encoder finds binary again
	if n, present := pkt["nsp"]; present && n != nil {
		if m.nsp, ok = n.(string); !ok {
			return nil, fmt.Errorf("%w: nsp is %T", errMalformed, n)
		}
	}
	data, ok := pkt["data"].([]any)
	if !ok || len(data) == 0 {
		return nil, fmt.Errorf("%w: data is %T", errMalformed, pkt["data"])
	}
	if _, ok := data[0].(string); !ok {
		return nil, fmt.Errorf("%w: event name is %T", errMalformed, data[0])
	}
	m.data = wire.FromWire(data)
	opts, ok := raw[2].(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%w: options are %T", errMalformed, raw[2])
	}
	if m.rooms, err = wire.RoomList(opts["rooms"]); err != nil {
		return nil, err
	}
	if m.except, err = wire.RoomList(opts["except"]); err != nil {
		return nil, err
	}
	if f, present := opts["flags"]; present && f != nil {
		flags, ok := f.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%w: flags are %T", errMalformed, f)
		}
		_, m.volatile = flags["volatile"]
		if b, isBool := flags["volatile"].(bool); isBool {
			m.volatile = b
		}
	}
	return m, nil
}

// UseLogger sends the Redis client library's own lines (a pub/sub
// connection dropped, a command's argument truncated) to log, as debug
// detail: what matters, Redis gone and back, each Cluster logs itself.
//
// The library has one logger for the whole process, so this is a
// process-wide setting, not a Cluster's: the program calls it once, at
// start, before Open. Without it the library writes to stderr.
func UseLogger(log *slog.Logger) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	redis.SetLogger(redisLog{log})
}

// redisLog is the Redis client library's logger over a slog.Logger.
type redisLog struct{ log *slog.Logger }

func (l redisLog) Printf(_ context.Context, format string, v ...any) {
	l.log.Debug("redis client: " + fmt.Sprintf(format, v...))
}
