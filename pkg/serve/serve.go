// Package serve is the sio-serve command: flags, the HTTP server around
// the relay, readiness and shutdown.
package serve

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime/debug"
	"strconv"
	"sync"
	"time"

	"github.com/sio-tools/sio/pkg/cli"
	"github.com/sio-tools/sio/pkg/redisadapter"
	"github.com/sio-tools/sio/pkg/relay"
	"github.com/sio-tools/sio/pkg/streamsadapter"
	"github.com/zishang520/socket.io/servers/socket/v3"
)

// Config is what the flags say.
type Config struct {
	// Static is a directory of the user's own pages served at / (the
	// viewer then at /_sio/ only); "" for none.
	Static   string
	Host     string
	Port     int
	MaxBytes int64
	MaxQueue int64
	MaxConns int
	MaxRooms int
	// The Engine.IO timers (see relay.Options).
	PingInterval   time.Duration
	PingTimeout    time.Duration
	ConnectTimeout time.Duration
	// MaxConnsPerIP and MaxHandshakesPerIP bound one client address;
	// Trusted are the addresses (or CIDR blocks) exempt, besides loopback.
	MaxConnsPerIP      int
	MaxHandshakesPerIP int
	Trusted            cli.Strings
	trusted            []*net.IPNet
	Recover            time.Duration
	// RecoverAll: recovery for every client, not only those that ask.
	RecoverAll   bool
	RecoverBytes int64
	Redis        string
	// RedisStreams is the Redis of the streams adapter, with its stream.
	RedisStreams string
	Streams      streamsadapter.Options
	Msgpack      bool // --parser msgpack
	Token        string
	Origins      cli.Strings
	TLSCert      string
	TLSKey       string
	LogJSON      bool
	Quiet        bool
	Verbose      bool
}

