// Package pub is the sio-pub command: stdin lines to Socket.IO events.
package pub

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/sio-tools/sio/pkg/cli"
	"github.com/sio-tools/sio/pkg/conn"
	"github.com/sio-tools/sio/pkg/lines"
)

// Config is what the flags say.
type Config struct {
	// the server and how to connect, the flags shared with sio-sub
	cli.ClientConfig

	Event       string
	Format      lines.Format
	MaxBytes    int
	SkipInvalid bool
	Buffer      int
	RetryFor    time.Duration
	Ack         bool
	// Message, when set, is the one event's line (-m); File the file the
	// lines are read from instead of stdin.
	Message *string
	File    string
	// Count is how many events to send (0: every line; with -m, 1), Rate
	// at most how many a second (0: as fast as the window allows).
	Count int
	Rate  float64
	// Reply prints each acknowledgement's arguments on stdout (implies Ack).
	Reply      bool
	Window     int
	AckTimeout time.Duration
}

const usage = `Usage: sio-pub [options] < lines

Read stdin, one line per event, and emit each to a Socket.IO server.
At end of input it exits only after every line reached the server.

Options:
  -m, --message MSG         send MSG as the one event (in the -f format; a
                            text MSG may hold newlines) instead of reading
                            stdin
      --file F              read the lines from file F instead of stdin
  -C, --count N             send N events: the -m message N times, or the
                            first N lines (the rest is left unread)
      --rate R              send at most R events a second (e.g. 200 or
                            0.5; default: as fast as --window allows)
  -e, --event NAME          event name (default "message")
  -f, --format FORMAT       how a line stands for an event (default text):
                              text      the line, without its newline, as
                                        one string argument
                              json      one JSON value, the argument
                              envelope  {"event":NAME,"data":VALUE} or
                                        {"event":NAME,"args":[...]}, the
                                        lines sio-sub -f envelope prints
  -u, --url URL             server URL, http(s):// or ws(s):// (http:// when
                            it has no scheme); its path is the namespace
                            (env SIO_URL, default http://$SIO_HOST:$SIO_PORT,
                            that is http://127.0.0.1:31979)
  -r, --room ROOMS          send only to the members of these rooms (a comma
                            list); the server must support rooms (sio-serve)
      --token TOKEN         send TOKEN in the handshake auth (env SIO_TOKEN)
      --max-bytes N         the largest event the server accepts, in bytes as
                            sent (default 1000000, Socket.IO's default); a
                            line whose event is larger is refused (a text
                            line of L plain bytes is L+16 with -e message)
      --skip-invalid        report a bad line on stderr and go on (exit 65
                            at the end) instead of stopping at it
      --buffer N            lines held while disconnected (default 10000);
                            when full, reading stops until reconnected
      --connect-timeout D   give up the first connection after D (default 10s)
` + cli.TLSUsage + `
` + cli.HandshakeUsage + `
      --retry-for D         after the connection is lost, keep trying to
                            reconnect for D (default 30s)
      --ack                 ask the server to acknowledge each event; events
                            not acknowledged when the connection is lost are
                            sent again after reconnecting, in order (the
                            server must ack: sio-serve does)
      --reply               request/reply (emitWithAck): as --ack, and print
                            each acknowledgement's arguments on stdout, one
                            line per input line in input order, in the -f
                            format (a server's handler answers with them)
      --window N            lines sent and not yet confirmed by the server
                            (with --ack: not acknowledged) before reading
                            waits; a lost connection puts at most this many
                            in doubt (default 5000)
      --ack-timeout D       when an event is not acknowledged within D,
                            reconnect and send again; fail when it is not
                            acknowledged within D again (default 30s)
  -h, --help                show this help
      --version             print the version (and the Go and Socket.IO library versions)

A line is sent without its "\n" or "\r\n". Lines are sent in order.
Lines must be UTF-8; a line that is not valid for its format, names a
reserved event (connect, connect_error, disconnect, disconnecting,
newListener, removeListener, error: no server delivers them), or whose
event is over --max-bytes or the server's own limit (its maxPayload),
stops sio-pub with exit 65 after the lines before it were delivered
(with --skip-invalid: reported, skipped, exit 65 at the end).

Durations (D) are written like 30s, 1m30s or 500ms; a bare number is seconds.

Exit status:
  0   all lines delivered (also when stopped by SIGINT or SIGTERM)
  1   lines not delivered (the count is on stderr; also when stopped by
      SIGINT or SIGTERM with lines read and not delivered), connection
      lost for good
  2   usage error (bad flag or value, bad URL, a reserved event name)
  3   could not connect within --connect-timeout, or refused
  65  a bad input line (invalid for its format, too long, not UTF-8)

Examples:
  seq 1 10 | sio-pub -e count
  tail -F app.log | sio-pub -e log --url http://127.0.0.1:31979/logs
  stream | translate | sio-pub -e final
  jq -c '.items[]' data.json | sio-pub -f json -e item
  echo 42 | sio-pub -f json -e getUser --reply   # print the server's answer
  sio-pub -e alert -m 'disk full on db1'
  sio-sub -f envelope --url http://a:31979 | sio-pub -f envelope --url http://b:31979
`

