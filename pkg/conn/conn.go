// Package conn is the Socket.IO v4 client of the sio commands: one
// namespace over an Engine.IO v4 websocket, written for them rather than
// taken from a client library, because the commands' promises rest on it.
//
//   - A connection is a single reader goroutine and writes under one lock:
//     no connect-attempt timer races the connection it guards (the
//     zishang520 client closed about 4% of its connections 2 s after they
//     opened, and lost what came meanwhile without saying so).
//   - Events are written when Send returns, in order, and never queued
//     for later: the caller keeps what it has not sent (a library client
//     buffered tens of thousands of events ahead of the server).
//   - It says whether a new connection resumed the previous session
//     (Socket.IO connection state recovery): the server then replays what
//     was missed; if not, the caller knows that events may be missing.
//   - Confirm asks the server to confirm that it has read everything sent
//     before, with a request any Socket.IO server answers in order.
package conn

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/sio-tools/sio/pkg/lines"
)

// Options configure a connection.
type Options struct {
	// URL of the server; its path is the namespace, its query is sent.
	URL *url.URL
	// Path is the Engine.IO endpoint. Default "/socket.io/".
	Path string
	// Header is sent with the websocket handshake.
	Header http.Header
	// Rooms to join, sent as "room" (a comma list) in the handshake auth.
	Rooms []string
	// Token, when set, is sent as "token" in the handshake auth.
	Token string
	// Auth is more of the handshake auth (Rooms and Token go over it).
	Auth map[string]any
	// TLS configures https and wss connections; nil for the defaults.
	TLS *tls.Config
	// Msgpack speaks the msgpack parser (socket.io-msgpack-parser)
	// instead of the default one: the server must use it too.
	Msgpack bool
	// Polling uses HTTP long-polling instead of a websocket, for servers
	// or proxies that allow no websocket. It never upgrades.
	Polling bool
	// Upgrade opens the connection over long-polling and moves it to a
	// websocket at once when the server offers one and answers a probe
	// over it, as the official client does: the handshake passes proxies
	// that pass no websocket, and the events take a websocket where there
	// is one.
	Upgrade bool
	// ConnectTimeout bounds the first connection. Default 10 s.
	ConnectTimeout time.Duration
	// Reconnect after the connection is lost, also when the server said
	// disconnect (a restart). Without it the connection stays down once
	// lost.
	Reconnect bool
	// OnEvent, when set, gets every event of the namespace in arrival
	// order, with JSON arguments as json.RawMessage exactly as they came
	// (those of an event with binary attachments decoded, the attachments
	// as []byte). It runs on the connection's reading goroutine: blocking
	// in it stops reading.
	OnEvent func(event string, args []any)
	// OnIdle, when set, is called on the reading goroutine whenever every
	// event read so far went to OnEvent and reading is about to wait for
	// more from the network (over long-polling: no message is queued). A
	// consumer that gathers events hands them on here. Blocking in it
	// stops reading, as in OnEvent.
	OnIdle func()
	// OnState, when set, gets every change of the connection, in order. It
	// runs on the connection's goroutines: it must not block for long.
	OnState func(State)
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
	// Reason a connection was lost.
	Reason string
	// Reconnected is set on a connection that is not the first.
	Reconnected bool
	// Recovered is set on a reconnection that resumed the previous
	// session: the server sends what was missed, nothing is lost.
	Recovered bool
	// LastHeard is, on a reconnection, when the previous connection last
	// heard from the server: events sent since may be missing unless
	// Recovered.
	LastHeard time.Time
	// Sid is the connection's socket id in its namespace (the server's
	// answer to the CONNECT), when connected.
	Sid string
}

// Conn is a client connection to one namespace.
type Conn struct {
	opts     Options
	nsp      string
	endpoint string
	dialer   *websocket.Dialer
	poller   *http.Client // with Options.Polling or Upgrade
	auth     map[string]any

	closing chan struct{} // closed by Close
	runDone chan struct{} // closed when run returns
	failed  chan error    // the first connection cannot be made

	mu          sync.Mutex
	link        *link // the current connection, joined or joining
	connected   bool
	connectCh   chan struct{} // closed while connected; replaced on loss
	everJoined  bool
	closed      bool
	lastErr     string
	pid         string          // the session's private id, when the server recovers sessions
	offset      json.RawMessage // the offset of the last event received in the session, a JSON string as it came
	lastHeard   time.Time       // when the last joined connection last read a frame
	confirms    []func(bool)
	waiting     []func(bool)
	flushN      int
	acks        map[int64]func([]any, error)
	nextAck     int64
	maxPayload  int64
	recovering  atomic.Bool // the session's events carry an offset
	firstJoined chan struct{}
}