const usage = `Usage: sio-serve [options]

Run a Socket.IO v4 relay: every event a client emits is sent on to every
other client of its namespace (the URL path), or of its rooms when it joined
any (handshake auth or query "room", a name or a comma list).

Options:
  -H, --host HOST        listen address (env SIO_HOST, default 127.0.0.1)
  -p, --port PORT        listen port, 0 picks a free one (env SIO_PORT,
                         default 31979)
      --max-bytes N      largest message a client may send (default 1000000);
                         a larger one closes that client's connection
      --max-queue N      bytes that may wait for a client that stopped
                         reading (no write completed for 2 s); past it that
                         client is disconnected, as is one with 16 times N
                         waiting even if it reads (default 16777216)
      --max-conns N      most connections at once; more are answered 503
                         (default 10000, 0 for no limit)
      --max-conns-per-ip N  most connections from one client address
                         (default 1000, 0 for no limit); past it, 503
      --max-handshakes-per-ip N  most connections from one address that
                         have not joined a namespace yet (default 100, 0 for
                         no limit); past it, 503
      --trusted-ip A     an address or CIDR block exempt from the limits per
                         address (repeatable or a comma list; loopback
                         always is): a reverse proxy, say
      --ping-interval D  how often the server pings each client (default
                         25s); shorter behind a proxy that cuts idle
                         connections sooner
      --ping-timeout D   how long it waits for the answer before it drops
                         the client (default 20s); clients learn both
      --connect-timeout D  a connection that has joined no namespace by
                         then is closed (default 5s)
      --max-rooms N      most rooms a client may ask to join; one that asks
                         for more is refused at connect (default 100)
      --recover D        connection state recovery for every client: one
                         that comes back within D gets the events it
                         missed and its rooms, and each event carries an
                         offset as a last argument (as with Node's
                         connectionStateRecovery). Without it, sio-pub and
                         sio-sub, which ask for it, resume within 30s and
                         other clients see events as sent; 0 turns it off
      --recover-bytes N  bytes of events kept for recovery (default
                         67108864); a client away longer than they last
                         resumes with a gap
      --redis URL        join the other servers on this Redis: sio-serve and
                         Node socket.io with @socket.io/redis-adapter (env
                         SIO_REDIS_URL; redis://HOST:PORT/DB, rediss:// for
                         TLS); recovery is then off
      --redis-streams URL  join the other servers through a Redis stream, as
                         Node socket.io with @socket.io/redis-streams-adapter
                         0.3 (env SIO_REDIS_STREAMS_URL): a node cut from
                         Redis, or a Redis restarted with its data, resumes
                         where it stopped and loses nothing. Recovery is off
                         unless --recover is given: then sessions are kept
                         in Redis and a client may resume on any node
      --stream-name S    the stream (default socket.io)
      --stream-maxlen N  about how many entries the stream keeps (default
                         10000): a node away longer than N broadcasts
                         misses the oldest
      --stream-read-count N  entries read at once (default 100)
      --session-key-prefix P  of the sessions kept in Redis (default
                         sio:session:)
      --token T          clients must send T as "token" in the handshake
                         auth (sio-pub/sio-sub --token; env SIO_TOKEN)
      --parser P         default, or msgpack: speak socket.io-msgpack-parser,
                         as a Node server configured with it; every client
                         must use it too (sio-pub/sio-sub --parser msgpack;
                         the viewer does)
      --cors-origin O    also let web pages of origin O connect (repeatable
                         or a comma list; "*" for any). By default only
                         pages of the same origin or on a loopback address
      --static DIR       serve the files under DIR at / (index.html for a
                         directory; no listings, no dot files, nothing
                         outside DIR); the viewer moves to /_sio/ (env
                         SIO_STATIC)
      --tls-cert FILE    serve HTTPS and WSS with this certificate (PEM)...
      --tls-key FILE     ...and this key
      --log-format F     text (default) or json, one record per line on stderr
  -q, --quiet            log only warnings and errors
  -v, --verbose          log debug detail and event payloads
  -h, --help             show this help
      --version          print the version (and the Go and Socket.IO library versions)

Routes:
  /                      the live viewer page (/?ns=/chat&room=r1); with
                         --static, the files of DIR
  /_sio/                 the viewer page, also with --static
  /socket.io/            the Socket.IO endpoint (websocket and polling)
  /socket.io/socket.io.js  the official browser client (also .min.js)
  /healthz               200 "ok" while serving ("redis: up" or "redis:
                         down" on a second line with --redis or
                         --redis-streams)
  /metrics               Prometheus text format

Under systemd (Type=notify) it sends READY=1 once it listens and
STOPPING=1 when it shuts down.

When ready it prints one line on stderr:
  sio-serve: listening on http://HOST:PORT
SIGINT or SIGTERM: clients are sent a disconnect, then it exits 0 within 5 s.

Durations (D) are written like 30s, 1m30s or 500ms; a bare number is seconds.

Exit status:
  0  stopped by SIGINT or SIGTERM
  1  runtime failure
  2  usage error (bad flag or value)
  3  could not start (address in use, bad host, Redis unreachable)

Examples:
  sio-serve &
  seq 1 5 | sio-pub -e demo           # while: sio-sub -e demo
  SIO_PORT=8080 sio-serve --host 0.0.0.0
  sio-serve --port 0 2>&1 | head -1   # find the port it picked
  sio-serve --static ./site           # your pages at /, the viewer at /_sio/
  sio-serve --port 3001 --redis redis://127.0.0.1:6379/0   # one of several
`

// DefaultRecover is how long sio-serve keeps the session of a sio-pub or
// sio-sub whose connection was lost, when --recover is not given.
const DefaultRecover = 30 * time.Second

// The Engine.IO timers by default: Node's ping interval and timeout, and
// a connect timeout much shorter than the library's 45 s (relay.Options).
const (
	DefaultPingInterval   = 25 * time.Second
	DefaultPingTimeout    = 20 * time.Second
	DefaultConnectTimeout = 5 * time.Second
)

