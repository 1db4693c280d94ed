// Package sub is the sio-sub command: Socket.IO events to stdout lines.
package sub

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/mattn/go-isatty"

	"github.com/sio-tools/sio/pkg/cli"
	"github.com/sio-tools/sio/pkg/conn"
	"github.com/sio-tools/sio/pkg/lines"
)

// Config is what the flags say.
type Config struct {
	// the server and how to connect, the flags shared with sio-pub
	cli.ClientConfig

	Events  []string
	Format  lines.Format
	Verbose bool
	// Timestamp prefixes each line with the time the event arrived,
	// written by TimeFormat (lines.ParseTimeFormat; nil: the default).
	Timestamp  bool
	TimeFormat func(time.Time) string
	// Ready, when not nil, gets a line once subscribed, and is closed.
	Ready       *os.File
	Count       int
	Timeout     time.Duration
	NoReconnect bool
	Strict      bool
}

const usage = `Usage: sio-sub [options]

Print the events a Socket.IO server sends, one line per event, as they
arrive (flushed per event, so "sio-sub | grep x" shows a match at once).

Options:
  -e, --event NAME          print only events of this name (repeatable, or a
                            comma list); default: every event
  -f, --format FORMAT       how an event is printed (default text):
                              text      a single string argument as is, with
                                        CR and LF shown as \r and \n; any
                                        other value as compact JSON; several
                                        arguments as a JSON array
                              json      the data always as compact JSON
                              envelope  {"event":NAME,"data":VALUE}, or
                                        "args":[...] for several arguments;
                                        what sio-pub -f envelope reads
  -v, --verbose             prefix each line with the event name and a space
                            (text and json)
  -t, --timestamp           prefix each line with the time the event arrived
                            (RFC 3339, UTC, ms) and a space; with -f
                            envelope, a "time" field
      --time-format F       -t with another format: local (RFC 3339 in
                            local time), unix (seconds.ms), unixms, or a
                            strftime pattern in local time such as
                            '%H:%M:%S.%L' (%Y %m %d %H %M %S %L %z %Z %s %j
                            %a %b %T %F %%)
  -C, --count N             exit 0 after N events
  -W, --timeout D           exit 124 when no event arrived for D (e.g. 5s)
  -u, --url URL             server URL, http(s):// or ws(s):// (http:// when
                            it has no scheme); its path is the namespace
                            (env SIO_URL, default http://$SIO_HOST:$SIO_PORT,
                            that is http://127.0.0.1:31979)
  -r, --room ROOMS          join these rooms (a comma list): hear their events
                            and the namespace-wide ones (sio-serve)
      --token TOKEN         send TOKEN in the handshake auth (env SIO_TOKEN)
      --no-reconnect        exit 1 when the connection is lost (default:
                            reconnect forever, also after a server restart)
      --strict              exit 1 at the first gap: a reconnect after which
                            events sent meanwhile may be missing (the server
                            did not resume the session); without it, each
                            gap is reported on stderr and printing goes on
      --connect-timeout D   give up the first connection after D (default 10s)
      --ready-fd N          once subscribed, write a line to file descriptor
                            N and close it (for scripts that must not emit
                            before it listens; see below)
` + cli.TLSUsage + `
` + cli.HandshakeUsage + `
  -h, --help                show this help
      --version             print the version (and the Go and Socket.IO library versions)

Binary data is printed as {"$binary":"<base64>"}, which sio-pub -f json and
-f envelope turn back into binary. JSON is printed as it arrived (key
order, number spelling), without spaces.

Once subscribed (its first CONNECT answered: from then on it gets every
event), sio-sub says so once on stderr, with -v its socket id too:
  sio-sub: subscribed to http://127.0.0.1:31979/
A script that must not publish before then can wait for --ready-fd:
  mkfifo ready; sio-sub -C 1 -e done --ready-fd 3 3>ready >out &
  read _ <ready; echo ok | sio-pub -e done; wait

A lost connection is made again. When the server resumes the session
(sio-serve does, see --recover), the events sent meanwhile arrive and
nothing is missing. Otherwise sio-sub reports the gap at once on stderr:
  sio-sub: gap 1: events sent from 12:00:01.250 to 12:00:03.500 (UTC) may be missing (...)

Durations (D) are written like 30s, 1m30s or 500ms; a bare number is seconds.

Exit status:
  0    -C count reached, stdout closed (sio-sub | head -1), SIGINT or SIGTERM
  1    connection lost with --no-reconnect, a gap with --strict, runtime
       failure
  2    usage error (bad flag or value, bad URL)
  3    could not connect within --connect-timeout, or refused
  124  -W elapsed with no event

Examples:
  sio-sub                             # every event on namespace /
  sio-sub -e final | grep error       # only "final" events, filtered
  sio-sub -v --url http://127.0.0.1:31979/chat
  sio-sub -f json -e item | jq .price
  sio-sub -C 1 -W 30s -e done         # wait for one "done" event in a script
  sio-sub -f envelope --url http://a:31979 | sio-pub -f envelope --url http://b:31979
`