// offsetsKey in the CONNECT's auth asks sio-serve for connection state
// recovery even when it does not give it to every client (its relay
// package names it OffsetsKey; the client does not import the server).
const offsetsKey = "sio_offsets"

// noOffset is the offset sent to resume a session in which no event came.
const noOffset = "0"

// joinWait bounds the wait for the server's answer to a namespace CONNECT
// while nothing at all comes from the server; then the connection is made
// anew (a server can lose a CONNECT; one that replays a large backlog
// first keeps sending, and is waited for).
const joinWait = 5 * time.Second

// handshakeWait bounds one websocket dial and upgrade.
const handshakeWait = 10 * time.Second

// Dial connects and waits for the namespace to be joined. It fails with
// a *DialError when that does not happen within ConnectTimeout, when the
// server refuses the namespace, or at once on an error that trying again
// cannot mend.
func Dial(ctx context.Context, o Options) (*Conn, error) {
	o = o.withDefaults()
	c := newConn(o)
	go c.run()

	t := time.NewTimer(o.ConnectTimeout)
	defer t.Stop()
	select {
	case <-c.firstJoined:
		return c, nil
	case err := <-c.failed:
		c.Close()
		return nil, err
	case <-ctx.Done():
		c.Close()
		return nil, ctx.Err()
	case <-t.C:
		c.Close()
		return nil, &DialError{URL: o.URL.String(), Reason: c.lastError(), Timeout: o.ConnectTimeout}
	}
}

func (o Options) withDefaults() Options {
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = 10 * time.Second
	}
	if o.Path == "" {
		o.Path = "/socket.io/"
	}
	return o
}

// newConn makes the Conn, not connected yet (run connects it): the
// websocket dialer, the long-polling client when o asks for long-polling,
// and the handshake auth.
func newConn(o Options) *Conn {
	c := &Conn{
		opts:     o,
		nsp:      namespace(o.URL),
		endpoint: endpoint(o.URL, o.Path),
		dialer: &websocket.Dialer{
			Proxy:            http.ProxyFromEnvironment,
			TLSClientConfig:  tlsFor(o.URL, o.TLS),
			HandshakeTimeout: handshakeWait,
			NetDialContext:   dialTCP,
			ReadBufferSize:   64 << 10,
			WriteBufferSize:  16 << 10,
		},
		closing:     make(chan struct{}),
		runDone:     make(chan struct{}),
		failed:      make(chan error, 1),
		connectCh:   make(chan struct{}),
		firstJoined: make(chan struct{}),
		acks:        map[int64]func([]any, error){},
		auth:        handshakeAuth(o),
	}
	if o.Polling || o.Upgrade {
		c.poller = &http.Client{Transport: &http.Transport{
			Proxy:               http.ProxyFromEnvironment,
			TLSClientConfig:     tlsFor(o.URL, o.TLS),
			MaxIdleConnsPerHost: 2, // a GET out, and a POST
		}}
	}
	return c
}

// handshakeAuth is the auth every CONNECT sends: Options.Auth, the rooms
// and the token.
func handshakeAuth(o Options) map[string]any {
	auth := map[string]any{}
	for k, v := range o.Auth {
		auth[k] = v
	}
	if len(o.Rooms) > 0 {
		auth["room"] = strings.Join(o.Rooms, ",")
	}
	if o.Token != "" {
		auth["token"] = o.Token
	}
	// Ask sio-serve to number our events so that a lost connection can
	// resume (other servers ignore it).
	auth[offsetsKey] = true
	return auth
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
	if e.Timeout == 0 {
		return fmt.Sprintf("cannot connect to %s: %s", e.URL, r)
	}
	return fmt.Sprintf("cannot connect to %s within %v: %s", e.URL, e.Timeout, r)
}