// ParseFlags reads the command line and the environment.
func ParseFlags(args []string, getenv func(string) string, stdout io.Writer) (Config, error) {
	fs := cli.NewFlagSet("sio-serve")
	var c Config
	port := cli.Env(getenv, strconv.Itoa(cli.DefaultPort), "SIO_PORT")
	host := cli.Env(getenv, cli.DefaultHost, "SIO_HOST")
	for _, n := range []string{"H", "host"} {
		fs.StringVar(&c.Host, n, host, "")
	}
	var portStr string
	for _, n := range []string{"p", "port"} {
		fs.StringVar(&portStr, n, port, "")
	}
	fs.Int64Var(&c.MaxBytes, "max-bytes", relay.DefaultMaxBytes, "")
	fs.Int64Var(&c.MaxQueue, "max-queue", relay.DefaultMaxQueue, "")
	cli.DurationVar(fs, &c.Recover, "recover", DefaultRecover)
	fs.Int64Var(&c.RecoverBytes, "recover-bytes", relay.DefaultRecoverBytes, "")
	fs.StringVar(&c.Redis, "redis", getenv("SIO_REDIS_URL"), "")
	fs.StringVar(&c.RedisStreams, "redis-streams", getenv("SIO_REDIS_STREAMS_URL"), "")
	fs.StringVar(&c.Streams.StreamName, "stream-name", "socket.io", "")
	fs.Int64Var(&c.Streams.MaxLen, "stream-maxlen", 10000, "")
	fs.Int64Var(&c.Streams.ReadCount, "stream-read-count", 100, "")
	fs.StringVar(&c.Streams.SessionKeyPrefix, "session-key-prefix", "sio:session:", "")
	fs.IntVar(&c.MaxConns, "max-conns", 10000, "")
	fs.IntVar(&c.MaxRooms, "max-rooms", relay.DefaultMaxRooms, "")
	fs.IntVar(&c.MaxConnsPerIP, "max-conns-per-ip", 1000, "")
	fs.IntVar(&c.MaxHandshakesPerIP, "max-handshakes-per-ip", 100, "")
	fs.Var(&c.Trusted, "trusted-ip", "")
	cli.DurationVar(fs, &c.PingInterval, "ping-interval", DefaultPingInterval)
	cli.DurationVar(fs, &c.PingTimeout, "ping-timeout", DefaultPingTimeout)
	cli.DurationVar(fs, &c.ConnectTimeout, "connect-timeout", DefaultConnectTimeout)
	fs.StringVar(&c.Token, "token", getenv("SIO_TOKEN"), "")
	parser := "default"
	fs.StringVar(&parser, "parser", parser, "")
	fs.Var(&c.Origins, "cors-origin", "")
	fs.StringVar(&c.Static, "static", getenv("SIO_STATIC"), "")
	fs.StringVar(&c.TLSCert, "tls-cert", "", "")
	fs.StringVar(&c.TLSKey, "tls-key", "", "")
	logFormat := "text"
	fs.StringVar(&logFormat, "log-format", logFormat, "")
	for _, n := range []string{"q", "quiet"} {
		fs.BoolVar(&c.Quiet, n, false, "")
	}
	for _, n := range []string{"v", "verbose"} {
		fs.BoolVar(&c.Verbose, n, false, "")
	}
	if err := cli.Parse(fs, usage, args, stdout); err != nil {
		return c, err
	}
	switch parser {
	case "default":
	case "msgpack":
		c.Msgpack = true
	default:
		return c, cli.Errorf(cli.ExitUsage, "invalid value %q for --parser: want default or msgpack", parser)
	}
	p, err := strconv.Atoi(portStr)
	if err != nil || p < 0 || p > 65535 {
		return c, cli.Errorf(cli.ExitUsage, "invalid port %q: want 0 to 65535", portStr)
	}
	c.Port = p
	if c.Recover < 0 {
		return c, cli.Errorf(cli.ExitUsage, "invalid value %v for --recover: must not be negative", c.Recover)
	}
	if c.RecoverBytes <= 0 {
		return c, cli.Errorf(cli.ExitUsage, "invalid value %d for --recover-bytes: must be above zero", c.RecoverBytes)
	}
	recoverSet := false
	fs.Visit(func(f *flag.Flag) { recoverSet = recoverSet || f.Name == "recover" })
	c.RecoverAll = recoverSet && c.Recover > 0
	if c.Redis != "" {
		if err := redisadapter.CheckURL(c.Redis); err != nil {
			return c, cli.Errorf(cli.ExitUsage, "invalid value %q for --redis: %v (want redis://HOST:PORT/DB)", c.Redis, err)
		}
	}
	if c.RedisStreams != "" {
		if err := redisadapter.CheckURL(c.RedisStreams); err != nil {
			return c, cli.Errorf(cli.ExitUsage, "invalid value %q for --redis-streams: %v (want redis://HOST:PORT/DB)", c.RedisStreams, err)
		}
		if c.Redis != "" {
			return c, cli.Errorf(cli.ExitUsage, "--redis and --redis-streams do not go together: choose one adapter")
		}
	}
	for _, v := range []struct {
		name string
		n    int64
	}{{"stream-maxlen", c.Streams.MaxLen}, {"stream-read-count", c.Streams.ReadCount}} {
		if v.n <= 0 {
			return c, cli.Errorf(cli.ExitUsage, "invalid value %d for --%s: must be above zero", v.n, v.name)
		}
	}
	if c.Streams.StreamName == "" {
		return c, cli.Errorf(cli.ExitUsage, "empty --stream-name")
	}
	if c.Redis != "" && recoverSet && c.Recover > 0 {
		return c, cli.Errorf(cli.ExitUsage, "--redis and --recover do not go together (recovery needs a session store the Redis protocol does not share)")
	}
	if c.Redis != "" || c.RedisStreams != "" && !recoverSet {
		c.Recover = 0
	}
	switch logFormat {
	case "text":
	case "json":
		c.LogJSON = true
	default:
		return c, cli.Errorf(cli.ExitUsage, "invalid value %q for --log-format: want text or json", logFormat)
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		return c, cli.Errorf(cli.ExitUsage, "--tls-cert and --tls-key go together")
	}
	if c.MaxConns < 0 {
		return c, cli.Errorf(cli.ExitUsage, "invalid value %d for --max-conns: must not be negative", c.MaxConns)
	}
	if c.MaxConnsPerIP < 0 {
		return c, cli.Errorf(cli.ExitUsage, "invalid value %d for --max-conns-per-ip: must not be negative", c.MaxConnsPerIP)
	}
	if c.MaxHandshakesPerIP < 0 {
		return c, cli.Errorf(cli.ExitUsage, "invalid value %d for --max-handshakes-per-ip: must not be negative", c.MaxHandshakesPerIP)
	}
	for _, a := range c.Trusted {
		n, err := parseTrusted(a)
		if err != nil {
			return c, cli.Errorf(cli.ExitUsage, "invalid value %q for --trusted-ip: want an IP address or a CIDR block", a)
		}
		c.trusted = append(c.trusted, n)
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"ping-interval", c.PingInterval}, {"ping-timeout", c.PingTimeout}, {"connect-timeout", c.ConnectTimeout}} {
		if d.v < time.Millisecond {
			return c, cli.Errorf(cli.ExitUsage, "invalid value %v for --%s: must be 1ms or more", d.v, d.name)
		}
	}
	if c.MaxRooms <= 0 {
		return c, cli.Errorf(cli.ExitUsage, "invalid value %d for --max-rooms: must be above zero", c.MaxRooms)
	}
	if c.MaxQueue <= 0 {
		return c, cli.Errorf(cli.ExitUsage, "invalid value %d for --max-queue: must be above zero", c.MaxQueue)
	}
	if c.MaxBytes <= 0 {
		return c, cli.Errorf(cli.ExitUsage, "invalid value %d for --max-bytes: must be above zero", c.MaxBytes)
	}
	return c, nil
}

