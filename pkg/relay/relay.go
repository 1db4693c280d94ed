// Package relay is the sio-serve relay as an http.Handler: a Socket.IO v4
// server that accepts every namespace and re-broadcasts each event a client
// emits to the other clients of its namespace, or of its rooms.
//
// Mount it at /socket.io/ in any mux:
//
//	r := relay.New(relay.Options{})
//	defer r.Close(time.Second)
//	mux.Handle("/socket.io/", r)
package relay

import (
	"bytes"
	"crypto/subtle"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/gorilla/websocket"
	"github.com/sio-tools/sio/pkg/lines"
	"github.com/sio-tools/sio/pkg/relay/internal/libfix"
	"github.com/sio-tools/sio/pkg/relay/internal/msgpackparser"
	"github.com/zishang520/socket.io/parsers/socket/v3/parser"
	"github.com/zishang520/socket.io/servers/engine/v3"
	"github.com/zishang520/socket.io/servers/socket/v3"
	"github.com/zishang520/socket.io/v3/pkg/types"
)

// Options configure a Relay. The zero value is usable.
type Options struct {
	// MaxBytes is the largest message a client may send, in bytes; a
	// larger one closes that client's connection. Default 1,000,000.
	MaxBytes int64
	// ConnectTimeout closes an engine connection that has not joined a
	// namespace in this time. Default 5 s (the library's is 45 s; the
	// library can lose a first CONNECT packet, docs/LIBRARY.md,
	// which leaves a client stuck until then, and a short timeout makes
	// it reconnect).
	ConnectTimeout time.Duration
	// PingInterval is how often the server pings each client, and
	// PingTimeout how long it then waits for the pong (and a client waits
	// for the next ping, in addition to PingInterval) before the
	// connection is taken as lost. Defaults 25 s and 20 s, as in Node;
	// shorter behind proxies that cut idle connections sooner.
	PingInterval time.Duration
	PingTimeout  time.Duration
	// Logger gets one line per connection and per error. Default: discard.
	Logger *slog.Logger
	// Token, when set, must be sent by every client as "token" in its
	// handshake auth; others are refused at connect.
	Token string
	// MaxQueue is how many bytes may wait for one client that does not
	// read before it is disconnected. Default DefaultMaxQueue.
	MaxQueue int64
	// MaxConnsPerIP is the most connections one client address may hold
	// (0: no limit); MaxHandshakesPerIP the most of them not joined to a
	// namespace yet (0: no limit). Past either a new connection gets 503.
	// Exempt, when set, lifts both for the addresses it accepts.
	MaxConnsPerIP      int
	MaxHandshakesPerIP int
	Exempt             func(net.IP) bool
	// MaxRooms is the most rooms a client may ask to join; a client that
	// asks for more is refused at connect. Default DefaultMaxRooms.
	MaxRooms int
	// Recover, when above zero, turns on connection state recovery: a
	// client that reconnects within it gets the events it missed and its
	// rooms back. Its events then carry a trailing offset argument, as in
	// Node (our clients take it off). With Adapter, recovery is the
	// library's, on the adapter's sessions (the Redis streams adapter
	// keeps them in Redis, so a client may come back to another server),
	// and every client's events carry offsets.
	Recover time.Duration
	// RecoverAll makes recovery, when on, apply to every client. Without
	// it only clients that ask for it (OffsetsKey in their handshake auth,
	// as sio-pub and sio-sub do) get offsets and resume: the others see
	// every event's arguments as they were sent.
	RecoverAll bool
	// RecoverBytes bounds the events kept for recovery, in bytes as sent.
	// Default DefaultRecoverBytes.
	RecoverBytes int64
	// Adapter, when set, replaces the library's in-memory adapter (for
	// example the Redis adapter, which joins other servers).
	Adapter socket.AdapterConstructor
	// Msgpack makes the server speak the msgpack parser
	// (socket.io-msgpack-parser) instead of the default one: its clients
	// must all use it. Events then always take the library's way
	// (decoded and encoded again, keys sorted): the passthrough reads
	// the default parser's text.
	Msgpack bool
	// LibraryOnly serves every client through the library, which the
	// relay otherwise serves itself (lite.go). For tests of the library's
	// fixes, and to compare.
	LibraryOnly bool
}

// DefaultMaxBytes is Socket.IO's default maximum message size.
const DefaultMaxBytes = 1_000_000

