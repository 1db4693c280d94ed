// Package conn is a Socket.IO client connection for the sio commands, with
// the zishang520 client's known problems worked around (LIBRARY-NOTES.md):
// emits wait for "connect" (C1), connect attempts are short and retried so a
// missed open event cannot hang (C2), the library's own signal handling is
// turned off (C3), and Flush waits until every emitted event was written and
// read by the server before Close (C4).
package conn

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	engine "github.com/zishang520/socket.io/clients/engine/v3"
	client "github.com/zishang520/socket.io/clients/socket/v3"
	"github.com/zishang520/socket.io/v3/pkg/types"
)

// Options configure a connection.
type Options struct {
	// URL of the server; its path is the namespace, its query is sent.
	URL *url.URL
	// Rooms to join, sent as "room" (a comma list) in the handshake auth.
	Rooms []string
	// Token, when set, is sent as "token" in the handshake auth.
	Token string
	// TLS configures https and wss connections; nil for the defaults.
	TLS *tls.Config
	// ConnectTimeout bounds the first connection. Default 10 s.
	ConnectTimeout time.Duration
	// Reconnect after the connection is lost, also when the server said
	// disconnect (a restart).
	Reconnect bool
	// OnEvent, when set, gets every event in arrival order. It runs on the
	// connection's reading goroutine: blocking in it stops reading.
	OnEvent func(event string, args []any)
}

// ReconnectDelayMax is the longest wait between two reconnect attempts
// (they start at 200 ms and double, ±30%). Publishers wait ResumeDelay
// after a reconnect before they send, so that subscribers of a restarted
// server have joined it again by then: a subscriber tries at least every
// 1.3 s, and a loaded machine may take a second more to connect it.
const (
	ReconnectDelayMax = time.Second
	ResumeDelay       = 3 * time.Second
)

// State is a change of the connection.
type State struct {
	Connected bool
	// Reason a connection was lost, or why a connect failed.
	Reason string
}

// Conn is a client connection to one namespace.
type Conn struct {
	opts    Options
	nsp     string
	manager *client.Manager
	socket  *client.Socket

	states chan State

	mu        sync.Mutex
	connected bool
	lastErr   string
	closed    bool
	connectCh chan struct{} // closed while connected; replaced on loss

	confirms []func(bool) // Confirms the request on the wire answers
	waiting  []func(bool) // Confirms for the next request
	flushN   int          // requests sent
	recovery atomic.Bool  // the server recovers state: events carry an offset
	refused  atomic.Bool  // the server refused the namespace (CONNECT_ERROR)
	opens    atomic.Int64 // "open" events the manager passed on
	acks     acks
}

// attemptTimeout bounds one connection attempt: the library can miss the
// engine's open or error event and would otherwise wait its whole timeout
// (LIBRARY-NOTES C2).
const attemptTimeout = 2 * time.Second