// ParseFlags reads the command line and the environment.
func ParseFlags(args []string, getenv func(string) string, stdout io.Writer) (Config, error) {
	fs := cli.NewFlagSet("sio-pub")
	var (
		c      Config
		client cli.ClientFlags
		format string
		maxB   int64
		buffer int
	)
	client.Register(fs, getenv)
	for _, n := range []string{"e", "event"} {
		fs.StringVar(&c.Event, n, "message", "")
	}
	for _, n := range []string{"f", "format"} {
		fs.StringVar(&format, n, "text", "")
	}
	fs.Int64Var(&maxB, "max-bytes", 1_000_000, "")
	fs.BoolVar(&c.SkipInvalid, "skip-invalid", false, "")
	fs.IntVar(&buffer, "buffer", 10000, "")
	cli.DurationVar(fs, &c.RetryFor, "retry-for", 30*time.Second)
	fs.BoolVar(&c.Ack, "ack", false, "")
	fs.BoolVar(&c.Reply, "reply", false, "")
	var message string
	for _, n := range []string{"C", "count"} {
		fs.IntVar(&c.Count, n, 0, "")
	}
	fs.Float64Var(&c.Rate, "rate", 0, "")
	for _, n := range []string{"m", "message"} {
		fs.StringVar(&message, n, "", "")
	}
	fs.StringVar(&c.File, "file", "", "")
	fs.IntVar(&c.Window, "window", 5000, "")
	cli.DurationVar(fs, &c.AckTimeout, "ack-timeout", 30*time.Second)
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
	if c.Event == "" {
		return c, cli.Errorf(cli.ExitUsage, "empty event name")
	}
	if lines.Reserved(c.Event) {
		return c, cli.Errorf(cli.ExitUsage, "invalid value %q for --event: %v", c.Event, lines.ReservedError(c.Event))
	}
	if maxB <= 0 || maxB > 1<<30 {
		return c, cli.Errorf(cli.ExitUsage, "invalid value %d for --max-bytes: want 1 to %d", maxB, 1<<30)
	}
	c.MaxBytes = int(maxB)
	if buffer <= 0 {
		return c, cli.Errorf(cli.ExitUsage, "invalid value %d for --buffer: must be above zero", buffer)
	}
	c.Buffer = buffer
	if c.Window <= 0 {
		return c, cli.Errorf(cli.ExitUsage, "invalid value %d for --window: must be above zero", c.Window)
	}
	if err := cli.PositiveDuration("ack-timeout", c.AckTimeout); err != nil {
		return c, err
	}
	if c.RetryFor < 0 {
		return c, cli.Errorf(cli.ExitUsage, "invalid value %v for --retry-for: must not be negative", c.RetryFor)
	}
	if c.Count < 0 {
		return c, cli.Errorf(cli.ExitUsage, "invalid value %d for --count: must not be negative", c.Count)
	}
	if c.Rate < 0 || math.IsNaN(c.Rate) || math.IsInf(c.Rate, 0) {
		return c, cli.Errorf(cli.ExitUsage, "invalid value %v for --rate: want events a second, such as 200 or 0.5", c.Rate)
	}
	c.Ack = c.Ack || c.Reply
	fs.Visit(func(f *flag.Flag) {
		if f.Name == "m" || f.Name == "message" {
			c.Message = &message
		}
	})
	if c.Message != nil && c.File != "" {
		return c, cli.Errorf(cli.ExitUsage, "-m and --file do not go together")
	}
	return c, nil
}