// DefaultMaxRooms is the most rooms a client may join by default.
const DefaultMaxRooms = 100

// DefaultRecoverBytes is how many bytes of events are kept for recovery.
const DefaultRecoverBytes = 64 << 20

// FlushNamespace is the namespace sio-pub joins to learn that the server
// read all it sent before (conn.FlushNamespace; not imported, so that the
// server does not link the client library). Nothing is relayed there.
const FlushNamespace = "/_sio_flush"

// Relay is the Socket.IO relay. Create it with New.
type Relay struct {
	io      *socket.Server
	handler http.Handler
	log     *slog.Logger
	engine  *libfix.Engine // the library's Engine.IO server, mended
	encoder parser.Encoder // the server's parser's, for the events the relay encodes
	adapter bool           // events go through an adapter (other servers)
	// connectTimeout: a connection that joined no namespace by then goes.
	connectTimeout time.Duration
	perAddress     *perAddress                          // nil: no limit per address
	namespaces     *types.Map[string, socket.Namespace] // the library's, by name (namespaces.go)
	// freeing is held while the library frees an empty namespace, and by
	// orphan's check (libfix.GuardCleanup).
	freeing  sync.Mutex
	guarded  atomic.Int64 // namespaces whose freeing holds it (tests)
	maxRooms int
	recovery *recovery // nil when recovery is off
	lite     *liteSet  // the relay's own sessions; nil when off (Options.liteOn)
	token    string

	conns sync.Map // *connState by engine connection id

	mu      sync.Mutex
	sockets map[*socket.Socket]struct{}
	// liteSocks counts the sockets of the relay's own sessions.
	liteSocks int
	closed    atomic.Bool

	metrics  *metrics.Set
	events   *metrics.Counter
	dropped  *metrics.Counter
	slow     *metrics.Counter
	byNsp    map[string]int   // connected clients by namespace label; under mu
	sent     *metrics.Counter // Engine.IO messages sent, one per event per recipient
	bytesIn  *metrics.Counter
	bytesOut *metrics.Counter
	connects *metrics.Counter
}

// New returns a Relay ready to serve. It reads top to bottom as the
// relay is built: the library's options, the relay, the engine with the
// library's fixes and the relay's listeners in order, then the namespaces
// and their middlewares in order.
func New(o Options) *Relay {
	o = o.withDefaults()
	opts, rc := o.serverOptions()
	r := &Relay{
		io:             socket.NewServer(nil, opts),
		log:            o.Logger,
		adapter:        o.Adapter != nil,
		connectTimeout: o.ConnectTimeout,
		maxRooms:       o.MaxRooms,
		perAddress:     newPerAddress(o.MaxConnsPerIP, o.MaxHandshakesPerIP, o.Exempt),
		recovery:       rc,
		token:          o.Token,
		sockets:        make(map[*socket.Socket]struct{}),
		byNsp:          make(map[string]int),
		metrics:        metrics.NewSet(),
	}
	r.namespaces = libfix.Namespaces(r.io)
	if o.liteOn() {
		r.lite = newLiteSet(o.liteConfig())
	}
	if rc != nil {
		rc.startExpiry(r.served)
	}
	r.encoder = parser.NewEncoder()
	if o.Msgpack {
		r.encoder = msgpackparser.Parser{}.NewEncoder()
	}
	r.newMetrics()
	r.bindEngine(opts, o.MaxQueue, o.Msgpack)
	r.serveNamespaces(o.Token)
	return r
}

// withDefaults fills in the options left zero.
func (o Options) withDefaults() Options {
	if o.MaxBytes <= 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = 5 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.MaxQueue <= 0 {
		o.MaxQueue = DefaultMaxQueue
	}
	if o.MaxRooms <= 0 {
		o.MaxRooms = DefaultMaxRooms
	}
	if o.RecoverBytes <= 0 {
		o.RecoverBytes = DefaultRecoverBytes
	}
	return o
}