// Dial connects and waits for the namespace to be joined. It fails with
// a *DialError when that does not happen within ConnectTimeout or the
// server refuses the namespace.
func Dial(ctx context.Context, o Options) (*Conn, error) {
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = 10 * time.Second
	}
	base, nsp := split(o.URL)
	opts := client.DefaultOptions()
	opts.SetTransports(types.NewSet(client.WebSocket))
	opts.SetForceNew(true)
	opts.SetPerMessageDeflate(nil) // aiohttp answers without client_no_context_takeover; gorilla then fails the dial
	if o.TLS != nil {
		opts.SetTLSClientConfig(o.TLS)
	}
	opts.SetAutoConnect(false)
	opts.SetCloseOnBeforeunload(false) // C3: we handle signals
	opts.SetTimeout(attemptTimeout)
	opts.SetReconnection(true)
	opts.SetReconnectionDelay(200)
	opts.SetReconnectionDelayMax(float64(ReconnectDelayMax.Milliseconds()))
	opts.SetRandomizationFactor(0.3)
	if q := o.URL.Query(); len(q) > 0 {
		opts.SetQuery(q)
	}
	auth := map[string]any{}
	if len(o.Rooms) > 0 {
		auth["room"] = strings.Join(o.Rooms, ",")
	}
	if o.Token != "" {
		auth["token"] = o.Token
	}
	if len(auth) > 0 {
		opts.SetAuth(auth)
	}

	c := &Conn{
		opts:      o,
		nsp:       nsp,
		states:    make(chan State, 16),
		connectCh: make(chan struct{}),
	}
	c.manager = client.NewManager(base, opts)
	c.socket = c.manager.Socket(nsp, opts)
	_ = c.socket.On("connect", func(...any) { c.setConnected(true, "") })
	_ = c.socket.On("disconnect", func(args ...any) {
		reason, _ := first(args).(string)
		c.setConnected(false, reason)
		c.failConfirms()
		c.failAcks()
		if reason == "io server disconnect" && o.Reconnect && !c.isClosed() {
			// The library does not reconnect after the server said
			// disconnect; a restarting server says it.
			go c.reconnectLater()
		}
	})
	_ = c.socket.On("connect_error", func(args ...any) {
		msg := "connect error"
		if err, ok := first(args).(error); ok && err != nil {
			msg = err.Error()
		}
		c.mu.Lock()
		c.lastErr = msg
		c.mu.Unlock()
		if c.socket.Active() {
			return // a network error: the library tries again
		}
		c.refused.Store(true)
		if o.Reconnect && !c.isClosed() {
			// Refused by the server (CONNECT_ERROR): the library gives
			// up on this socket; keep trying like for a lost link.
			go c.reconnectLater()
		}
	})
	_ = c.manager.On("packet", c.onPacket)
	opened := make(chan struct{})
	var openOnce sync.Once
	_ = c.manager.On("reconnect_attempt", func(...any) { go c.rescueOpen() })
	_ = c.manager.On("open", func(...any) {
		c.opens.Add(1)
		openOnce.Do(func() { close(opened) })
		c.watchJoin()
		c.releaseOnClose()
	})
	_ = c.manager.On("error", func(args ...any) {
		if err, ok := first(args).(error); ok && err != nil {
			c.mu.Lock()
			c.lastErr = err.Error()
			c.mu.Unlock()
		}
	})
	if o.OnEvent != nil {
		c.socket.OnAny(func(args ...any) {
			ev, ok := first(args).(string)
			if !ok {
				return
			}
			args = args[1:]
			if c.recovery.Load() && len(args) > 0 {
				// With connection state recovery on, the server adds the
				// event's offset as a last argument; it is not the
				// sender's.
				if _, ok := args[len(args)-1].(string); ok {
					args = args[:len(args)-1]
				}
			}
			c.opts.OnEvent(ev, args)
		})
	}
	// The engine is opened first and the namespace joined once it is open.
	// Socket.Connect on a manager still opening sends CONNECT twice when
	// the engine opens while Connect runs (its "open" listener and its own
	// ready-state check both do), and the server then drops the
	// connection or joins the namespace twice. And the library dials in
	// the caller's goroutine without a timeout: a server that accepts TCP
	// and never answers would hold Dial past ConnectTimeout and ctx.
	go c.rescueOpen()
	go c.manager.Open(nil)

	t := time.NewTimer(o.ConnectTimeout)
	defer t.Stop()
	for {
		select {
		case <-opened:
			opened = nil
			c.socket.Connect()
		case <-c.ready():
			return c, nil
		case <-ctx.Done():
			c.Close()
			return nil, ctx.Err()
		case <-t.C:
			c.Close()
			reason := c.lastError()
			if reason == "" || reason == "timeout" {
				if r := diagnose(o.URL, o.TLS); r != "" {
					reason = r
				}
			}
			return nil, &DialError{URL: o.URL.String(), Reason: reason, Timeout: o.ConnectTimeout}
		case <-time.After(50 * time.Millisecond):
			// A refusal by the server (bad namespace, bad token) is final
			// for the first connection.
			if c.refused.Load() {
				c.Close()
				return nil, &DialError{URL: o.URL.String(), Reason: c.lastError(), Refused: true}
			}
		}
	}
}