// run makes connections until Close, or until the connection is lost and
// Reconnect is off.
func (c *Conn) run() {
	defer close(c.runDone)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-c.closing:
			cancel()
		case <-c.runDone:
		}
	}()
	for attempt := 0; ; attempt++ {
		l, err := c.dial(ctx)
		if l != nil {
			l.msgpack = c.opts.Msgpack
		}
		if err != nil {
			c.setLastErr(err.Error())
			var de *dialError
			if errors.As(err, &de) && de.permanent && !c.joinedOnce() {
				c.fail(&DialError{URL: c.opts.URL.String(), Reason: err.Error()})
				return
			}
		} else if c.serve(l) {
			attempt = 0
		}
		if c.isClosed() || (c.joinedOnce() && !c.opts.Reconnect) {
			return
		}
		select {
		case <-time.After(backoff(attempt)):
		case <-c.closing:
			return
		}
	}
}

// backoff is the wait before reconnect attempt n (from 0): 200 ms doubling
// up to ReconnectDelayMax, ±30%.
func backoff(n int) time.Duration {
	d := 200 * time.Millisecond << min(n, 8)
	d = min(d, ReconnectDelayMax)
	return time.Duration(float64(d) * (0.7 + 0.6*rand.Float64()))
}

func (c *Conn) fail(err error) {
	select {
	case c.failed <- err:
	default:
	}
}

// serve joins the namespace over l and reads it until it ends. It reports
// whether the namespace was joined.
func (c *Conn) serve(l *link) bool {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		l.close("io client disconnect")
		return false
	}
	c.link = l
	c.maxPayload = l.open.MaxPayload
	auth := make(map[string]any, len(c.auth)+2)
	for k, v := range c.auth {
		auth[k] = v
	}
	if c.pid != "" {
		// Ask to resume the session from the last event received. With
		// none received, no offset would make the server refuse: "0"
		// asks sio-serve to resume from the session's start, and any
		// other server sees an offset it does not know.
		auth["pid"] = c.pid
		auth["offset"] = noOffset
		if off, ok := lines.AsString(c.offset); ok {
			auth["offset"] = off
		}
	}
	c.mu.Unlock()
	body, _ := json.Marshal(auth)
	if err := l.writePacket(append(lines.AppendPacketHeader(nil, pConnect, 0, c.nsp, -1), body...), nil); err != nil {
		l.close("transport error")
	}
	r := &reader{c: c, l: l}
	reason := r.loop()
	c.lost(l, r.joined, r.lastHeard(), reason)
	return r.joined
}

// lost takes note that l ended.
func (c *Conn) lost(l *link, joined bool, lastHeard time.Time, reason string) {
	c.mu.Lock()
	if c.link == l {
		c.link = nil
	}
	wasUp := c.connected
	c.connected = false
	if wasUp {
		c.connectCh = make(chan struct{})
		c.lastHeard = lastHeard
	}
	if !joined && reason != "" {
		c.lastErr = reason
	}
	confirms := append(c.confirms, c.waiting...)
	c.confirms, c.waiting = nil, nil
	acks := c.acks
	c.acks = map[int64]func([]any, error){}
	c.mu.Unlock()
	for _, done := range confirms {
		done(false)
	}
	for _, done := range acks {
		done(nil, ErrNotConnected)
	}
	if wasUp {
		c.state(State{Connected: false, Reason: reason})
	}
}

func (c *Conn) state(s State) {
	if c.opts.OnState != nil {
		c.opts.OnState(s)
	}
}

// joined takes the server's answer to the namespace CONNECT.
func (c *Conn) joined(data []byte) {
	var ans struct {
		Sid string `json:"sid"`
		Pid string `json:"pid"`
	}
	_ = json.Unmarshal(data, &ans)
	c.mu.Lock()
	st := State{Connected: true, Reconnected: c.everJoined, LastHeard: c.lastHeard, Sid: ans.Sid}
	// As the official client reckons it: the same private session id
	// means the server resumed the session.
	st.Recovered = ans.Pid != "" && ans.Pid == c.pid
	if !st.Recovered {
		c.offset = nil
	}
	c.pid = ans.Pid
	c.recovering.Store(ans.Pid != "")
	c.connected = true
	close(c.connectCh)
	first := !c.everJoined
	c.everJoined = true
	c.mu.Unlock()
	c.state(st)
	if first {
		close(c.firstJoined)
	}
}