// serverOptions are the library's options for o, and the relay's
// recovery when it is on.
func (o Options) serverOptions() (*socket.ServerOptions, *recovery) {
	opts := socket.DefaultServerOptions()
	opts.SetServeClient(false)
	opts.SetMaxHttpBufferSize(o.MaxBytes)
	// The relay drops a connection that joined no namespace itself, at
	// ConnectTimeout (watchConn): the library's own timer, later, is only
	// a fallback.
	opts.SetConnectTimeout(o.ConnectTimeout + time.Second)
	if o.PingInterval > 0 {
		opts.SetPingInterval(o.PingInterval)
	}
	if o.PingTimeout > 0 {
		opts.SetPingTimeout(o.PingTimeout)
	}
	// Origins are checked in front of the relay (sio-serve --cors-origin);
	// without this the library refuses every websocket from a page whose
	// origin is not the server's own, loopback pages included.
	opts.SetCors(&types.Cors{Origin: func(string) bool { return true }, Credentials: true})
	// Never compress: the library's default path builds a prepared
	// websocket message per recipient, a copy and a deflate each.
	opts.SetPerMessageDeflate(&types.PerMessageDeflate{Threshold: 1 << 30})
	// A namespace a client made (any name) is freed when its last client
	// goes: kept, each cost about 12 KB for good, and clients choose the
	// names. (Recovery keeps its own log by name, which outlives it.)
	opts.SetCleanupEmptyChildNamespaces(true)
	if o.Msgpack {
		opts.SetParser(msgpackparser.Parser{})
	}
	switch {
	case o.Adapter != nil:
		opts.SetAdapter(o.Adapter)
		if o.Recover > 0 {
			// The library's recovery, on the adapter's sessions and
			// offsets (the streams adapter keeps them in Redis): every
			// client's events carry offsets.
			rec := socket.DefaultConnectionStateRecovery()
			rec.SetMaxDisconnectionDuration(o.Recover.Milliseconds())
			rec.SetSkipMiddlewares(true)
			opts.SetConnectionStateRecovery(rec)
		}
	case o.Recover > 0:
		rc := newRecovery(o.Recover, o.RecoverBytes, o.RecoverAll, o.Logger)
		rec := socket.DefaultConnectionStateRecovery()
		rec.SetMaxDisconnectionDuration(o.Recover.Milliseconds())
		rec.SetSkipMiddlewares(true)
		opts.SetConnectionStateRecovery(rec)
		opts.SetAdapter(recoveryAdapterBuilder{rc})
		return opts, rc
	}
	return opts, nil
}

// newMetrics makes the relay's counters and gauges.
func (r *Relay) newMetrics() {
	r.events = r.metrics.NewCounter("sio_events_received_total")
	r.dropped = r.metrics.NewCounter("sio_events_dropped_total")
	r.connects = r.metrics.NewCounter("sio_connections_total")
	r.slow = r.metrics.NewCounter("sio_slow_consumer_disconnects_total")
	r.sent = r.metrics.NewCounter("sio_messages_sent_total")
	r.bytesIn = r.metrics.NewCounter("sio_received_bytes_total")
	r.bytesOut = r.metrics.NewCounter("sio_sent_bytes_total")
	r.metrics.NewGauge("sio_connected_clients", func() float64 { return float64(r.Clients()) })
}

// bindEngine makes the Engine.IO server, with the library's fixes
// (libfix), and binds the Socket.IO server to it. The engine is made here
// rather than by the library (ServeHandler) so that the relay sees each
// new connection before the library does. Its "connection" listeners run
// in the order they are added:
//  1. watchConn: the relay must see a client's first packets (joins);
//  2. the library's own (Bind), which makes the client's socket;
//  3. libfix.Release: every listener is in place, the connection's held
//     packets may go.
func (r *Relay) bindEngine(opts *socket.ServerOptions, maxQueue int64, msgpack bool) {
	eopts := socket.DefaultServerOptions()
	eopts.Assign(opts)
	eopts.SetPath("/socket.io")
	eio := engine.NewServer(eopts)
	// Confirmation requests and plain events are taken as they are read
	// (plain events unless every broadcast must go through the adapter,
	// to other servers), when they are the default parser's text.
	hooks := libfix.Hooks{Take: r.take, Refused: r.invalidPacket, Msgpack: msgpack}
	if msgpack {
		hooks.Take = nil
	}
	r.engine = libfix.Install(eio, hooks)
	_ = eio.On("connection", func(args ...any) {
		if c, ok := args[0].(engine.Socket); ok {
			r.watchConn(c, maxQueue)
		}
	})
	r.io.Bind(eio)
	_ = eio.On("connection", func(args ...any) {
		if c, ok := args[0].(engine.Socket); ok {
			libfix.Release(c)
		}
	})
	r.handler = eio
}