// DialError says why Dial failed.
type DialError struct {
	URL     string
	Reason  string
	Timeout time.Duration
	Refused bool
}

func (e *DialError) Error() string {
	if e.Refused {
		return fmt.Sprintf("%s: refused: %s", e.URL, e.Reason)
	}
	r := e.Reason
	if r == "" {
		r = "no answer"
	}
	return fmt.Sprintf("cannot connect to %s within %v: %s", e.URL, e.Timeout, r)
}

// rescueOpen passes on an engine "open" event the manager missed. The
// manager makes the engine, which dials and may get the server's open
// packet, and only then listens to it: when the packet came first, the
// "open" event went to nobody and the attempt waited for its timeout
// (LIBRARY-NOTES C2, about 1 in 1,000 connects under load). Seeing the
// engine open while the manager has said nothing for 100 ms, it emits the
// event again; the manager's listener is still there (it goes once the
// manager took an "open").
func (c *Conn) rescueOpen() {
	before := c.opens.Load()
	seen := 0
	for deadline := time.Now().Add(attemptTimeout); time.Now().Before(deadline); {
		time.Sleep(25 * time.Millisecond)
		if c.isClosed() || c.opens.Load() != before {
			return
		}
		e := c.manager.Engine()
		if e == nil || e.ReadyState() != engine.SocketStateOpen {
			seen = 0
			continue
		}
		if seen++; seen >= 4 {
			e.Emit("open")
			return
		}
	}
}

// watchJoin closes the engine connection if the namespace is not joined
// within attemptTimeout of it opening: the server may never have read the
// CONNECT packet (LIBRARY-NOTES S1), and the library would wait forever.
// Closing makes the library reconnect.
func (c *Conn) watchJoin() {
	e := c.manager.Engine()
	time.AfterFunc(attemptTimeout, func() {
		if c.isClosed() || c.Connected() || c.manager.Engine() != e || e == nil {
			return
		}
		e.Close()
	})
}

// releaseOnClose makes sure the engine's transport is closed when the
// engine is: when the server ends the connection, the library's websocket
// transport is never closed and keeps its write goroutine (one goroutine
// and its queue leaked per connection the server ended).
func (c *Conn) releaseOnClose() {
	e := c.manager.Engine()
	if e == nil {
		return
	}
	tr := e.Transport()
	if tr == nil {
		return
	}
	// In its own goroutine: "close" may come from the transport's queue,
	// which DoClose waits for.
	_ = e.Once("close", func(...any) { go tr.DoClose() })
}

// Reconnect drops the current connection so that the library makes a new
// one, for a connection that looks up but answers nothing.
func (c *Conn) Reconnect() {
	if e := c.manager.Engine(); e != nil && !c.isClosed() {
		e.Close()
	}
}

func (c *Conn) reconnectLater() {
	time.Sleep(300 * time.Millisecond)
	if !c.isClosed() && !c.Connected() {
		c.socket.Connect()
	}
}

func (c *Conn) setConnected(up bool, reason string) {
	c.mu.Lock()
	changed := c.connected != up
	c.connected = up
	if changed {
		if up {
			close(c.connectCh)
		} else {
			c.connectCh = make(chan struct{})
		}
	}
	c.mu.Unlock()
	if changed {
		select {
		case c.states <- State{Connected: up, Reason: reason}:
		default: // nobody listening closely; Connected() tells the truth
		}
	}
}

// ready returns a channel closed while the connection is up.
func (c *Conn) ready() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.connectCh
}

