package pub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/sio-tools/sio/pkg/cli"
	"github.com/sio-tools/sio/pkg/conn"
	"github.com/sio-tools/sio/pkg/lines"
)

// acker sends with --ack: up to Window events in flight, each acknowledged
// by the server; after a lost connection the unacknowledged ones are sent
// again, in order, before anything new.
type acker struct {
	cn     ackConn
	cfg    Config
	stderr io.Writer
	stdout io.Writer // with --reply

	printer lines.Printer
	outErr  error // writing a reply failed

	results    ackQueue
	inflight   []*flightItem // sent and not acknowledged, oldest first
	resend     bool          // a send failed for the connection: the window goes again first
	resent     int           // events sent more than once
	stalled    *flightItem   // the oldest event when acks last stopped coming
	partial    int           // events the server said it did not deliver to every receiver
	partialAt  int           // the first such line
	partialWhy string        // and why

	bodies [][]byte // sendBatch's, kept
	dones  []func([]any, error)
}

// ackConn is what the acker uses of its connection, a *conn.Conn (tests
// put faults in between).
type ackConn interface {
	reconnecter
	Reconnect()
	Send(body []byte, done func(args []any, err error)) error
	SendAll(bodies [][]byte, done []func(args []any, err error)) (int, error)
	Emit(event string, args []any, done func(args []any, err error)) error
}

type flightItem struct {
	item
	sent    time.Time
	written bool // it went out at least once (a reconnect sends it again)
	acked   bool
	reply   []any // the acknowledgement's arguments, with --reply
}

type ackResult struct {
	f    *flightItem
	args []any
	err  error
}

func (a *acker) run(ctx context.Context, items <-chan item, sk *skips) error {
	a.results.init()
	a.printer.Format = a.cfg.Format
	var endErr error
	eof := false
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		if eof && len(a.inflight) == 0 {
			break
		}
		if a.resend || !a.cn.Connected() {
			if err := a.reconnect(ctx); err != nil {
				return a.undelivered(err, len(items))
			}
			continue
		}
		in := items
		if eof || len(a.inflight) >= a.cfg.Window {
			in = nil // the window is full: wait for acks
		}
		select {
		case it, ok := <-in:
			if !ok {
				eof = true
				continue
			}
			if it.err != nil {
				endErr = it.err
				eof = true
				continue
			}
			// The lines already read go with it, as many as the window
			// has room for.
			first := len(a.inflight)
			a.inflight = append(a.inflight, &flightItem{item: it})
			size := len(it.body)
		gather:
			for len(a.inflight) < a.cfg.Window && len(a.inflight)-first < maxBatch && size < maxBatchBytes {
				select {
				case v, ok := <-items:
					if !ok {
						eof = true
						break gather
					}
					if v.err != nil {
						endErr = v.err
						eof = true
						break gather
					}
					a.inflight = append(a.inflight, &flightItem{item: v})
					size += len(v.body)
				default:
					break gather
				}
			}
			if err := a.sendBatch(a.inflight[first:]); err != nil {
				return a.undelivered(err, len(items))
			}
		case <-a.results.ready:
			for _, r := range a.results.take() {
				if err := a.done(r); err != nil {
					return a.undelivered(err, len(items))
				}
			}
			if a.outErr != nil {
				return a.undelivered(a.outErr, len(items))
			}
		case <-tick.C:
			if len(a.inflight) == 0 || time.Since(a.inflight[0].sent) <= a.cfg.AckTimeout {
				continue
			}
			if a.inflight[0] != a.stalled {
				// A connection that stopped answering: make a new one
				// once; the reconnect sends again what is unacknowledged.
				a.stalled = a.inflight[0]
				fmt.Fprintf(a.stderr, "sio-pub: line %d: no acknowledgement within %v; reconnecting\n",
					a.inflight[0].line, a.cfg.AckTimeout)
				a.cn.Reconnect()
				continue
			}
			return cli.Errorf(cli.ExitFailure, "line %d: no acknowledgement within %v, twice: %d line(s) not confirmed",
				a.inflight[0].line, a.cfg.AckTimeout, len(a.inflight)+len(items)).
				WithHint("--ack needs a server that acknowledges events (sio-serve does)")
		case <-ctx.Done():
			return a.undelivered(ctx.Err(), len(items))
		}
	}
	if a.resent > 0 {
		fmt.Fprintf(a.stderr, "sio-pub: %d line(s) were sent again after a reconnect; receivers may have seen them twice\n", a.resent)
	}
	if a.partial > 0 {
		return cli.Errorf(cli.ExitFailure, "%d line(s) were not delivered to every receiver, the first line %d: %s",
			a.partial, a.partialAt, a.partialWhy).
			WithHint("a receiver whose connection was lost before the server wrote it a line did not get it; sio-serve keeps lost sessions unless run with --recover 0")
	}
	if endErr != nil {
		return endErr
	}
	return sk.take()
}