// serveNamespaces serves every namespace: "/" and any other a client asks
// for go to onConnection, the flush namespaces answer sio-pub. Every
// namespace's middlewares run in this order:
//  1. forgetSocketQueue: every socket the library makes, joined or
//     refused, first goes through them (a recovered one goes to
//     onConnection); its task queue is made collectable there;
//  2. the token check, with a token;
//  3. joinRooms: rooms are joined before the client is told it is
//     connected: joined in the connection handler, a room event sent
//     right after the client's connect could miss it.
func (r *Relay) serveNamespaces(token string) {
	_ = r.io.On("connection", r.onConnection)
	// Emitted as the library makes a namespace for the first client that
	// asks for it, before that client joins.
	_ = r.io.Sockets().On("new_namespace", func(args ...any) {
		if len(args) > 0 {
			if nsp, ok := args[0].(socket.Namespace); ok && libfix.GuardCleanup(nsp, &r.freeing) {
				r.guarded.Add(1)
			}
		}
	})
	// sio-pub asks to join this namespace to learn that the server has
	// read all it sent before (conn.Confirm). Refusing it is the answer:
	// a refused client keeps no state, so the request can be repeated
	// (a second CONNECT to a joined namespace closes the connection).
	// Over a websocket the relay answers it itself (confirm).
	for _, n := range flushNamespaces {
		r.io.Of(n, nil).Use(func(s *socket.Socket, next func(*socket.ExtendedError)) {
			libfix.ForgetTaskQueue(s)
			next(socket.NewExtendedError("flush confirmed", nil))
		})
	}
	nsps := r.io.Of(regexp.MustCompile(`^/.+`), r.onConnection)
	chain := []func(*socket.Socket, func(*socket.ExtendedError)){forgetSocketQueue}
	if token != "" {
		chain = append(chain, r.checkToken(token))
	}
	chain = append(chain, r.joinRooms)
	for _, m := range chain {
		r.io.Use(m)
		nsps.Use(m)
	}
}

// checkToken refuses a client whose handshake lacks the token.
func (r *Relay) checkToken(token string) func(*socket.Socket, func(*socket.ExtendedError)) {
	refused := r.metrics.GetOrCreateCounter(`sio_refused_total{reason="unauthorized"}`)
	return func(s *socket.Socket, next func(*socket.ExtendedError)) {
		if tokenOK(s.Handshake(), token) {
			next(nil)
			return
		}
		refused.Inc()
		r.log.Warn("refused: bad or missing token", "addr", s.Handshake().Address, "nsp", s.Nsp().Name())
		next(socket.NewExtendedError("unauthorized", map[string]any{"reason": "token"}))
	}
}

// take is offered every text message a websocket client sends, before
// the library; it reports whether it handled it.
func (r *Relay) take(sid string, msg []byte) bool {
	if r.confirm(sid, msg) {
		return true
	}
	return !r.adapter && r.passthrough(sid, msg)
}

// relayedWait bounds how long a confirmation waits for the events before
// it to be handed on (a socket that went meanwhile runs no more tasks).
const relayedWait = 5 * time.Second

// confirm answers sio-pub's confirmation request, a CONNECT to
// FlushNamespace (or FlushNamespace+"2"), once the events the connection
// sent before it were handed to their recipients: they wait on each of its
// sockets' task queues (the passthrough's and the library's alike), so the
// answer means "relayed", not only "read", and a fast publisher cannot
// fill those queues without bound. The answer is the refusal a namespace
// without clients gives (the request can be repeated), written here: the
// library would make a socket, with its own task queue, for every
// request, which cost a third of the server's CPU in a pipeline.
func (r *Relay) confirm(sid string, msg []byte) bool {
	nsp, ok := flushRequest(msg)
	if !ok {
		return false
	}
	c, ok := r.conns.Load(sid)
	if !ok {
		return false // the library answers
	}
	st := c.(*connState)
	answer := []byte("4" + nsp + `,{"message":"flush confirmed"}`) // CONNECT_ERROR
	var once sync.Once
	write := func() {
		once.Do(func() { st.conn.Write(types.NewStringBuffer(answer), nil, nil) })
	}
	list := st.senders.all()
	if len(list) == 0 {
		write()
		return true
	}
	var left atomic.Int64
	left.Store(int64(len(list)))
	for _, from := range list {
		from.s.Enqueue(func() {
			if left.Add(-1) == 0 {
				write()
			}
		})
	}
	// A socket that left meanwhile runs no more tasks.
	time.AfterFunc(relayedWait, write)
	return true
}

