package libfix

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zishang520/socket.io/parsers/engine/v3/packet"
	"github.com/zishang520/socket.io/servers/engine/v3"
	"github.com/zishang520/socket.io/servers/engine/v3/transports"
	"github.com/zishang520/socket.io/v3/pkg/types"
)

// pollingTransport is the library's long-polling transport with its
// endings fixed: every poll request is answered, and a session the
// protocol says must end does.
//
//   - A poll request's clean-up runs once. The library sets a clean-up on
//     each GET it holds (it forgets the request) and runs it twice: when it
//     writes the response, and again when the request's context ends,
//     after the handler returned. A client that sends its next GET as soon
//     as it has read the response (every client does) can have that GET
//     taken in between: the second clean-up then forgets the new GET, which
//     is never answered, and the session hangs until the ping timeout.
//     About 1 in 1,500 polling joins here (TestRelayAnswersEveryPoll).
//   - A closing session answers the poll that waits. The library shut its
//     write queue before it queued the close packet, which was dropped:
//     the GET waiting when a session ended (a duplicate GET, an invalid
//     packet, the connect timeout, a server close) hung until the client
//     gave up. It now gets the close packet (TestPollingEndings).
//   - A payload that is not Engine.IO gets 400 and ends the session (the
//     library answered "ok" and went on, as if nothing had been sent).
//   - Two sends for one GET ended the session. The engine checks that the
//     transport is writable and then sends, and so does its upgrade check
//     (a noop every 100 ms, to end the GET that waits); the two run on
//     different goroutines, both saw the transport writable, and the
//     second send found the GET answered by the first: "polling write
//     error", the session closed as a transport error, and the upgrade
//     that followed went to a forgotten connection (TestUpgradesUnderLoad,
//     about 1 run in 20 under a burner; TestPollingOneSendPerGet). Now a
//     send that finds the GET taken keeps its packets for the next GET,
//     or hands them to the websocket on an upgrade (takeHeld); a noop is
//     dropped.
//   - A GET the client gives up (it closes the request) ends the session,
//     as the protocol wants: the library's clean-up took away its own
//     listener for that before the event came, so the next GET was taken
//     as if nothing had happened, and what the lost GET carried was gone.
type pollingTransport struct {
	transports.Polling
	post atomic.Pointer[types.HttpContext] // the POST being read, if any
	last atomic.Pointer[poll]              // the last GET handed to the library

	// One send per GET (see Send).
	smu         sync.Mutex
	sending     bool             // the waiting GET is taken by a send
	held        []*packet.Packet // packets for the next GET (or the upgrade)
	heldBatches int              // the engine's flushes among held
	// inflight is, per write not yet drained (oldest first), how many of
	// the engine's flushes it carries: 0 for the upgrade check's noop,
	// more than 1 with held packets. The relay's acknowledgements count
	// flushes written (written.go): a drain must count what it carried.
	inflight []int
}

// poll is a GET handed to the library, and whether it was answered.
type poll struct {
	ctx      *types.HttpContext
	answered atomic.Bool
	ready    chan struct{} // closed once its clean-up runs once (OnRequest)
}

func fixPolling(t transports.Transport) transports.Transport {
	p, ok := t.(transports.Polling)
	if !ok {
		return t
	}
	w := &pollingTransport{Polling: p}
	p.Prototype(w) // the library's own calls to DoWrite come here
	return w
}

// OnRequest refuses a request to a transport that is closing, notes a
// POST being read (OnData may answer it) and watches a GET for the client
// going before it is answered.
func (p *pollingTransport) OnRequest(ctx *types.HttpContext) {
	if ctx.Method() == http.MethodGet {
		// A GET given up is seen before the next one is taken: the
		// library learns of it a moment after its context ended, and a
		// quick client's next GET got in between (it was taken, and held,
		// as if nothing had happened).
		if last := p.last.Load(); last != nil && !last.answered.Load() && last.ctx.Request().Context().Err() != nil {
			p.OnError("poll connection closed prematurely", last.ctx.Request().Context().Err())
		}
	}
	if st := p.ReadyState(); st == "closing" || st == "closed" || p.Discarded() {
		// The session ends, or went over to a websocket: the engine
		// forgets this transport a moment after its last poll was
		// answered, and a client quick to ask again would have its GET
		// held by a closed transport, for ever.
		ctx.ResponseHeaders().Set("Content-Type", "application/json")
		_ = ctx.SetStatusCode(http.StatusBadRequest)
		_, _ = ctx.Write([]byte(`{"code":1,"message":"Session ID unknown"}`))
		return
	}
	switch ctx.Method() {
	case http.MethodGet:
		// A new GET: the next send may take it, with what was held.
		p.smu.Lock()
		p.sending = false
		p.smu.Unlock()
		defer p.sendHeld()
		// The context ends with an error only when the request went
		// before a response was written.
		_ = ctx.Once("close", func(args ...any) {
			if err, _ := first(args).(error); err != nil {
				p.OnError("poll connection closed prematurely", err)
			}
		})
		if taken, ok := ctx.Request().Context().Value(pollTaken{}).(func()); ok {
			defer taken()
		}
		p.last.Store(&poll{ctx: ctx, ready: make(chan struct{})})
	case http.MethodPost:
		p.post.Store(ctx)
		defer p.post.CompareAndSwap(ctx, nil)
	}
	p.Polling.OnRequest(ctx)
	if last := p.last.Load(); ctx.Method() == http.MethodGet && last != nil && last.ctx == ctx {
		// The library set the GET's clean-up as it took it. Made to run
		// once here, before the request's context may end (taken, in a
		// defer) and before the library may answer it (DoWrite waits for
		// ready): written later, from the goroutine that answers, it
		// raced with the context's end reading it.
		onceCleanup(ctx)
		close(last.ready)
	}
}