// Run serves until ctx is cancelled, then shuts down cleanly.
func Run(ctx context.Context, c Config, stdio cli.Stdio) error {
	log := newLogger(c, stdio.Err)
	tc, err := loadTLS(c)
	if err != nil {
		return err
	}
	var st *static
	if c.Static != "" {
		var root *os.Root
		if st, root, err = openStatic(c.Static); err != nil {
			return cli.Errorf(cli.ExitStart, "--static: %v", err)
		}
		defer root.Close()
	}
	var shed func() // set once the relay is made, before Serve
	ln, scheme, err := listen(c, tc, func() { shed() })
	if err != nil {
		return err
	}
	cluster, err := openCluster(ctx, c, log)
	if err != nil {
		ln.Close()
		return cli.Errorf(cli.ExitStart, "%v", err)
	}
	if cluster != nil {
		defer cluster.Close()
	}
	r := relay.New(relayOptions(c, cluster, log))
	srv := newServer(newHandler(c, r, st, cluster, log), log)
	shed = shedLogger(r, log)

	// What starting cost (the viewer's assets compressed, the library's
	// tables) is garbage now: freed and returned before the first client,
	// so an idle server starts small and its RSS grows by what clients
	// cost (a few MB were returned during the first clients otherwise,
	// and hid that much of their cost).
	debug.FreeOSMemory()
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	stopReleasing := releaseMemoryInBackground(ctx)
	defer stopReleasing()
	fmt.Fprintf(stdio.Err, "sio-serve: listening on %s://%s\n", scheme, ln.Addr())
	if err := notify("READY=1"); err != nil {
		log.Warn("systemd notify", "err", err)
	}
	return serveUntilDone(ctx, errc, ln, r, srv, log)
}