// flushRequest reads a confirmation request, "40" + FlushNamespace
// (or FlushNamespace+"2") + "," and returns its namespace.
func flushRequest(msg []byte) (string, bool) {
	for _, nsp := range flushNamespaces {
		if len(msg) == 3+len(nsp) && string(msg[:2]) == "40" && string(msg[2:2+len(nsp)]) == nsp && msg[len(msg)-1] == ',' {
			return nsp, true
		}
	}
	return "", false
}

var flushNamespaces = [...]string{FlushNamespace, FlushNamespace + "2"}

// ServeHTTP serves the Socket.IO endpoint (mount it at /socket.io/).
func (r *Relay) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if r.closed.Load() {
		http.Error(w, "shutting down", http.StatusServiceUnavailable)
		return
	}
	q := req.URL.Query() // once: the library parses it again
	sid := q.Get("sid")
	if r.perAddress != nil && sid == "" {
		reason, done := r.perAddress.admit(req.RemoteAddr)
		if reason != "" {
			r.Refused(reason)
			r.log.Warn("refused: too many connections from one address", "reason", reason, "addr", req.RemoteAddr)
			refuse(w)
			return
		}
		defer done()
	}
	if r.lite != nil && q.Get("EIO") == "4" {
		switch {
		case sid != "":
			if r.serveLite(w, req, q, sid) {
				return
			}
		case q.Get("transport") == "websocket" && websocket.IsWebSocketUpgrade(req):
			r.acceptLite(w, req, q)
			return
		case q.Get("transport") == "polling" && req.Method == http.MethodGet && !q.Has("j"):
			r.acceptLitePolling(w, req, q)
			return
		}
	}
	w, req, done := r.engine.Prepare(w, req, sid)
	defer done()
	r.handler.ServeHTTP(w, req)
}

// invalidPacket counts and logs a connection closed for a packet the
// official parsers would refuse (libfix/validate.go). reason is one of a few
// fixed words.
func (r *Relay) invalidPacket(reason, addr string) {
	r.metrics.GetOrCreateCounter(`sio_invalid_packets_total{reason="` + reason + `"}`).Inc()
	r.log.Warn("closed a connection that sent an invalid packet", "reason", reason, "addr", addr)
}

// Clients returns the number of connected namespace clients.
func (r *Relay) Clients() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.sockets) + r.liteSocks
}

// maxNspLabels bounds the namespaces that get a label of their own in
// sio_namespace_clients: clients choose namespaces, and a label per name
// would let them grow the metrics without bound. Later ones count as
// "other".
const maxNspLabels = 50

// nspLabel returns the metrics label for a namespace, making its gauge
// the first time.
func (r *Relay) nspLabel(nsp string) string {
	r.mu.Lock()
	_, known := r.byNsp[nsp]
	full := len(r.byNsp) >= maxNspLabels
	r.mu.Unlock()
	if !known && full {
		nsp = "other"
	}
	name := `sio_namespace_clients{namespace="` + escapeLabel(nsp) + `"}`
	r.metrics.GetOrCreateGauge(name, func() float64 {
		r.mu.Lock()
		defer r.mu.Unlock()
		return float64(r.byNsp[nsp])
	})
	return nsp
}

// escapeLabel escapes a Prometheus label value.
func escapeLabel(s string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s)
}

// EngineClients is the number of open Engine.IO connections, joined to a
// namespace or not.
func (r *Relay) EngineClients() int {
	n := int(r.io.Engine().ClientsCount())
	if r.lite != nil {
		n += r.lite.count()
	}
	return n
}

// Refused counts a connection refused before the relay saw it (reason: a
// short fixed word such as "origin" or "max_conns").
func (r *Relay) Refused(reason string) {
	r.metrics.GetOrCreateCounter(`sio_refused_total{reason="` + reason + `"}`).Inc()
}

// WriteMetrics writes the relay's metrics in the Prometheus text format.
func (r *Relay) WriteMetrics(w io.Writer) { r.metrics.WritePrometheus(w) }