// onceCleanup makes a GET's clean-up run once (see pollingTransport).
func onceCleanup(ctx *types.HttpContext) {
	cleanup := ctx.Cleanup
	if cleanup == nil {
		return
	}
	var once sync.Once
	var calls atomic.Int32
	ctx.Cleanup = func() {
		if hook := testHookLateCleanup.Load(); calls.Add(1) > 1 && hook != nil {
			(*hook)()
		}
		once.Do(cleanup)
	}
}

// Send hands packets to the waiting GET, once per GET: a send that finds
// the GET taken by another keeps its packets for the next one.
func (p *pollingTransport) Send(packets []*packet.Packet) {
	flushes := 0 // the engine's own sends are flushes; noops are not
	for _, pk := range packets {
		if pk.Type != packet.NOOP {
			flushes = 1
			break
		}
	}
	p.smu.Lock()
	if p.sending {
		for _, pk := range packets {
			if pk.Type != packet.NOOP { // a noop carries nothing
				p.held = append(p.held, pk)
			}
		}
		p.heldBatches += flushes
		p.smu.Unlock()
		return
	}
	p.sending = true
	if len(p.held) > 0 {
		packets = append(p.held, packets...)
		flushes += p.heldBatches
		p.held, p.heldBatches = nil, 0
	}
	p.inflight = append(p.inflight, flushes)
	p.smu.Unlock()
	p.Polling.Send(packets)
}

// drained returns how many of the engine's flushes the write the
// transport just reported written ("drain") carried.
func (p *pollingTransport) drained() int {
	p.smu.Lock()
	defer p.smu.Unlock()
	if len(p.inflight) == 0 {
		return 1 // a write of the library's own (closing): as before
	}
	n := p.inflight[0]
	p.inflight = p.inflight[1:]
	return n
}

// sendHeld sends what was held, once a new GET was taken and nothing else
// took it.
func (p *pollingTransport) sendHeld() {
	p.smu.Lock()
	pending := len(p.held) > 0 && !p.sending && p.Writable()
	p.smu.Unlock()
	if pending {
		p.Send(nil)
	}
}

// takeHeld returns the packets held for a next GET that will not come
// (the connection upgraded) and the engine's flushes among them, and
// holds no more. p may be nil (a connection that did not start on
// polling).
func (p *pollingTransport) takeHeld() ([]*packet.Packet, int) {
	if p == nil {
		return nil, 0
	}
	p.smu.Lock()
	defer p.smu.Unlock()
	held, n := p.held, p.heldBatches
	p.held, p.heldBatches = nil, 0
	p.sending = true // the transport is done: nothing more for it
	return held, n
}

// websocketOf returns the relay's websocket transport inside t, if it is
// one.
func websocketOf(t transports.Transport) *wsTransport {
	w, _ := unguarded(t).(*wsTransport)
	return w
}

// pollingOf returns the relay's polling transport inside t, if it is one.
func pollingOf(t transports.Transport) *pollingTransport {
	p, _ := unguarded(t).(*pollingTransport)
	return p
}

// unguarded is the transport inside the relay's guard (held.go).
func unguarded(t transports.Transport) transports.Transport {
	if g, ok := t.(*guardedTransport); ok {
		return g.Transport
	}
	return t
}

// pollTaken is the context key of the function that says a GET was taken
// by its transport (pollRequest).
type pollTaken struct{}

// pollRequest gives the library a long-polling GET whose context ends
// when its client goes, but never before the transport has taken the
// request. The library writes the request's clean-up as it takes it and
// reads it, on another goroutine, as soon as the context ends: a client
// that gave up its GET at that moment made a data race (reported by the
// race detector in TestPollingEndings, "GET given up"). done must be
// called when the handler returns.
func pollRequest(req *http.Request) (_ *http.Request, done func()) {
	ctx, cancel := context.WithCancel(context.WithoutCancel(req.Context()))
	taken, served := make(chan struct{}), make(chan struct{})
	var once sync.Once
	ctx = context.WithValue(ctx, pollTaken{}, func() { once.Do(func() { close(taken) }) })
	gate := &pollGate{}
	ctx = context.WithValue(ctx, pollGate{}, gate)
	go func() {
		select {
		case <-req.Context().Done(): // the client went, or the server stops
			select {
			case <-taken:
			case <-served:
			}
			cancel()
		case <-served:
		}
	}()
	return req.WithContext(ctx), func() {
		gate.close()
		close(served)
		cancel()
	}
}