// refused takes a CONNECT_ERROR for the namespace.
func (c *Conn) refused(l *link, data []byte) {
	var e struct {
		Message string `json:"message"`
	}
	if json.Unmarshal(data, &e) != nil || e.Message == "" {
		e.Message = strings.TrimSpace(string(data))
	}
	c.setLastErr(e.Message)
	if !c.joinedOnce() {
		c.fail(&DialError{URL: c.opts.URL.String(), Reason: e.Message, Refused: true})
	}
	l.close("connect error: " + e.Message)
}

// Reconnect drops the current connection so that a new one is made, for a
// connection that looks up but answers nothing.
func (c *Conn) Reconnect() {
	c.mu.Lock()
	l := c.link
	c.mu.Unlock()
	if l != nil {
		l.close("forced reconnect")
	}
}

// Ready returns a channel that is closed while the connection is up.
func (c *Conn) Ready() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.connectCh
}

// Done is closed once the connection has ended for good: after Close, or
// once it was lost without Reconnect.
func (c *Conn) Done() <-chan struct{} { return c.runDone }

// Connected tells whether the namespace is joined now.
func (c *Conn) Connected() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.connected
}

// MaxPayload is the largest message the server said it accepts (its
// Engine.IO maxPayload), or 0 when it did not say.
func (c *Conn) MaxPayload() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.maxPayload
}

func (c *Conn) lastError() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lastErr
}

func (c *Conn) setLastErr(s string) {
	c.mu.Lock()
	c.lastErr = s
	c.mu.Unlock()
}

func (c *Conn) isClosed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed
}

func (c *Conn) joinedOnce() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.everJoined
}

// Close leaves the namespace and closes the connection; it returns once
// every goroutine of the connection has ended. Call Flush first to be sure
// what was sent arrived.
func (c *Conn) Close() {
	if c.poller != nil {
		defer c.poller.CloseIdleConnections()
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		<-c.runDone
		return
	}
	c.closed = true
	l, joined := c.link, c.connected
	c.mu.Unlock()
	close(c.closing)
	if l != nil {
		if joined {
			_ = l.writePacket(lines.AppendPacketHeader(nil, pDisconnect, 0, c.nsp, -1), nil)
		}
		l.close("io client disconnect")
	}
	<-c.runDone
}

// dial opens one Engine.IO connection, over a websocket or long-polling.
func (c *Conn) dial(ctx context.Context) (*link, error) {
	if c.poller == nil {
		return dialLink(ctx, c.endpoint, c.dialer, c.opts.Header)
	}
	hctx, cancel := context.WithTimeout(ctx, handshakeWait)
	defer cancel()
	var d *websocket.Dialer
	if c.opts.Upgrade {
		d = c.dialer
	}
	return dialPollingLink(hctx, c.endpoint, c.poller, c.opts.Header, d)
}

// namespace is the URL's path, "/" when empty.
func namespace(u *url.URL) string {
	if u.Path == "" {
		return "/"
	}
	return u.Path
}

// endpoint is the Engine.IO websocket URL for u: ws or wss, the path, u's
// query and the Engine.IO parameters.
func endpoint(u *url.URL, path string) string {
	e := *u
	switch e.Scheme {
	case "http", "ws":
		e.Scheme = "ws"
	case "https", "wss":
		e.Scheme = "wss"
	}
	e.Path = path
	e.RawPath = ""
	e.Fragment = ""
	q := u.Query()
	q.Set("EIO", "4")
	q.Set("transport", "websocket")
	e.RawQuery = q.Encode()
	return e.String()
}

func secure(u *url.URL) bool { return u.Scheme == "https" || u.Scheme == "wss" }

func tlsFor(u *url.URL, cfg *tls.Config) *tls.Config {
	if cfg == nil {
		cfg = &tls.Config{}
	}
	cfg = cfg.Clone()
	if cfg.ServerName == "" && secure(u) {
		cfg.ServerName = u.Hostname()
	}
	return cfg
}