// item is one line read: an event to send, or the error that ends input.
type item struct {
	line  int
	body  []byte // the event's JSON array, or nil for binary: event, args
	event string // the event's name (also with a body)
	args  []any
	err   error
}

// Run reads stdin (or the -m message, or --file) and publishes until EOF,
// an error, or ctx ends.
func Run(ctx context.Context, c Config, stdio cli.Stdio) error {
	if c.File != "" {
		f, err := os.Open(c.File)
		if err != nil {
			return cli.Errorf(cli.ExitUsage, "--file %s: %v", c.File, errors.Unwrap(err))
		}
		defer f.Close()
		stdio.In = f
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
		Reconnect:      true,
	})
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return cli.Errorf(cli.ExitStart, "%v", err)
	}
	defer cn.Close()

	items := make(chan item, c.Buffer)
	sk := &skips{stderr: stdio.Err}
	// What goes before an event's body: the Engine.IO message type, the
	// Socket.IO packet type, the namespace, and an ack id with --ack.
	header := 1 + len(lines.AppendHeader(nil, c.URL.Path, -1))
	if c.Ack {
		header = cn.HeaderSize()
	}
	lim := limit{max: c.MaxBytes, header: header, what: fmt.Sprintf("--max-bytes %d", c.MaxBytes)}
	if mp := cn.MaxPayload(); mp > 0 && mp < int64(c.MaxBytes) {
		lim.max, lim.what = int(mp), fmt.Sprintf("the server's limit %d (its maxPayload)", mp)
	}
	go read(ctx, c, lim, stdio, items, sk)

	if c.Ack {
		a := &acker{cn: cn, cfg: c, stderr: stdio.Err, stdout: stdio.Out}
		return a.run(ctx, items, sk)
	}
	p := &publisher{cn: cn, cfg: c}
	return p.run(ctx, items, sk)
}

// read parses stdin into items; it closes items at EOF or after the item
// that carries an error. With --skip-invalid it reports the lines it
// skips to sk.
func read(ctx context.Context, c Config, lim limit, stdio cli.Stdio, items chan<- item, sk *skips) {
	defer close(items)
	pace := newPacer(c.Rate)
	defer pace.stop()
	enc := newEncoder(c, lim)
	send := func(it item) bool {
		if it.err == nil && !pace.wait(ctx) {
			return false
		}
		select {
		case items <- it:
			return true
		default:
		}
		select {
		case items <- it:
			return true
		case <-ctx.Done():
			return false
		}
	}
	if c.Message != nil {
		// The message whole (not split into lines), once or --count times.
		for n := 1; n <= max(c.Count, 1); n++ {
			it, err := enc.encode(n, []byte(*c.Message))
			if err != nil {
				send(item{err: &cli.Error{Code: cli.ExitData, Err: fmt.Errorf("-m: %v", err)}})
				return
			}
			if !send(it) {
				return
			}
		}
		return
	}
	// A line may be longer than its event as sent (an envelope's keys,
	// base64 for binary): the limit is checked on the event (encode);
	// this one only bounds what is read.
	r := lines.NewReader(stdio.In, 2*lim.max+64<<10)
	sent := 0
	for c.Count == 0 || sent < c.Count {
		b, err := r.Next()
		if errors.Is(err, io.EOF) {
			return
		}
		if err == nil {
			var it item
			if it, err = enc.encode(r.Line(), b); err == nil {
				if !send(it) {
					return
				}
				sent++
				continue
			}
			err = &lines.LineError{Line: r.Line(), Err: err}
		}
		var le *lines.LineError
		if !errors.As(err, &le) {
			send(item{err: cli.Errorf(cli.ExitFailure, "read stdin: %v", err)})
			return
		}
		if !c.SkipInvalid {
			send(item{err: &cli.Error{Code: cli.ExitData, Err: le}})
			return
		}
		// Reported here, in input order; counted for the exit status.
		// Interrupted, the reader stops here as send stops it for a
		// valid line: run no longer takes lines, nor counts skipped ones.
		if !sk.report(le) || ctx.Err() != nil {
			return
		}
	}
}