// newLogger writes records to w, as text or JSON (--log-format), at the
// level -q or -v asks for.
func newLogger(c Config, w io.Writer) *slog.Logger {
	level := slog.LevelInfo
	if c.Quiet {
		level = slog.LevelWarn
	}
	if c.Verbose {
		level = slog.LevelDebug
	}
	hopts := &slog.HandlerOptions{Level: level}
	var h slog.Handler = slog.NewTextHandler(w, hopts)
	if c.LogJSON {
		h = slog.NewJSONHandler(w, hopts)
	}
	return slog.New(h)
}

// loadTLS reads --tls-cert and --tls-key; nil without them.
func loadTLS(c Config) (*tls.Config, error) {
	if c.TLSCert == "" {
		return nil, nil
	}
	cert, err := tls.LoadX509KeyPair(c.TLSCert, c.TLSKey)
	if err != nil {
		return nil, cli.Errorf(cli.ExitStart, "TLS: %v", err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
}

// listen opens the address of c, over TLS when tc is set, and says the
// scheme of the URL clients use.
// Out of open files, it refuses new clients at once (shedListener), and
// calls shed for each.
func listen(c Config, tc *tls.Config, shed func()) (net.Listener, string, error) {
	addr := net.JoinHostPort(c.Host, strconv.Itoa(c.Port))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, "", cli.Errorf(cli.ExitStart, "listen: %v", listenError(addr, err))
	}
	if tc == nil {
		return newShedListener(ln, true, shed), "http", nil
	}
	return tls.NewListener(newShedListener(ln, false, shed), tc), "https", nil
}

// shedLogger counts each client refused for want of an open file
// (sio_refused_total{reason="open_files"}) and says so on stderr, at most
// every 10 s.
func shedLogger(r *relay.Relay, log *slog.Logger) func() {
	var mu sync.Mutex
	var last time.Time
	n := 0
	return func() {
		r.Refused("open_files")
		mu.Lock()
		defer mu.Unlock()
		n++
		if time.Since(last) < 10*time.Second {
			return
		}
		log.Warn("refused new clients: out of open files (raise ulimit -n, or lower --max-conns)", "refused", n)
		last, n = time.Now(), 0
	}
}

// relayOptions are the relay's settings from the flags; cluster, nil
// without --redis, gives the adapter.
func relayOptions(c Config, cluster cluster, log *slog.Logger) relay.Options {
	ro := relay.Options{MaxBytes: c.MaxBytes, MaxQueue: c.MaxQueue, MaxRooms: c.MaxRooms, Token: c.Token, Logger: log,
		PingInterval: c.PingInterval, PingTimeout: c.PingTimeout, ConnectTimeout: c.ConnectTimeout,
		MaxConnsPerIP: c.MaxConnsPerIP, MaxHandshakesPerIP: c.MaxHandshakesPerIP, Exempt: c.exempt,
		Recover: c.Recover, RecoverAll: c.RecoverAll, RecoverBytes: c.RecoverBytes, Msgpack: c.Msgpack}
	if cluster != nil {
		ro.Adapter = cluster.Adapter()
	}
	return ro
}

// newServer bounds the time and size of request headers and logs the HTTP
// server's own errors at debug level.
func newServer(h http.Handler, log *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		// A connection kept alive between requests is closed after 5 s
		// idle, as Node's server does (keepAliveTimeout): a client that
		// upgraded from long-polling leaves its polling connection open,
		// which held a goroutine and its buffers for good (about 24 KB).
		IdleTimeout:    5 * time.Second,
		MaxHeaderBytes: 64 << 10, // a browser sends a few KB; Go's default is 1 MB
		ErrorLog:       slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
}

// releaseMemoryInBackground runs releaseMemory until stop is called; stop
// returns once it has ended.
func releaseMemoryInBackground(ctx context.Context) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	released := make(chan struct{})
	go func() {
		defer close(released)
		releaseMemory(ctx, releaseInterval, releaseFloor)
	}()
	return func() {
		cancel()
		<-released
	}
}

