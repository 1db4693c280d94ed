package relay

import (
	"sync"
	"sync/atomic"

	"github.com/zishang520/socket.io/servers/socket/v3"
)

// written follows one connection's packets from queued to written: the
// engine queues a packet ("packetCreate"), hands everything queued to the
// transport as one batch ("flush"), and the transport says when it wrote a
// batch ("drain", in order). after calls a function once every packet
// queued so far was written to the network, so that an event is
// acknowledged only once the server no longer holds it: a server killed
// after an ack cannot have lost the event.
type written struct {
	created atomic.Int64 // packets queued

	mu      sync.Mutex
	flushed int64   // packets handed to the transport
	batches []int64 // flushed at the end of each batch not yet written
	done    int64   // packets written
	waiting []waiter
	closed  bool
	lost    bool // closed with packets not written that count as lost
}

// waiter is called with lost set when the connection closed before the
// packets it waits for were written, and they count as lost.
type waiter struct {
	upTo int64
	fn   func(lost bool)
}

func (w *written) queued() { w.created.Add(1) }

func (w *written) flush(n int) {
	w.mu.Lock()
	w.flushed += int64(n)
	w.batches = append(w.batches, w.flushed)
	w.mu.Unlock()
}

// drain takes the transport's word that it wrote the oldest n batches (a
// write may carry none, one or several; see libfix.WatchDrains).
func (w *written) drain(n int) {
	w.mu.Lock()
	n = min(n, len(w.batches))
	if n == 0 {
		w.mu.Unlock()
		return
	}
	w.done = w.batches[n-1]
	w.batches = w.batches[n:]
	var ready []func(bool)
	kept := 0
	for _, wt := range w.waiting {
		if wt.upTo <= w.done {
			ready = append(ready, wt.fn)
		} else {
			w.waiting[kept] = wt
			kept++
		}
	}
	clear(w.waiting[kept:])
	w.waiting = w.waiting[:kept]
	w.mu.Unlock()
	for _, fn := range ready {
		fn(false)
	}
}

// after calls fn once every packet queued so far was written, or the
// connection closed; at once if that is so already.
func (w *written) after(fn func(lost bool)) {
	upTo := w.created.Load()
	w.mu.Lock()
	if w.done >= upTo {
		w.mu.Unlock()
		fn(false)
		return
	}
	if w.closed {
		lost := w.lost
		w.mu.Unlock()
		fn(lost)
		return
	}
	w.waiting = append(w.waiting, waiter{upTo, fn})
	w.mu.Unlock()
}

// close calls every waiting function: nothing more will be written, and a
// client that is gone does not hold up the others' acknowledgements. lost
// says whether what was not written counts as lost.
func (w *written) close(lost bool) {
	w.mu.Lock()
	w.closed = true
	w.lost = lost
	list := w.waiting
	w.waiting = nil
	w.mu.Unlock()
	for _, wt := range list {
		wt.fn(lost)
	}
}

// afterWritten calls fn once the event just broadcast from a sender (to
// rooms, or to its whole namespace) was written to every client it went
// to, with the number of clients whose connection was lost before, and
// the number of clients in all.
func (r *Relay) afterWritten(from *sender, fn func(lost, all int)) {
	var targets []*written
	r.recipients(from, func(to *socket.Socket) {
		if c, ok := r.conns.Load(to.Conn().Id()); ok {
			targets = append(targets, &c.(*connState).written)
		}
	})
	r.liteRecipients(from, func(to *liteSock) { targets = append(targets, &to.conn.written) })
	var left, lost atomic.Int64
	left.Store(int64(len(targets)) + 1)
	one := func(l bool) {
		if l {
			lost.Add(1)
		}
		if left.Add(-1) == 0 {
			fn(int(lost.Load()), len(targets))
		}
	}
	for _, w := range targets {
		w.after(one)
	}
	one(false)
}