func (r *Relay) onConnection(args ...any) {
	s, ok := args[0].(*socket.Socket)
	if !ok {
		return
	}
	if s.Recovered() {
		// An adapter that restored the session may hold its broadcasts
		// until the socket is registered, as it is now.
		if a, ok := s.Nsp().Adapter().(interface{ Registered(socket.SocketId) }); ok {
			a.Registered(s.Id())
		}
	}
	// The library has recorded the join now: the client's packets for
	// the namespace may go on, once the relay has recorded it too (the
	// passthrough looks for the sender).
	if c, ok := r.conns.Load(s.Conn().Id()); ok {
		defer c.(*connState).joins.Done(s.Nsp().Name())
	}
	if r.closed.Load() {
		s.Disconnect(false)
		return
	}
	if r.orphan(s) || r.ghost(s) {
		return
	}
	libfix.ForgetTaskQueue(s)     // a recovered socket skipped the middlewares
	rooms := Rooms(s.Handshake()) // joined by joinRooms already
	nsp := s.Nsp().Name()
	label := r.nspLabel(nsp)
	if f := testHookJoining; f != nil {
		f()
	}
	r.mu.Lock()
	if r.closed.Load() {
		// Close took its list of sockets after the check above: it would
		// not tell this one (its client waited for the transport to
		// close, 2 s later).
		r.mu.Unlock()
		s.Disconnect(false)
		return
	}
	r.sockets[s] = struct{}{}
	r.byNsp[label]++
	r.mu.Unlock()
	r.connects.Inc()
	if s.Recovered() && r.recovery != nil {
		n := r.recovery.replay(s)
		r.log.Info("connect", "id", s.Id(), "nsp", nsp, "addr", s.Handshake().Address, "rooms", rooms, "recovered", true, "replayed", n)
	} else {
		r.log.Info("connect", "id", s.Id(), "nsp", nsp, "addr", s.Handshake().Address, "rooms", rooms, "recovered", s.Recovered())
	}
	from := newSender(s, rooms)
	var st *connState
	if c, ok := r.conns.Load(s.Conn().Id()); ok {
		st = c.(*connState)
		st.senders.add(nsp, from)
		st.joined.Store(true)
		if st.joinedAddr != nil {
			st.joinedAddr()
		}
	}

	var pid socket.PrivateSessionId
	if r.recovery != nil && offsets(s) {
		if pid = libfix.SocketPid(s); pid != "" { // "" if the library moved it: then nothing to count
			r.recovery.connected(pid)
		}
	}
	var once sync.Once
	gone := func(reason string) {
		once.Do(func() {
			if pid != "" {
				r.recovery.disconnected(pid) // its session is kept by now
			}
			if st != nil {
				st.senders.remove(nsp, s)
				if reason == "client namespace disconnect" {
					st.left.Store(true)
				}
			}
			r.mu.Lock()
			delete(r.sockets, s)
			r.byNsp[label]--
			r.mu.Unlock()
			// Reasons are the library's own few strings: a bounded label.
			r.metrics.GetOrCreateCounter(`sio_disconnections_total{reason="` + reason + `"}`).Inc()
			r.log.Info("disconnect", "id", s.Id(), "nsp", nsp, "reason", reason)
		})
	}
	_ = s.On("disconnect", func(args ...any) {
		reason, _ := args[0].(string)
		gone(reason)
	})
	// A socket whose connection closed since ghost looked went without
	// this listener: its "disconnect" came before it (the relay kept it
	// in its count and maps for good, about 1 in 20 of the clients that
	// leave as soon as they joined).
	if !s.Connected() {
		gone("transport close")
		return
	}
	s.OnAny(func(args ...any) { r.relay(from, args) })
}

// served tells whether the library or a session of the relay's own
// serves a namespace of that name now (true when it cannot tell).
func (r *Relay) served(name string) bool {
	if r.namespaces == nil {
		return true
	}
	if _, ok := r.namespaces.Load(name); ok {
		return true
	}
	return r.lite != nil && r.lite.serves(name)
}

// testHookJoining and testHookClosing, when set by a test, run as a
// socket that joined is about to be recorded, and once Close has its list
// of the sockets to tell.
var testHookJoining, testHookClosing func()

// orphan closes the connection of a socket that joined a namespace freed
// while it was joining (its last client left in between, and the library
// freed it: see New). Nobody would hear it there, nor it anybody; its
// client connects again, to the namespace as it is now.
func (r *Relay) orphan(s *socket.Socket) bool {
	nsp := s.Nsp()
	if nsp.Name() == "/" || r.namespaces == nil {
		return false
	}
	// Under freeing: a freeing under way (the namespace found empty before
	// s was recorded in it) has forgotten the namespace by then. Without
	// it this check could pass between the two, leaving s alone in a
	// namespace nobody else would join (TestJoinWhileTheNamespaceIsFreed).
	r.freeing.Lock()
	cur, ok := r.namespaces.Load(nsp.Name())
	r.freeing.Unlock()
	if ok && cur == nsp {
		return false
	}
	r.log.Warn("joined a namespace freed meanwhile: closing the connection", "id", s.Id(), "nsp", nsp.Name())
	s.Disconnect(true)
	return true
}