// serveUntilDone waits for ctx to end, then shuts down; errc has what
// srv.Serve returned. A server that stops before ctx ends is a runtime
// failure.
func serveUntilDone(ctx context.Context, errc <-chan error, ln net.Listener, r *relay.Relay, srv *http.Server, log *slog.Logger) error {
	select {
	case err := <-errc:
		r.Close(0)
		return cli.Errorf(cli.ExitFailure, "serve: %v", err)
	case <-ctx.Done():
	}
	log.Info("shutting down", "clients", r.Clients())
	_ = notify("STOPPING=1")
	shutdown(ln, r, srv)
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
		return cli.Errorf(cli.ExitFailure, "serve: %v", err)
	}
	return nil
}

// disconnectWait is how long shutdown waits for the clients to leave once
// told to: it leaves, within cli.ShutdownTimeout, time for the relay's own
// close (up to 1 s) and for the last HTTP requests.
const disconnectWait = 2 * time.Second

// shutdown stops accepting, then tells the clients, then waits for the rest
// of the HTTP requests, all within the one deadline cli.ShutdownTimeout
// from now; requests still open then are cut.
func shutdown(ln net.Listener, r *relay.Relay, srv *http.Server) {
	ctx, cancel := context.WithTimeout(context.Background(), cli.ShutdownTimeout)
	defer cancel()
	ln.Close()
	r.Close(disconnectWait)
	if err := srv.Shutdown(ctx); err != nil {
		srv.Close()
	}
}

// listenError says what address could not be listened on, and why, without
// the "listen tcp" prefix Go adds to net errors.
func listenError(addr string, err error) error {
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		return fmt.Errorf("%s: %v", addr, op.Err) // op.Addr is nil when addr did not resolve
	}
	return err
}

// parseTrusted reads an IP address or a CIDR block.
func parseTrusted(a string) (*net.IPNet, error) {
	if _, n, err := net.ParseCIDR(a); err == nil {
		return n, nil
	}
	ip := net.ParseIP(a)
	if ip == nil {
		return nil, errors.New("not an address")
	}
	bits := 8 * len(ip.To16())
	if ip4 := ip.To4(); ip4 != nil {
		ip, bits = ip4, 32
	}
	return &net.IPNet{IP: ip, Mask: net.CIDRMask(bits, bits)}, nil
}

// exempt tells whether a client address is free of the limits per address:
// loopback, and --trusted-ip.
func (c Config) exempt(ip net.IP) bool {
	if ip.IsLoopback() {
		return true
	}
	for _, n := range c.trusted {
		if n.Contains(ip) {
			return true
		}
	}
	return false
}

// cluster is the adapter to other servers: --redis or --redis-streams.
type cluster interface {
	Adapter() socket.AdapterConstructor
	Up() bool
	WriteMetrics(io.Writer)
	Close()
}

// openCluster joins the other servers; nil without --redis or
// --redis-streams.
func openCluster(ctx context.Context, c Config, log *slog.Logger) (cluster, error) {
	if c.Redis == "" && c.RedisStreams == "" {
		return nil, nil
	}
	redisadapter.UseLogger(log) // process-wide: the Redis library's own lines go to our log
	if c.Redis != "" {
		return redisadapter.Open(ctx, c.Redis, 5*time.Second, log)
	}
	return streamsadapter.Open(ctx, c.RedisStreams, c.Streams, 5*time.Second, log)
}