// ParseFlags reads the command line and the environment.
func ParseFlags(args []string, getenv func(string) string, stdout io.Writer) (Config, error) {
	fs := cli.NewFlagSet("sio-sub")
	var (
		c      Config
		client cli.ClientFlags
		format string
		events cli.Strings
	)
	client.Register(fs, getenv)
	for _, n := range []string{"e", "event"} {
		fs.Var(&events, n, "")
	}
	for _, n := range []string{"f", "format"} {
		fs.StringVar(&format, n, "text", "")
	}
	for _, n := range []string{"v", "verbose"} {
		fs.BoolVar(&c.Verbose, n, false, "")
	}
	for _, n := range []string{"t", "timestamp"} {
		fs.BoolVar(&c.Timestamp, n, false, "")
	}
	for _, n := range []string{"C", "count"} {
		fs.IntVar(&c.Count, n, 0, "")
	}
	for _, n := range []string{"W", "timeout"} {
		cli.DurationVar(fs, &c.Timeout, n, 0)
	}
	fs.BoolVar(&c.NoReconnect, "no-reconnect", false, "")
	fs.BoolVar(&c.Strict, "strict", false, "")
	var timeFormat string
	fs.StringVar(&timeFormat, "time-format", "", "")
	readyFd := -1
	fs.IntVar(&readyFd, "ready-fd", -1, "")
	if err := cli.Parse(fs, usage, args, stdout); err != nil {
		return c, err
	}
	var err error
	if c.ClientConfig, err = client.Resolve(fs); err != nil {
		return c, err
	}
	if c.Format, err = lines.ParseFormat(format); err != nil {
		return c, cli.Errorf(cli.ExitUsage, "%v", err)
	}
	if c.Count < 0 {
		return c, cli.Errorf(cli.ExitUsage, "invalid value %d for -C: must not be negative", c.Count)
	}
	if c.Timeout < 0 {
		return c, cli.Errorf(cli.ExitUsage, "invalid value %v for -W: must not be negative", c.Timeout)
	}
	fs.Visit(func(f *flag.Flag) {
		if f.Name == "time-format" {
			c.Timestamp = true
		}
	})
	if c.TimeFormat, err = lines.ParseTimeFormat(timeFormat); err != nil {
		return c, cli.Errorf(cli.ExitUsage, "invalid value %q for --time-format: %v", timeFormat, err)
	}
	if readyFd >= 0 {
		if c.Ready, err = readyFile(readyFd); err != nil {
			return c, err
		}
	}
	c.Events = events
	return c, nil
}

// readyFile returns the open file descriptor fd for --ready-fd.
func readyFile(fd int) (*os.File, error) {
	if fd <= 2 {
		return nil, cli.Errorf(cli.ExitUsage, "invalid value %d for --ready-fd: want 3 or more (0, 1 and 2 are stdin, stdout and stderr)", fd)
	}
	f := os.NewFile(uintptr(fd), "ready-fd")
	if _, err := f.Stat(); err != nil {
		return nil, cli.Errorf(cli.ExitUsage, "invalid value %d for --ready-fd: not an open file descriptor", fd)
	}
	return f, nil
}

// item is an event to print or a change of the connection, in the order
// the connection saw them.
type item struct {
	name  string
	args  []any
	at    time.Time // when it arrived, with -t
	state *conn.State
}