// skips counts the lines the reader skipped (--skip-invalid) for run's
// exit status. A lock hands the count over, not the close of items: an
// interrupted run ends without waiting for the reader, which may be in
// the middle of a line, or blocked reading stdin for good.
type skips struct {
	stderr io.Writer

	mu    sync.Mutex
	n     int
	first error
	taken bool // run has the count: nothing more is reported
}

// report says on stderr that a line was skipped and counts it, both under
// the lock, so that every line reported is in the count run takes. It
// returns false, reporting nothing, once run took the count.
func (s *skips) report(le *lines.LineError) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.taken {
		return false
	}
	fmt.Fprintf(s.stderr, "sio-pub: %v\n", le)
	s.n++
	if s.first == nil {
		s.first = le
	}
	return true
}

// take ends the count and returns the exit 65 for the lines skipped, or
// nil when none was.
func (s *skips) take() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.taken = true
	if s.n == 0 {
		return nil
	}
	return &cli.Error{Code: cli.ExitData, Err: fmt.Errorf("%d invalid line(s) skipped, the first: %v", s.n, s.first)}
}

// pacer spaces events at most rate a second apart (none when rate is 0),
// from the first on: a burst after a pause is not sent at once.
type pacer struct {
	every time.Duration
	next  time.Time
	timer *time.Timer
}

func newPacer(rate float64) *pacer {
	if rate <= 0 {
		return &pacer{}
	}
	return &pacer{every: time.Duration(float64(time.Second) / rate)}
}

// wait waits for the next event's turn; false if ctx ended first.
func (p *pacer) wait(ctx context.Context) bool {
	if p.every == 0 {
		return true
	}
	now := time.Now()
	if p.next.IsZero() || p.next.Before(now) {
		p.next = now
	}
	if d := p.next.Sub(now); d > 0 {
		if p.timer == nil {
			p.timer = time.NewTimer(d)
		} else {
			p.timer.Reset(d)
		}
		select {
		case <-p.timer.C:
		case <-ctx.Done():
			return false
		}
	}
	p.next = p.next.Add(p.every)
	return true
}

func (p *pacer) stop() {
	if p.timer != nil {
		p.timer.Stop()
	}
}

// limit is the largest message the server takes: a server closes the
// connection of a client that sends a larger one, and everything sent
// after it would be lost. It is the smaller of --max-bytes and what the
// server said in its handshake.
type limit struct {
	max    int
	header int    // the size of what goes before an event's body
	what   string // where max comes from, for errors
}

// encode parses one line and encodes its event (encodeEvent).
func encode(c Config, lim limit, n int, line []byte) (item, error) {
	e := newEncoder(c, lim)
	return e.encode(n, line)
}

// encoder encodes the events of the lines read, one after the other. The
// bodies of text and JSON events are cut from large buffers, not each
// allocated, and a text line goes straight into its body.
type encoder struct {
	c     Config
	lim   limit
	head  []byte // `["event",`, how a text line's body starts
	buf   []byte // where a body is made
	chunk []byte // what is left of the buffer the bodies are kept in
}

func newEncoder(c Config, lim limit) *encoder {
	head := append(lines.AppendString([]byte{'['}, c.Event), ',')
	return &encoder{c: c, lim: lim, head: head}
}