// sendBatch sends events with an ack request each, in order: the text and
// JSON ones together (SendAll), a binary one on its own. A failure stops
// it (failed: the unacknowledged go again after a reconnect).
func (a *acker) sendBatch(fs []*flightItem) error {
	now := time.Now()
	for len(fs) > 0 {
		if fs[0].body == nil {
			if err := a.failed(fs[0], a.send(fs[0])); err != nil || a.resend {
				return err
			}
			fs = fs[1:]
			continue
		}
		n := 0
		bodies, dones := a.bodies[:0], a.dones[:0]
		for n < len(fs) && fs[n].body != nil {
			f := fs[n]
			f.sent = now
			bodies = append(bodies, f.body)
			dones = append(dones, func(args []any, err error) { a.results.put(ackResult{f, args, err}) })
			n++
		}
		written, err := a.cn.SendAll(bodies, dones)
		clear(bodies)
		clear(dones)
		a.bodies, a.dones = bodies, dones
		for _, f := range fs[:written] {
			f.written = true
		}
		if err != nil {
			return a.failed(fs[written], err)
		}
		fs = fs[n:]
	}
	return nil
}

// send sends one event with an ack request.
func (a *acker) send(f *flightItem) error {
	f.sent = time.Now()
	done := func(args []any, err error) { a.results.put(ackResult{f, args, err}) }
	var err error
	if f.body != nil {
		err = a.cn.Send(f.body, done)
	} else {
		err = a.cn.Emit(f.event, f.args, done)
	}
	if err == nil {
		f.written = true
	}
	return err
}

// failed takes the error of sending f, now or later (its
// acknowledgement's). A connection that failed is a lost connection: f
// stays in the window, and the whole window goes again, in order, once
// it is back, before anything new (resend). Any other error is f's own,
// which sending again cannot mend: it is returned, for run to stop with.
func (a *acker) failed(f *flightItem, err error) error {
	if err == nil {
		return nil
	}
	if !connectionFailed(err) {
		return fmt.Errorf("line %d: %v", f.line, err)
	}
	if !errors.Is(err, conn.ErrNotConnected) {
		// The link that failed may still look up: drop it, so that
		// the resend waits for a new one.
		a.cn.Reconnect()
	}
	a.resend = true
	return nil
}

// connectionFailed tells whether a send failed for the connection rather
// than for the event. pkg/conn says so with ErrNotConnected, for its
// write errors too; the others are network errors (a *net.OpError, a
// syscall.Errno such as EPIPE), should it pass them on.
func connectionFailed(err error) bool {
	var ne net.Error
	return errors.Is(err, conn.ErrNotConnected) || errors.As(err, &ne) ||
		errors.Is(err, net.ErrClosed) || errors.Is(err, io.ErrClosedPipe)
}