// Run prints events until the count is reached, stdout closes, the
// timeout passes, the connection is lost for good, or ctx ends.
func Run(ctx context.Context, c Config, stdio cli.Stdio) error {
	want := map[string]bool{}
	for _, e := range c.Events {
		want[e] = true
	}
	// done releases the connection's goroutines from put once Run
	// returns, so that closing the connection does not wait for a reader
	// blocked on a full items channel (-C reached while events pour in).
	done := make(chan struct{})
	var closeDone sync.Once
	defer closeDone.Do(func() { close(done) })
	// The events the connection reads are gathered in batch and handed on
	// together whenever its reader has handed over everything it read
	// (OnIdle), before a change of the connection, or at maxBatch: one
	// hand-off per read rather than per event.
	items := make(chan []item, 4)
	var (
		mu    sync.Mutex
		batch []item
	)
	put := func(b []item) {
		select {
		case items <- b:
		case <-done:
		}
	}
	handOff := func() {
		mu.Lock()
		b := batch
		batch = nil
		mu.Unlock()
		if len(b) > 0 {
			put(b)
		}
	}
	cn, err := conn.Dial(ctx, conn.Options{
		URL:            c.URL,
		Rooms:          c.Rooms,
		Token:          c.Token,
		TLS:            c.TLS,
		Auth:           c.Auth,
		Header:         c.Header,
		Path:           c.Path,
		Msgpack:        c.Msgpack,
		Polling:        c.Polling,
		Upgrade:        c.Upgrade,
		ConnectTimeout: c.ConnectTimeout,
		Reconnect:      !c.NoReconnect,
		OnEvent: func(name string, args []any) {
			if len(want) > 0 && !want[name] {
				return
			}
			it := item{name: name, args: args}
			if c.Timestamp {
				it.at = time.Now()
			}
			mu.Lock()
			if batch == nil {
				batch = make([]item, 0, 16)
			}
			batch = append(batch, it)
			full := len(batch) >= maxBatch
			mu.Unlock()
			if full {
				handOff()
			}
		},
		OnIdle: handOff,
		OnState: func(s conn.State) {
			handOff()
			put([]item{{state: &s}})
		},
	})
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return cli.Errorf(cli.ExitStart, "%v", err)
	}
	defer func() {
		closeDone.Do(func() { close(done) })
		cn.Close()
	}()

	out := newOutput(stdio.Out)
	stdoutClosed := closedPipe(stdio.Out, done)
	p := &lines.Printer{Format: c.Format, Verbose: c.Verbose, TimeFormat: c.TimeFormat}
	var timeout <-chan time.Time
	var timer *time.Timer
	if c.Timeout > 0 {
		timer = time.NewTimer(c.Timeout)
		defer timer.Stop()
		timeout = timer.C
	}
	printed, gaps := 0, 0
	for {
		select {
		case b := <-items:
			before := printed
			for _, it := range b {
				if it.state != nil {
					// What was printed goes out before anything is said.
					if err := out.flush(); err != nil {
						return writeError(err)
					}
					if err := report(stdio.Err, c, *it.state, &gaps); err != nil {
						return err
					}
					continue
				}
				p.Time = it.at
				if err := out.write(p.Line(it.name, it.args)); err != nil {
					return writeError(err)
				}
				printed++
				if c.Count > 0 && printed >= c.Count {
					return writeError(out.flush())
				}
			}
			// Flushed whenever no further event is waiting: the events
			// read together go out with one write.
			if len(items) == 0 {
				if err := out.flush(); err != nil {
					return writeError(err)
				}
			}
			if timer != nil && printed > before {
				timer.Reset(c.Timeout)
			}
		case <-timeout:
			if err := out.flush(); err != nil {
				return writeError(err)
			}
			return cli.Errorf(cli.ExitTimeout, "no event for %v", c.Timeout)
		case <-stdoutClosed:
			return nil // as a write would have found
		case <-ctx.Done():
			return writeError(out.flush())
		}
	}
}

// maxBatch is the most events handed from the connection's reader to the
// printer at once.
const maxBatch = 256

// report says on stderr what a change of the connection means for the
// output: a lost connection, and on a reconnect whether events may be
// missing (a gap) or the server resumed the session.
func report(stderr io.Writer, c Config, st conn.State, gaps *int) error {
	if !st.Connected {
		if c.NoReconnect {
			return cli.Errorf(cli.ExitFailure, "connection to %s lost: %s", c.URL, st.Reason)
		}
		fmt.Fprintf(stderr, "sio-sub: connection to %s lost (%s), reconnecting\n", c.URL, st.Reason)
		return nil
	}
	if !st.Reconnected {
		subscribed(stderr, c, st)
		return nil
	}
	if st.Recovered {
		fmt.Fprintf(stderr, "sio-sub: reconnected to %s, session resumed: no event missed\n", c.URL)
		return nil
	}
	*gaps++
	const layout = "15:04:05.000"
	msg := fmt.Sprintf("gap %d: events sent from %s to %s (UTC) may be missing (reconnected to %s; the server did not resume the session)",
		*gaps, st.LastHeard.UTC().Format(layout), time.Now().UTC().Format(layout), c.URL)
	if c.Strict {
		return cli.Errorf(cli.ExitFailure, "%s", msg)
	}
	fmt.Fprintf(stderr, "sio-sub: %s\n", msg)
	return nil
}

// subscribed says once that sio-sub gets every event from now on, and
// tells --ready-fd.
func subscribed(stderr io.Writer, c Config, st conn.State) {
	if c.Verbose {
		fmt.Fprintf(stderr, "sio-sub: subscribed to %s as %s\n", c.URL, st.Sid)
	} else {
		fmt.Fprintf(stderr, "sio-sub: subscribed to %s\n", c.URL)
	}
	if c.Ready != nil {
		_, _ = io.WriteString(c.Ready, "ready\n")
		_ = c.Ready.Close()
	}
}

// writeError turns a closed stdout into a quiet exit 0.
func writeError(err error) error {
	if err == nil || errors.Is(err, syscall.EPIPE) || errors.Is(err, os.ErrClosed) {
		return nil
	}
	return cli.Errorf(cli.ExitFailure, "write stdout: %v", err)
}

// output writes lines straight to a terminal, and through a buffer to
// anything else, flushed whenever no further event is waiting.
type output struct {
	w   io.Writer
	buf *bufio.Writer
}

func newOutput(w io.Writer) *output {
	if f, ok := w.(*os.File); ok && (isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd())) {
		return &output{w: w}
	}
	return &output{w: w, buf: bufio.NewWriterSize(w, 64<<10)}
}

func (o *output) write(line []byte) error {
	if o.buf == nil {
		_, err := o.w.Write(line)
		return err
	}
	_, err := o.buf.Write(line)
	return err
}

func (o *output) flush() error {
	if o.buf == nil {
		return nil
	}
	return o.buf.Flush()
}
