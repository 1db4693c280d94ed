package pub

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/sio-tools/sio/pkg/cli"
	"github.com/sio-tools/sio/pkg/conn"
)

// acker sends with --ack: up to Window events in flight, each acknowledged
// by the server; after a lost connection the unacknowledged ones are sent
// again, in order, before anything new.
type acker struct {
	cn     *conn.Conn
	cfg    Config
	stderr io.Writer

	acked    chan ackResult
	gen      int           // connection generation; older results are stale
	inflight []*flightItem // sent and not acknowledged, oldest first
	resent   int           // events sent more than once
}

type flightItem struct {
	item
	sent  time.Time
	acked bool
}

type ackResult struct {
	f   *flightItem
	gen int
	err error
}

func (a *acker) run(ctx context.Context, items <-chan item, invalid func() (int, error)) error {
	a.acked = make(chan ackResult, a.cfg.Window)
	var endErr error
	eof := false
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		if eof && len(a.inflight) == 0 {
			break
		}
		if !a.cn.Connected() {
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
			f := &flightItem{item: it}
			a.inflight = append(a.inflight, f)
			if err := a.send(f); err != nil && !errors.Is(err, conn.ErrNotConnected) {
				return cli.Errorf(cli.ExitFailure, "line %d: %v", it.line, err)
			}
		case r := <-a.acked:
			a.done(r)
		case <-tick.C:
			if len(a.inflight) > 0 && time.Since(a.inflight[0].sent) > a.cfg.AckTimeout {
				return cli.Errorf(cli.ExitFailure, "line %d: no acknowledgement within %v: %d line(s) not confirmed",
					a.inflight[0].line, a.cfg.AckTimeout, len(a.inflight)+len(items)).
					WithHint("--ack needs a server that acknowledges events (sio-serve does)")
			}
		case <-ctx.Done():
			return a.undelivered(ctx.Err(), len(items))
		}
	}
	if a.resent > 0 {
		fmt.Fprintf(a.stderr, "sio-pub: %d line(s) were sent again after a reconnect; receivers may have seen them twice\n", a.resent)
	}
	if endErr != nil {
		return endErr
	}
	return skipped(invalid)
}

// send sends one event with an ack request tagged with this generation.
func (a *acker) send(f *flightItem) error {
	f.sent = time.Now()
	gen := a.gen
	done := func(err error) { a.acked <- ackResult{f, gen, err} }
	if f.body != nil {
		return a.cn.Send(f.body, done)
	}
	return a.cn.EmitAck(0, done, f.event, f.args...)
}

// done takes an acknowledgement: the acknowledged prefix of the window
// leaves it.
func (a *acker) done(r ackResult) {
	if r.gen != a.gen || r.err != nil {
		return // the connection it was sent on is gone; it is sent again
	}
	r.f.acked = true
	n := 0
	for n < len(a.inflight) && a.inflight[n].acked {
		n++
	}
	a.inflight = a.inflight[n:]
}

// reconnect waits for the connection to come back, then sends again every
// event not acknowledged, in order.
func (a *acker) reconnect(ctx context.Context) error {
	a.gen++
	if err := waitReconnect(ctx, a.cn, a.cfg); err != nil {
		return err
	}
	// Acks from before still arriving are stale; drop them.
	for {
		select {
		case r := <-a.acked:
			a.done(r)
			continue
		default:
		}
		break
	}
	for _, f := range a.inflight {
		if f.acked {
			continue
		}
		a.resent++
		if err := a.send(f); err != nil {
			return nil // lost again: the loop comes back here
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
