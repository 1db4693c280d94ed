package wsconn

import (
	"bytes"
	"encoding/base64"
	"io"
	"net/http"
	"strconv"
	"time"

	ws "github.com/gorilla/websocket"
)

// Long-polling and the upgrade from it, for the clients that start there
// (browsers' and Node clients' default). A session opened by
// AcceptPolling has no websocket: the frames sent wait in the same queue,
// and a GET takes them (or waits for them); a POST carries the client's
// packets. A websocket that comes with the session's id probes
// ("2probe", answered "3probe"), the GET waiting is released with a noop,
// and the client's upgrade packet ("5") moves the session there for
// good: from then on it is a websocket session as Accept opens.
//
// As the protocol (and Node) has it: one GET and one POST at a time (a
// second ends the session; the GET waiting gets the close packet), a GET
// given up by its client ends the session, a POST that is not Engine.IO
// is answered 400 and ends it, a POST larger than MaxPayload 413; a close
// packet from the client releases the GET waiting with a noop; once the
// session moved to its websocket, polling requests are answered 400.

// polling is a session's long-polling state; nil once it moved to a
// websocket (Conn.poll, under c.mu).
type polling struct {
	wake      chan struct{} // a GET waits: frames came, or the session ends
	getting   bool          // a GET is answered or waits
	posting   bool          // a POST is read
	probing   bool          // a websocket with the session's id probes
	noop      bool          // the next GET (or the one waiting) gets a noop
	leaveNoop bool          // the client closed: the GET waiting gets a noop
}

func (p *polling) signal() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// AcceptPolling opens a session on a long-polling handshake (a GET
// without a session id) and answers it with the open packet.
func AcceptPolling(w http.ResponseWriter, req *http.Request, cfg *Config, newHandler func(*Conn) Handler) *Conn {
	c := &Conn{cfg: cfg, id: NewID(), addr: req.RemoteAddr, ended: make(chan struct{}),
		poll: &polling{wake: make(chan struct{}, 1)}}
	c.last = time.Now().UnixNano()
	c.h = newHandler(c)
	c.mu.Lock()
	c.beat = time.AfterFunc(cfg.PingInterval, c.heartbeat)
	c.mu.Unlock()
	writePayload(w, req, []Frame{{Data: []byte(c.openPacket(`["websocket"]`))}})
	return c
}

func (c *Conn) openPacket(upgrades string) string {
	return `0{"sid":"` + c.id + `","upgrades":` + upgrades + `,"pingInterval":` + ms(c.cfg.PingInterval) +
		`,"pingTimeout":` + ms(c.cfg.PingTimeout) + `,"maxPayload":` + strconv.FormatInt(c.cfg.MaxPayload, 10) + `}`
}

// Polling reports whether the session is on long-polling still.
func (c *Conn) Polling() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.poll != nil
}

// GetHeld reports whether a GET of the session waits for frames.
func (c *Conn) GetHeld() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.poll != nil && c.poll.getting && !c.closed
}

// ServePoll answers a long-polling request of the session: a GET takes
// the frames waiting, a POST brings the client's packets.
func (c *Conn) ServePoll(w http.ResponseWriter, req *http.Request) {
	switch req.Method {
	case http.MethodGet:
		c.get(w, req)
	case http.MethodPost:
		c.post(w, req)
	default:
		BadRequest(w, req)
	}
}

// BadRequest answers a request the protocol refuses, as the library does.
func BadRequest(w http.ResponseWriter, req *http.Request) {
	cors(w, req)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusBadRequest)
	_, _ = io.WriteString(w, `{"code":3,"message":"Bad request"}`)
}

// cors lets pages of other origins read the answer, as the library's
// settings in front of which origins are checked (Credentials: true).
func cors(w http.ResponseWriter, req *http.Request) {
	if o := req.Header.Get("Origin"); o != "" {
		h := w.Header()
		h.Set("Access-Control-Allow-Origin", o)
		h.Set("Access-Control-Allow-Credentials", "true")
		h.Add("Vary", "Origin")
	}
}

// Preflight answers a CORS preflight as the library's settings do.
func Preflight(w http.ResponseWriter, req *http.Request) {
	cors(w, req)
	h := w.Header()
	h.Set("Access-Control-Allow-Methods", "GET,HEAD,PUT,PATCH,POST,DELETE")
	if a := req.Header.Get("Access-Control-Request-Headers"); a != "" {
		h.Set("Access-Control-Allow-Headers", a)
		h.Add("Vary", "Access-Control-Request-Headers")
	}
	h.Set("Content-Length", "0")
	w.WriteHeader(http.StatusNoContent)
}