// pollGate keeps a poll's answer from being written while, or after, its
// handler returns. The library writes a GET's answer from another
// goroutine; when the client went (the request's context ended), the
// handler returned and net/http read the response headers while the
// library still set them (a data race the race detector reported with
// sio-pub --transport polling, whose process ends its GET).
type pollGate struct {
	mu       sync.Mutex
	returned bool
}

// close waits for a write in progress; none starts after.
func (g *pollGate) close() {
	g.mu.Lock()
	g.returned = true
	g.mu.Unlock()
}

// errPollEnded is a write to a poll whose handler returned.
var errPollEnded = errors.New("the poll request ended before its answer")

// OnData takes a POST's payload: its packets up to the first invalid
// one, then, if there is one, a 400 and the end of the session (the
// engine ends it with "parse error" on an ERROR packet).
func (p *pollingTransport) OnData(data types.BufferInterface) {
	packets, err := p.Parser().DecodePayload(data)
	for _, pk := range packets {
		if pk.Type == packet.CLOSE {
			p.OnClose()
			return
		}
		p.OnPacket(pk)
	}
	if err == nil {
		return
	}
	if ctx := p.post.Load(); ctx != nil {
		_ = ctx.SetStatusCode(http.StatusBadRequest)
		_, _ = ctx.Write(nil)
	}
	p.OnPacket(&packet.Packet{Type: packet.ERROR})
}

// DoClose closes the transport; a GET that waits gets the close packet,
// and a POST being read a 400 (the library's 429 said "too many
// requests"; Node drops such a request).
func (p *pollingTransport) DoClose(fn types.Callable) {
	if ctx := p.post.Load(); ctx != nil && !ctx.IsDone() {
		ctx.ResponseHeaders().Set("Connection", "close")
		_ = ctx.SetStatusCode(http.StatusBadRequest)
		_, _ = ctx.Write(nil)
	}
	if !p.Writable() {
		// No GET waits: the library keeps the close for the next one
		// (or gives up after its close timeout).
		p.Polling.DoClose(fn)
		return
	}
	// Queued before OnClose shuts the write queue: it runs.
	p.Send([]*packet.Packet{{Type: packet.CLOSE}})
	if fn != nil {
		fn()
	}
	p.OnClose()
}

// DoWrite answers a poll request, once its clean-up was made to run once.
func (p *pollingTransport) DoWrite(ctx *types.HttpContext, data types.BufferInterface, opts *packet.Options, done func(error)) {
	if last := p.last.Load(); last != nil && last.ctx == ctx {
		<-last.ready
		last.answered.Store(true)
	}
	if g, ok := ctx.Request().Context().Value(pollGate{}).(*pollGate); ok {
		g.mu.Lock()
		defer g.mu.Unlock()
		if g.returned {
			done(errPollEnded)
			return
		}
	}
	p.Polling.DoWrite(ctx, data, opts, done)
}

// testHookLateCleanup, when set, runs before a poll request's clean-up is
// run again (a test pauses there: the client's next GET is taken).
var testHookLateCleanup atomic.Pointer[func()]

// upgrades are the connections upgrading from long-polling whose client
// got the answer to its probe, with their websocket. Such a client sends
// no more GETs: it finishes the one it has out, then sends the upgrade
// over the websocket. A GET that comes after the upgrade was sent (from a
// client done with polling, or the protocol's own test) could be taken by
// the engine before it read the upgrade, on another goroutine: it was
// held, or answered with the close packet or events, where the protocol
// (and Node, which reads in order) answers 400. Such a GET now waits for
// the upgrade while the websocket has something unread, and up to
// upgradeWait in any case: a client that still waits for its GET (it
// sent it before it read the probe's answer) has it taken then, and the
// engine's next check answers it.
type upgrades struct{ m sync.Map } // sid → *wsTransport

// upgradeWait is how long a GET waits for an upgrade to be read, and
// upgradeWaitMax how long while bytes are still unread on the websocket.
const (
	upgradeWait    = 100 * time.Millisecond
	upgradeWaitMax = time.Second
)

func (u *upgrades) probed(sid string, w *wsTransport) { u.m.Store(sid, w) }
func (u *upgrades) forget(sid string, w *wsTransport) { u.m.CompareAndDelete(sid, w) }

// settle makes a GET to connection sid wait for an upgrade whose probe
// was answered, as above.
func (u *upgrades) settle(eio engine.BaseServer, sid string) {
	v, ok := u.m.Load(sid)
	if !ok {
		return
	}
	w := v.(*wsTransport)
	start := time.Now()
	for {
		s, ok := eio.Clients().Load(sid)
		if !ok || s.Transport().Name() != transports.POLLING || w.isGone() {
			return // gone, upgraded, or the upgrade failed
		}
		waited := time.Since(start)
		if waited > upgradeWaitMax || waited > upgradeWait && !w.reading() {
			return
		}
		time.Sleep(time.Millisecond)
	}
}