// Ready returns a channel that is closed once the connection is up.
func (c *Conn) Ready() <-chan struct{} { return c.ready() }

// States delivers connection changes (lossy when not read).
func (c *Conn) States() <-chan State { return c.states }

// Connected tells whether the namespace is joined now.
func (c *Conn) Connected() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.connected
}

func (c *Conn) lastError() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lastErr
}

func (c *Conn) isClosed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed
}

// ErrNotConnected is returned by Emit while the connection is down.
var ErrNotConnected = errors.New("not connected")

// Emit sends an event. It refuses while the connection is down, so that
// the caller keeps the event (the library would buffer it without bound
// and may reorder it, LIBRARY-NOTES C1).
func (c *Conn) Emit(event string, args ...any) error {
	if !c.Connected() {
		return ErrNotConnected
	}
	return c.socket.Emit(event, args...)
}

// EmitAck sends an event and calls done with nil once the server acked it,
// or with an error when the connection is lost first or timeout passes.
func (c *Conn) EmitAck(timeout time.Duration, done func(err error), event string, args ...any) error {
	if !c.Connected() {
		return ErrNotConnected
	}
	s := c.socket
	if timeout > 0 {
		s = s.Timeout(timeout)
	}
	s.EmitWithAck(event, args...)(func(_ []any, err error) { done(err) })
	return nil
}

// Pending tells how many emitted events the library has not yet written
// to the network: its send buffer, the engine's write buffer, and a write
// in progress.
func (c *Conn) Pending() int {
	n := c.socket.SendBuffer().Len()
	if e := c.manager.Engine(); e != nil {
		n += e.WriteBuffer().Len()
		if t := e.Transport(); t != nil && !t.Writable() {
			n++
		}
	}
	return n
}

// Flush waits until every event emitted so far was written to the network
// and then read by the server: after the library's buffers drain, it asks
// the server to join a namespace and waits for the answer (any answer,
// accepted or refused), which the server sends only after it read what came
// before. It fails when the connection is lost first or ctx ends.
func (c *Conn) Flush(ctx context.Context) error {
	for quiet := 0; quiet < 3; {
		if !c.Connected() {
			return ErrNotConnected
		}
		if c.Pending() == 0 {
			quiet++
		} else {
			quiet = 0
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(2 * time.Millisecond):
		}
	}
	return c.barrier(ctx)
}

// barrierTimeout bounds the wait for the server's answer to a Flush.
const barrierTimeout = 25 * time.Second

func (c *Conn) barrier(ctx context.Context) error {
	got := make(chan bool, 1)
	c.Confirm(func(ok bool) { got <- ok })
	// The answer comes once the server has read everything before it: a
	// server far behind (a large backlog on a loaded machine) takes a
	// while, so the bound is generous.
	t := time.NewTimer(barrierTimeout)
	defer t.Stop()
	select {
	case ok := <-got:
		if !ok {
			return ErrNotConnected
		}
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return fmt.Errorf("server did not confirm within %v", barrierTimeout)
	}
}

// Close leaves the namespace and closes the connection. Call Flush first
// to be sure what was emitted arrived.
func (c *Conn) Close() {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	c.mu.Unlock()
	c.manager.SetReconnection(false)
	c.socket.Disconnect()
	c.socket.Close()
}

// split returns the engine URL (scheme http or https, the query) and the
// namespace (the path, "/" when empty).
func split(u *url.URL) (string, string) {
	b := *u
	switch b.Scheme {
	case "ws":
		b.Scheme = "http"
	case "wss":
		b.Scheme = "https"
	}
	nsp := b.Path
	if nsp == "" {
		nsp = "/"
	}
	b.Path = ""
	b.RawPath = ""
	b.RawQuery = "" // sent through the options
	b.Fragment = ""
	return b.String(), nsp
}

func first(args []any) any {
	if len(args) == 0 {
		return nil
	}
	return args[0]
}