// encode parses line n and encodes its event, as encodeEvent does.
func (e *encoder) encode(n int, line []byte) (item, error) {
	if e.c.Format == lines.Text && utf8.Valid(line) {
		// What lines.Parse and lines.EncodeArray make of it.
		e.buf = append(lines.AppendBytesString(append(e.buf[:0], e.head...), line), ']')
		if err := e.lim.check(e.buf); err != nil {
			return item{}, err
		}
		return item{line: n, body: e.keep(e.buf), event: e.c.Event}, nil
	}
	ev, args, err := lines.Parse(e.c.Format, e.c.Event, line)
	if err != nil {
		return item{}, err
	}
	if lines.HasBinary(args) {
		return encodeEvent(e.lim, n, ev, args)
	}
	if e.buf, err = lines.EncodeArray(e.buf[:0], ev, args); err != nil {
		return item{}, err
	}
	if err := e.lim.check(e.buf); err != nil {
		return item{}, err
	}
	return item{line: n, body: e.keep(e.buf), event: ev}, nil
}

// bodyChunk is the size of the buffers bodies are kept in; a body over
// bodyOwn gets a buffer of its own.
const (
	bodyChunk = 64 << 10
	bodyOwn   = 4 << 10
)

// keep copies a body out of the encoder's buffer.
func (e *encoder) keep(b []byte) []byte {
	if len(b) > bodyOwn {
		return append([]byte(nil), b...)
	}
	if cap(e.chunk)-len(e.chunk) < len(b) {
		e.chunk = make([]byte, 0, bodyChunk)
	}
	start := len(e.chunk)
	e.chunk = append(e.chunk, b...)
	return e.chunk[start:len(e.chunk):len(e.chunk)]
}

// check refuses an event body over the limit.
func (lim limit) check(body []byte) error {
	if size := lim.header + len(body); size > lim.max {
		return fmt.Errorf("event is %d bytes as sent, over %s", size, lim.what)
	}
	return nil
}

// encodeEvent encodes line n's event, refusing one over the limit or one
// whose arguments do not encode as JSON.
func encodeEvent(lim limit, n int, ev string, args []any) (item, error) {
	if lines.HasBinary(args) {
		// Each attachment goes as a message of its own.
		if size := largestBinary(args); size > lim.max {
			return item{}, fmt.Errorf("binary data of %d bytes, over %s", size, lim.what)
		}
		// The connection encodes the event, the binary values as
		// placeholders: what EncodeArray takes (them as base64) it takes
		// too, and what it refuses must be refused here.
		if _, err := lines.EncodeArray(nil, ev, args); err != nil {
			return item{}, err
		}
		return item{line: n, event: ev, args: args}, nil
	}
	body, err := lines.EncodeArray(nil, ev, args)
	if err != nil {
		return item{}, err
	}
	if err := lim.check(body); err != nil {
		return item{}, err
	}
	return item{line: n, body: body, event: ev}, nil
}

// largestBinary is the size of the largest binary value in v.
func largestBinary(v any) int {
	n := 0
	switch v := v.(type) {
	case []byte:
		n = len(v)
	case []any:
		for _, e := range v {
			n = max(n, largestBinary(e))
		}
	case map[string]any:
		for _, e := range v {
			n = max(n, largestBinary(e))
		}
	}
	return n
}

// publisher sends items and keeps count of what the server confirmed.
// At most Window lines are sent beyond the last confirmation: they are
// what a lost connection can take along.
type publisher struct {
	cn  *conn.Conn
	cfg Config

	mu        sync.Mutex
	sent      int // lines written to the connection
	confirmed int // of those, read by the server for sure
	inFlight  bool
	maybeLost int           // lines in flight when a connection was lost
	progress  chan struct{} // a confirmation came back (or failed)

	batch  []item   // run's, kept
	bodies [][]byte // send's, kept
}

// confirmEvery is how often a Confirm request goes out while sending, so
// that a lost connection can say how many lines it may have taken along.
const confirmEvery = 50 * time.Millisecond

// The lines already read when one is sent go with it, with one write
// (conn.SendAll): at most maxBatch lines, and no more once they come to
// maxBatchBytes. Nothing waits for a batch to fill.
const (
	maxBatch      = 256
	maxBatchBytes = 64 << 10
)