// done takes an acknowledgement: the acknowledged prefix of the window
// leaves it. An acknowledgement counts even if it comes from before a
// reconnect (the server did take the event); a failure goes to failed
// (a lost connection: f goes again).
func (a *acker) done(r ackResult) error {
	if r.f.acked {
		return nil
	}
	if r.err != nil {
		return a.failed(r.f, r.err)
	}
	if a.cfg.Reply {
		r.f.reply = r.args // the handler's answer: data, whatever it says
	} else if why, ok := ackError(r.args); ok {
		if a.partial == 0 {
			a.partialAt, a.partialWhy = r.f.line, why
		}
		a.partial++
	}
	r.f.acked = true
	n := 0
	for n < len(a.inflight) && a.inflight[n].acked {
		if a.cfg.Reply && a.outErr == nil {
			a.printReply(a.inflight[n])
		}
		n++
	}
	a.inflight = a.inflight[n:]
	return nil
}

// printReply prints an acknowledged line's reply, in input order (the
// acknowledged prefix of the window).
func (a *acker) printReply(f *flightItem) {
	if _, err := a.stdout.Write(a.printer.Line(f.event, f.reply)); err != nil {
		a.outErr = fmt.Errorf("write stdout: %v", err)
	}
}

// reconnect waits for the connection to come back, then sends again every
// event not acknowledged, in order. It returns an error that sending
// again cannot mend; when the connection fails again, the loop comes
// back here (resend).
func (a *acker) reconnect(ctx context.Context) error {
	a.resend = false
	if err := waitReconnect(ctx, a.cn, a.cfg); err != nil {
		return err
	}
	// Acknowledgements that arrived before the link went down spare
	// those events a resend; the failures are the lost link's, whose
	// events go again here.
	for _, r := range a.results.take() {
		if r.err == nil {
			_ = a.done(r)
		}
	}
	for _, f := range a.inflight {
		if f.acked {
			continue
		}
		if f.written {
			a.resent++
		}
		if err := a.failed(f, a.send(f)); err != nil || a.resend {
			return err
		}
	}
	return nil
}

func (a *acker) undelivered(cause error, unread int) error {
	n := unread
	for _, f := range a.inflight {
		if !f.acked {
			n++
		}
	}
	if n == 0 {
		return nil
	}
	if errors.Is(cause, context.Canceled) {
		cause = errors.New("interrupted")
	}
	return cli.Errorf(cli.ExitFailure, "%v: %d line(s) may not have been delivered (not acknowledged)", cause, n)
}

// ackQueue hands results from the library's goroutines to the acker. put
// never blocks: a callback that blocked would stall the library's reading
// (and reconnecting) goroutine while the acker waits for a reconnect.
type ackQueue struct {
	mu    sync.Mutex
	queue []ackResult
	ready chan struct{} // has a value when queue is not empty
}

func (q *ackQueue) init() { q.ready = make(chan struct{}, 1) }

func (q *ackQueue) put(r ackResult) {
	q.mu.Lock()
	q.queue = append(q.queue, r)
	q.mu.Unlock()
	select {
	case q.ready <- struct{}{}:
	default:
	}
}

func (q *ackQueue) take() []ackResult {
	q.mu.Lock()
	defer q.mu.Unlock()
	rs := q.queue
	q.queue = nil
	return rs
}

// ackError reads an acknowledgement that carries an error, {"error": ...}
// as its first argument: the server took the event but could not do all
// it was asked (sio-serve: a receiver lost its connection before the event
// was written to it).
func ackError(args []any) (string, bool) {
	if len(args) == 0 {
		return "", false
	}
	raw, ok := args[0].(json.RawMessage)
	if !ok || len(raw) == 0 || raw[0] != '{' {
		return "", false
	}
	var e struct {
		Error any `json:"error"`
	}
	if json.Unmarshal(raw, &e) != nil || e.Error == nil {
		return "", false
	}
	if s, ok := e.Error.(string); ok {
		return s, true
	}
	b, _ := json.Marshal(e.Error)
	return string(b), true
}