// ghost disconnects a socket whose connection closed while it was joining.
// The library records the socket with its connection only after it sent
// the CONNECT answer; a connection that closes in between (a client that
// leaves as soon as it is told it joined) leaves the socket in its
// namespace for good, "connected", with its rooms: about 1 in 200 such
// clients here (TestRelayKeepsNothingOfClosedConnections).
//
// Its client was told it joined, and with recovery on it will ask to
// resume: its session is kept as for any connection that was cut (the
// library would not, for a socket it never saw close). Without that, a
// subscriber cut right after it joined came back to a new session and
// reported a gap (TestRecoveryCutWhileJoining).
func (r *Relay) ghost(s *socket.Socket) bool {
	if s.Conn().ReadyState() != "closed" {
		return false // if it closes now, the library sees the socket
	}
	kept := r.recovery != nil && s.Connected() // else the library kept it
	r.log.Info("connection closed while joining", "id", s.Id(), "nsp", s.Nsp().Name(), "session_kept", kept)
	if kept {
		r.recovery.persist(&socket.SessionToPersist{
			Sid:   s.Id(),
			Pid:   libfix.SocketPid(s),
			Rooms: types.NewSet(s.Rooms().Keys()...),
			Data:  s.Data(),
		})
	}
	s.Disconnect(false)
	return true
}

// relay re-broadcasts one event: to the sender's rooms when it has any,
// else to its whole namespace, never to the sender. An ack the sender asked
// for is answered here, after the event was handed to every recipient
// (passing it on to Emit would answer at once with [], a library quirk).
func (r *Relay) relay(from *sender, args []any) {
	if len(args) == 0 {
		return
	}
	var ack socket.Ack
	if a, ok := args[len(args)-1].(socket.Ack); ok {
		ack = a
		args = args[:len(args)-1]
	}
	ev, ok := args[0].(string)
	if !ok {
		r.dropped.Inc()
		r.log.Warn("dropped event with a non-string name", "id", from.id)
		return
	}
	if lines.Reserved(ev) { // relayed, it would fake a connect, disconnect or error on the receivers
		r.dropped.Inc()
		r.log.Warn("dropped event with a reserved name", "id", from.id, "event", ev)
		return
	}
	r.events.Inc()
	if r.adapter {
		s := from.s
		op := s.Broadcast()
		if len(from.rooms) > 0 {
			op = op.To(from.rooms...)
		}
		if err := op.Emit(ev, args[1:]...); err != nil {
			r.dropped.Inc()
			r.log.Warn("dropped event", "id", s.Id(), "event", ev, "err", err)
			return
		}
		if ack != nil {
			r.afterWritten(from, func(lost, all int) { answer(ack, lost, all) })
		}
		return
	}
	var then func()
	if ack != nil {
		then = func() { r.afterWritten(from, func(lost, all int) { answer(ack, lost, all) }) }
	}
	r.broadcast(from, func(off uint64) outgoing {
		data := args
		if off != 0 {
			data = append(args[:len(args):len(args)], strconv.FormatUint(off, 10))
		}
		return r.encodeEvent(from.nsp, data)
	}, then)
}

// answer answers an event's ack once it was written to its receivers,
// lost of all of them gone before.
func answer(ack socket.Ack, lost, all int) {
	if lost == 0 {
		ack(nil, nil)
		return
	}
	ack([]any{map[string]any{"error": notDelivered(lost, all)}}, nil)
}

// notDelivered is the error an ack carries when receivers were lost.
func notDelivered(lost, all int) string {
	return fmt.Sprintf("not delivered to %d of %d receivers: their connection was lost before it was written to them", lost, all)
}