func (p *publisher) run(ctx context.Context, items <-chan item, sk *skips) error {
	p.progress = make(chan struct{}, 1)
	lastConfirm := time.Now()
	var endErr error
	interrupted := false
	// held is a line taken from items that could not join the batch
	// (binary, or the error that ends input): it comes next.
	var held *item
	unread := func() int {
		if held != nil {
			return 1 + len(items)
		}
		return len(items)
	}
loop:
	for {
		var it item
		if held != nil {
			it, held = *held, nil
		} else {
			select {
			case v, ok := <-items:
				if !ok {
					break loop
				}
				it = v
			case <-ctx.Done():
				interrupted = true
				break loop
			}
		}
		if it.err != nil {
			endErr = it.err
			break
		}
		if err := p.waitWindow(ctx); err != nil {
			return p.undelivered(err, 1+unread())
		}
		batch := append(p.batch[:0], it)
		if it.body != nil {
			batch, held = p.gather(batch, items)
		}
		unsent, err := p.send(ctx, batch)
		clear(batch)
		p.batch = batch[:0]
		if err != nil {
			return p.undelivered(err, unsent+unread())
		}
		p.mu.Lock()
		// Ask every confirmEvery while lines flow, when half the window
		// is out, and whenever input pauses, so that a lost connection
		// knows what it may have taken.
		ask := !p.inFlight && (unread() == 0 || time.Since(lastConfirm) > confirmEvery ||
			2*(p.sent-p.confirmed) >= p.cfg.Window)
		p.mu.Unlock()
		if ask {
			lastConfirm = time.Now()
			p.confirm()
		}
	}
	// Every line before the end (or the bad one) must arrive first. When
	// interrupted, what was sent gets a short while to get there.
	fctx := ctx
	if interrupted {
		var cancel context.CancelFunc
		fctx, cancel = context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
	}
	if err := p.flush(fctx); err != nil {
		return p.undelivered(err, len(items))
	}
	if interrupted && len(items) > 0 {
		return p.undelivered(context.Canceled, len(items))
	}
	if err := p.lostError(); err != nil {
		return err
	}
	if endErr != nil {
		return endErr
	}
	return sk.take()
}

// gather adds to batch (one line of text or JSON) the lines already read,
// as many as the window has room for, up to maxBatch and maxBatchBytes.
// It returns a line it took that cannot go with them (binary, or an
// error), to come next.
func (p *publisher) gather(batch []item, items <-chan item) ([]item, *item) {
	p.mu.Lock()
	room := min(p.cfg.Window-(p.sent-p.confirmed), maxBatch)
	p.mu.Unlock()
	size := len(batch[0].body)
	for len(batch) < room && size < maxBatchBytes {
		select {
		case v, ok := <-items:
			if !ok {
				return batch, nil // the next receive sees the end again
			}
			if v.err != nil || v.body == nil {
				return batch, &v
			}
			batch = append(batch, v)
			size += len(v.body)
		default:
			return batch, nil
		}
	}
	return batch, nil
}

