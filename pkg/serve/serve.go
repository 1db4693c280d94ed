// Package serve is the sio-serve command: flags, the HTTP server around
// the relay, readiness and shutdown.
package serve

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/sio-tools/sio/pkg/cli"
	"github.com/sio-tools/sio/pkg/relay"
)

// Config is what the flags say.
type Config struct {
	Host     string
	Port     int
	MaxBytes int64
	MaxQueue int64
	Recover  time.Duration
	Quiet    bool
	Verbose  bool
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
      --max-queue N      bytes that may wait for a client that does not
                         read; past it that client is disconnected
                         (default 16777216)
      --recover D        connection state recovery: a client that comes
                         back within D (e.g. 30s) gets the events it missed
                         and its rooms (default off)
  -q, --quiet            log only warnings and errors
  -v, --verbose          log debug detail
  -h, --help             show this help

Routes:
  /socket.io/            the Socket.IO endpoint (websocket and polling)
  /healthz               200 "ok" while serving
  /metrics               Prometheus text format

When ready it prints one line on stderr:
  sio-serve: listening on http://HOST:PORT
SIGINT or SIGTERM: clients are sent a disconnect, then it exits 0 within 5 s.

Exit status:
  0  stopped by SIGINT or SIGTERM
  1  runtime failure
  2  usage error (bad flag or value)
  3  could not start (address in use, bad host)

Examples:
  sio-serve &
  seq 1 5 | sio-pub -e demo           # while: sio-sub -e demo
  SIO_PORT=8080 sio-serve --host 0.0.0.0
  sio-serve --port 0 2>&1 | head -1   # find the port it picked
`

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
	fs.DurationVar(&c.Recover, "recover", 0, "")
	for _, n := range []string{"q", "quiet"} {
		fs.BoolVar(&c.Quiet, n, false, "")
	}
	for _, n := range []string{"v", "verbose"} {
		fs.BoolVar(&c.Verbose, n, false, "")
	}
	if err := cli.Parse(fs, usage, args, stdout); err != nil {
		return c, err
	}
	p, err := strconv.Atoi(portStr)
	if err != nil || p < 0 || p > 65535 {
		return c, cli.Errorf(cli.ExitUsage, "invalid port %q: want 0 to 65535", portStr)
	}
	c.Port = p
	if c.Recover < 0 {
		return c, cli.Errorf(cli.ExitUsage, "invalid value %v for --recover: must not be negative", c.Recover)
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
	if os.Getenv("GOGC") == "" {
		// Fan-out allocates short-lived buffers; a larger heap target
		// costs little memory and much less GC (LIBRARY-NOTES S2).
		debug.SetGCPercent(400)
	}
	level := slog.LevelInfo
	if c.Quiet {
		level = slog.LevelWarn
	}
	if c.Verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(stdio.Err, &slog.HandlerOptions{Level: level}))

	ln, err := net.Listen("tcp", net.JoinHostPort(c.Host, strconv.Itoa(c.Port)))
	if err != nil {
		return cli.Errorf(cli.ExitStart, "listen: %v", trimOpError(err))
	}
	r := relay.New(relay.Options{MaxBytes: c.MaxBytes, MaxQueue: c.MaxQueue, Logger: log, Recover: c.Recover})
	mux := http.NewServeMux()
	mux.Handle("/socket.io/", r)
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("/metrics", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		r.WriteMetrics(w)
	})
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		MaxHeaderBytes:    64 << 10, // a browser sends a few KB; Go's default is 1 MB
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	fmt.Fprintf(stdio.Err, "sio-serve: listening on http://%s\n", ln.Addr())

	select {
	case err := <-errc:
		r.Close(0)
		return cli.Errorf(cli.ExitFailure, "serve: %v", err)
	case <-ctx.Done():
	}
	log.Info("shutting down", "clients", r.Clients())
	// Stop accepting first, then tell the clients, then wait for the
	// rest of the HTTP requests: all within 5 s.
	ln.Close()
	r.Close(2 * time.Second)
	sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		srv.Close()
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
		return cli.Errorf(cli.ExitFailure, "serve: %v", err)
	}
	return nil
}

// trimOpError drops the "listen tcp" prefix Go adds to net errors.
func trimOpError(err error) error {
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		return fmt.Errorf("%s: %v", op.Addr, op.Err)
	}
	return err
}