// encodeEvent encodes an EVENT packet (BINARY_EVENT when data holds
// binary) for every recipient. data is left as it is: the encoder reads
// binary buffers out, so it gets copies (an event may be encoded twice,
// with and without an offset).
func (r *Relay) encodeEvent(nsp string, data []any) outgoing {
	packets := r.encoder.Encode(&parser.Packet{Type: parser.EVENT, Nsp: nsp, Data: copyBinary(data)})
	if len(packets) == 1 {
		if p, ok := packets[0].(*types.StringBuffer); ok {
			frame := make([]byte, 0, 1+p.Len())
			return outgoing{frame: append(append(frame, '4'), p.Bytes()...)}
		}
	}
	opts := &socket.WriteOptions{}
	opts.PreEncoded = true
	return outgoing{packets: packets, opts: opts}
}

// copyBinary returns v with fresh copies of its binary buffers (and of
// the containers that hold them).
func copyBinary(v any) any {
	switch t := v.(type) {
	case *types.BytesBuffer:
		return types.NewBytesBuffer(bytes.Clone(t.Bytes()))
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = copyBinary(e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			out[k] = copyBinary(e)
		}
		return out
	}
	return v
}

// joinRooms joins a connecting client to the rooms of its handshake, and
// with recovery on, notes where its session starts.
func (r *Relay) joinRooms(s *socket.Socket, next func(*socket.ExtendedError)) {
	rooms := Rooms(s.Handshake())
	if len(rooms) > r.maxRooms {
		r.Refused("rooms")
		r.log.Warn("refused: too many rooms", "addr", s.Handshake().Address, "nsp", s.Nsp().Name(),
			"rooms", len(rooms), "max", r.maxRooms)
		next(socket.NewExtendedError("too many rooms", map[string]any{"max": r.maxRooms}))
		return
	}
	if len(rooms) > 0 {
		s.Join(rooms...)
	}
	if r.recovery != nil {
		r.recovery.begin(s)
	}
	next(nil)
}

// forgetSocketQueue is the first middleware of every namespace: it makes
// the socket's task queue collectable once closed (queues.go).
func forgetSocketQueue(s *socket.Socket, next func(*socket.ExtendedError)) {
	libfix.ForgetTaskQueue(s)
	next(nil)
}

// tokenOK compares the handshake's auth token with the server's in
// constant time.
func tokenOK(h *socket.Handshake, token string) bool {
	got, _ := h.Auth["token"].(string)
	return subtle.ConstantTimeCompare([]byte(got), []byte(token)) == 1
}

// Rooms returns the rooms a client asked to join: "room" in its handshake
// auth (a name, a comma list, or an array of names) or in its query string
// (repeatable, each a comma list).
func Rooms(h *socket.Handshake) []socket.Room {
	var names []string
	add := func(v any) {
		switch t := v.(type) {
		case string:
			names = append(names, strings.Split(t, ",")...)
		case []string:
			for _, s := range t {
				names = append(names, strings.Split(s, ",")...)
			}
		case []any:
			for _, e := range t {
				if s, ok := e.(string); ok {
					names = append(names, strings.Split(s, ",")...)
				}
			}
		}
	}
	if h.Auth != nil {
		add(h.Auth["room"])
	}
	if v, ok := h.Query["room"]; ok {
		add(v)
	}
	var rooms []socket.Room
	seen := map[string]bool{}
	for _, n := range names {
		n = strings.TrimSpace(n)
		if n == "" || seen[n] {
			continue
		}
		seen[n] = true
		rooms = append(rooms, socket.Room(n))
	}
	return rooms
}

// Close tells every client it is disconnected (a Socket.IO DISCONNECT
// packet), waits up to wait for the clients to close their connections,
// then closes what is left. New requests get 503.
//
// The library's own way, Disconnect(true), closes the connection before
// the DISCONNECT packet is written (clients see "transport close" and miss
// what was queued before); a client closes its connection itself once told.
func (r *Relay) Close(wait time.Duration) {
	if r.closed.Swap(true) {
		return
	}
	if r.recovery != nil {
		r.recovery.stopExpiry()
	}
	r.mu.Lock()
	list := make([]*socket.Socket, 0, len(r.sockets))
	for s := range r.sockets {
		list = append(list, s)
	}
	r.mu.Unlock()
	if f := testHookClosing; f != nil {
		f()
	}
	for _, s := range list {
		s.Disconnect(false)
	}
	r.closeLite()
	deadline := time.Now().Add(wait)
	for r.EngineClients() > 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	r.endLite()
	done := make(chan struct{})
	r.io.Close(func(error) { close(done) })
	select {
	case <-done:
	case <-time.After(time.Second):
	}
}