// waitWindow returns once fewer than Window lines are unconfirmed (a
// connection lost meanwhile counts what it took along, see
// waitConnected).
func (p *publisher) waitWindow(ctx context.Context) error {
	for {
		p.mu.Lock()
		full := p.sent-p.confirmed >= p.cfg.Window
		ask := full && !p.inFlight
		p.mu.Unlock()
		if !full {
			return nil
		}
		if !p.cn.Connected() {
			return p.waitConnected(ctx)
		}
		if ask {
			p.confirm()
		}
		select {
		case <-p.progress:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// send writes a batch of lines (text and JSON ones, or one binary line),
// waiting for the connection while it is down; each line written counts
// in sent at once. On an error it returns how many were not sent.
func (p *publisher) send(ctx context.Context, batch []item) (int, error) {
	for len(batch) > 0 {
		if err := p.waitConnected(ctx); err != nil {
			return len(batch), err
		}
		var n int
		var err error
		if batch[0].body == nil {
			if err = p.cn.Emit(batch[0].event, batch[0].args, nil); err == nil {
				n = 1
			}
		} else {
			p.bodies = p.bodies[:0]
			for _, it := range batch {
				p.bodies = append(p.bodies, it.body)
			}
			n, err = p.cn.SendAll(p.bodies, nil)
			clear(p.bodies)
		}
		p.mu.Lock()
		p.sent += n
		p.mu.Unlock()
		batch = batch[n:]
		if err != nil && !errors.Is(err, conn.ErrNotConnected) {
			return len(batch), fmt.Errorf("line %d: %v", batch[0].line, err)
		}
	}
	return 0, nil
}

// flush waits until the server confirmed every line sent.
func (p *publisher) flush(ctx context.Context) error {
	for {
		if err := p.waitConnected(ctx); err != nil {
			return err
		}
		p.mu.Lock()
		upTo := p.sent
		p.mu.Unlock()
		c, cancel := context.WithTimeout(ctx, 30*time.Second)
		err := p.cn.Flush(c)
		cancel()
		if err == nil {
			p.mu.Lock()
			p.confirmed = max(p.confirmed, upTo)
			p.mu.Unlock()
			return nil
		}
		if !errors.Is(err, conn.ErrNotConnected) {
			return err
		}
	}
}

// confirm asks the server to confirm what was sent so far.
func (p *publisher) confirm() {
	p.mu.Lock()
	upTo := p.sent
	p.inFlight = true
	p.mu.Unlock()
	p.cn.Confirm(func(ok bool) {
		p.mu.Lock()
		p.inFlight = false
		if ok && upTo > p.confirmed {
			p.confirmed = upTo
		}
		more := ok && p.sent > upTo
		p.mu.Unlock()
		select {
		case p.progress <- struct{}{}:
		default:
		}
		if more {
			// Lines went out while this one was under way; input may
			// have paused since, with nobody left to ask.
			p.confirm()
		}
	})
}

// waitConnected returns at once while connected; else it counts what the
// lost connection may have taken and waits for a reconnect for RetryFor.
func (p *publisher) waitConnected(ctx context.Context) error {
	if p.cn.Connected() {
		return nil
	}
	p.mu.Lock()
	p.maybeLost += p.sent - p.confirmed
	p.confirmed = p.sent
	p.mu.Unlock()
	return waitReconnect(ctx, p.cn, p.cfg)
}

// reconnecter is what waitReconnect watches, a *conn.Conn.
type reconnecter interface {
	Ready() <-chan struct{}
	Connected() bool
}

// waitReconnect waits up to RetryFor for the connection to come back, and
// then conn.ResumeDelay more, so that the subscribers of a restarted
// server are back before anything is sent to it.
func waitReconnect(ctx context.Context, cn reconnecter, c Config) error {
	t := time.NewTimer(c.RetryFor)
	defer t.Stop()
	select {
	case <-cn.Ready():
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return fmt.Errorf("connection to %s lost and not back within %v", c.URL, c.RetryFor)
	}
	select {
	case <-time.After(conn.ResumeDelay):
	case <-ctx.Done():
		return ctx.Err()
	}
	if !cn.Connected() {
		return waitReconnect(ctx, cn, c)
	}
	return nil
}

// undelivered is the error for giving up with n lines read and not sent.
func (p *publisher) undelivered(cause error, n int) error {
	p.mu.Lock()
	lost := p.maybeLost + p.sent - p.confirmed
	p.mu.Unlock()
	if n+lost == 0 {
		return nil // everything read was confirmed
	}
	if errors.Is(cause, context.Canceled) || errors.Is(cause, context.DeadlineExceeded) {
		cause = errors.New("interrupted")
	}
	return cli.Errorf(cli.ExitFailure, "%v: %d line(s) may not have been delivered (%d not sent, %d sent but not confirmed by the server)",
		cause, n+lost, n, lost)
}

// lostError reports lines that were in flight when a connection was lost.
func (p *publisher) lostError() error {
	p.mu.Lock()
	lost := p.maybeLost
	p.mu.Unlock()
	if lost == 0 {
		return nil
	}
	return cli.Errorf(cli.ExitFailure, "%d line(s) were in flight when the connection was lost and may not have been delivered", lost).
		WithHint("the lines after them were delivered; nothing tells which of those %d arrived", lost)
}