var (
	closePacket = Frame{Data: []byte("1")}
	noopPacket  = Frame{Data: []byte("6")}
)

// begin marks a GET or a POST of the session under way (busy says which)
// and returns the polling state with c.mu held; or it answers 400 and
// returns nil: the session moved to its websocket or ended (or, with
// closing, is ending), or a request of that kind is under way already,
// which ends the session (the GET waiting gets the close packet).
func (c *Conn) begin(w http.ResponseWriter, req *http.Request, closing bool, busy func(*polling) *bool) *polling {
	c.mu.Lock()
	p := c.poll
	if p == nil || c.closed || (closing && c.closing) {
		c.mu.Unlock()
		BadRequest(w, req)
		return nil
	}
	b := busy(p)
	if *b {
		c.mu.Unlock()
		BadRequest(w, req)
		c.end("transport error")
		return nil
	}
	*b = true
	return p
}

func (c *Conn) get(w http.ResponseWriter, req *http.Request) {
	p := c.begin(w, req, false, func(p *polling) *bool { return &p.getting })
	if p == nil {
		return
	}
	for len(c.next) == 0 && !c.closing && !c.closed && !p.noop && c.poll != nil {
		c.mu.Unlock()
		select {
		case <-p.wake:
		case <-req.Context().Done():
			c.mu.Lock()
			p.getting = false
			upgraded := c.poll == nil
			c.mu.Unlock()
			if !upgraded {
				c.end("transport error") // a GET given up
			}
			return
		}
		c.mu.Lock()
	}
	var batch []Frame
	var tail []Frame
	// upgraded: the session moved to its websocket meanwhile, which has
	// the frames and writes the close frame: this GET answers a noop on a
	// connection the client is leaving, and what becomes of that answer
	// does not end the session.
	upgraded := false
	switch {
	case c.closed && p.leaveNoop:
		tail = []Frame{noopPacket}
	case c.closed:
		tail = []Frame{closePacket}
	case c.poll == nil:
		tail = []Frame{noopPacket}
		upgraded = true
	default:
		batch = c.next
		c.next = nil
		if c.closing {
			tail = []Frame{closePacket}
		} else if len(batch) == 0 {
			tail = []Frame{noopPacket} // p.noop: an upgrade probes
		}
	}
	p.noop = false
	// No longer waiting: the client may send its next GET as soon as it
	// has this answer, before this goroutine returns.
	p.getting = false
	c.getWriting = len(batch) > 0
	closing := c.closing && !c.closed && !upgraded
	c.mu.Unlock()
	if len(batch) > 0 {
		c.h.Flushing(len(batch))
	}
	err := writePayload(w, req, append(batch, tail...))
	var n int64
	for _, f := range batch {
		n += int64(len(f.Data)) + 1
	}
	c.mu.Lock()
	c.getWriting = false
	if len(batch) > 0 {
		c.queued -= n
		c.last = time.Now().UnixNano()
	}
	// Moved to its websocket meanwhile: what was sent since (and a close
	// frame) waited for this answer to be written, and goes now.
	start := c.poll == nil && !c.active && (len(c.next) > 0 || c.closing) && !c.closed
	if start {
		c.active = true
	}
	c.mu.Unlock()
	if len(batch) > 0 && err == nil {
		c.h.Drained()
	}
	switch {
	case err != nil && !upgraded: // frames it took, or the close packet, did not go
		c.end("transport error")
	case closing:
		c.end(c.reasonOr("forced close"))
	}
	if start {
		go c.writeLoop()
	}
}

func (c *Conn) reasonOr(r string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.reason != "" {
		return c.reason
	}
	return r
}

// writePayload answers a GET with frames: text as it is, binary as "b"
// and base64, separated by the record separator.
func writePayload(w http.ResponseWriter, req *http.Request, frames []Frame) error {
	var b bytes.Buffer
	for i, f := range frames {
		if i > 0 {
			b.WriteByte(0x1e)
		}
		if f.Binary {
			b.WriteByte('b')
			b.WriteString(base64.StdEncoding.EncodeToString(f.Data))
			continue
		}
		b.Write(f.Data)
	}
	cors(w, req)
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=UTF-8")
	h.Set("Content-Length", strconv.Itoa(b.Len()))
	w.WriteHeader(http.StatusOK)
	_, err := w.Write(b.Bytes())
	if err == nil {
		err = http.NewResponseController(w).Flush()
	}
	return err
}

func (c *Conn) post(w http.ResponseWriter, req *http.Request) {
	p := c.begin(w, req, true, func(p *polling) *bool { return &p.posting })
	if p == nil {
		return
	}
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		p.posting = false
		c.mu.Unlock()
	}()
	body, err := io.ReadAll(io.LimitReader(req.Body, c.cfg.MaxPayload+1))
	if err != nil {
		c.end("transport error")
		return
	}
	if int64(len(body)) > c.cfg.MaxPayload {
		cors(w, req)
		w.WriteHeader(http.StatusRequestEntityTooLarge)
		c.end("transport error")
		return
	}
	packets, ok := splitPayload(body)
	if !ok {
		BadRequest(w, req)
		c.end("parse error")
		return
	}
	left := false // the client closed
	for _, pk := range packets {
		if c.isClosed() {
			break
		}
		switch {
		case pk[0] == 'b':
			c.h.Message(pk[1:], true)
		case pk[0] == '4':
			c.h.Message(pk, false)
		case pk[0] == '3':
			c.pong()
		case pk[0] == '1':
			left = true
			c.mu.Lock()
			p.leaveNoop = true
			c.mu.Unlock()
			c.end("transport close")
		}
	}
	c.mu.Lock()
	refused := !left && (c.closing || c.closed) // a packet closed it (parse error)
	c.mu.Unlock()
	if refused {
		BadRequest(w, req)
		return
	}
	cors(w, req)
	w.Header().Set("Content-Type", "text/html")
	_, _ = io.WriteString(w, "ok")
}

// splitPayload reads a POST's packets: binary ones decoded (after their
// "b"), the others as they came. It refuses anything that is not an
// Engine.IO v4 payload of packets a client may send.
func splitPayload(body []byte) ([][]byte, bool) {
	if len(body) == 0 {
		return nil, false
	}
	var out [][]byte
	for _, pk := range bytes.Split(body, []byte{0x1e}) {
		if len(pk) == 0 {
			return nil, false
		}
		switch pk[0] {
		case 'b':
			data, err := base64.StdEncoding.DecodeString(string(pk[1:]))
			if err != nil {
				return nil, false
			}
			pk = append([]byte{'b'}, data...)
		case '4':
			pk = bytes.Clone(pk)
		case '1', '3', '6':
		default: // open, ping (the server pings in v4), upgrade, or no type
			return nil, false
		}
		out = append(out, pk)
	}
	return out, true
}

// upgradeWait bounds the probe and the upgrade packet, as Node's
// upgradeTimeout.
const upgradeWait = 10 * time.Second

// Upgrade takes a websocket that comes with the session's id: the probe,
// then the upgrade packet, after which the session is on the websocket.
// A probe that fails leaves the session on long-polling.
func (c *Conn) Upgrade(w http.ResponseWriter, req *http.Request) {
	c.mu.Lock()
	p := c.poll
	if p == nil || c.closed || c.closing || p.probing {
		c.mu.Unlock()
		BadRequest(w, req)
		return
	}
	p.probing = true
	c.mu.Unlock()
	conn, err := upgrader.Upgrade(w, req, nil)
	probed := err == nil && c.probe(conn, p)
	if !probed {
		if conn != nil {
			_ = conn.Close()
		}
		c.mu.Lock()
		p.probing = false
		c.mu.Unlock()
		return
	}
	c.mu.Lock()
	if c.closed || c.closing {
		c.mu.Unlock()
		_ = conn.Close()
		return
	}
	c.ws, c.raw = conn, conn.NetConn()
	c.poll = nil
	// Frames sent while a GET writes its answer wait for it to be
	// written (Send and get start the writer): they follow its frames.
	if len(c.next) > 0 && !c.getWriting && !c.active {
		c.active = true
		go c.writeLoop()
	}
	c.mu.Unlock()
	c.handle(conn)
	p.signal() // a GET still waiting gets a noop
	// A goroutine of its own reads (as Accept's): the request's, deep in
	// net/http's frames, would keep its larger stack for the session's life.
	go c.read()
}

// probe answers the client's probe and waits for its upgrade packet,
// releasing the GET that waits with a noop meanwhile.
func (c *Conn) probe(conn *ws.Conn, p *polling) bool {
	conn.SetReadLimit(c.cfg.MaxPayload)
	_ = conn.SetReadDeadline(time.Now().Add(upgradeWait))
	mt, m, err := conn.ReadMessage()
	if err != nil || mt != ws.TextMessage || string(m) != "2probe" {
		return false
	}
	if WriteFrames(conn.NetConn(), []Frame{{Data: []byte("3probe")}}) != nil {
		return false
	}
	c.mu.Lock()
	p.noop = true
	c.mu.Unlock()
	p.signal()
	mt, m, err = conn.ReadMessage()
	if err != nil || mt != ws.TextMessage || string(m) != "5" {
		return false
	}
	_ = conn.SetReadDeadline(time.Time{})
	return true
}
