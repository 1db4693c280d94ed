package conn

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// frames is the message stream of an Engine.IO connection: a websocket
// (gorilla's Conn), or HTTP long-polling made to look like one
// (pollFrames), for servers or proxies that allow no websocket
// (Options.Polling, --transport polling).
type frames interface {
	ReadMessage() (int, []byte, error)
	SetReadDeadline(time.Time) error
	WriteMessage(int, []byte) error
	SetWriteDeadline(time.Time) error
	Close() error
}

// pollFrames is an Engine.IO long-polling connection: a goroutine keeps
// a GET out and queues the packets each answer carries as messages; a
// message written is POSTed at once (the link writes one at a time).
// Binary packets travel as "b" and base64, as Engine.IO v4 wants.
type pollFrames struct {
	client *http.Client
	url    string // the endpoint with the session's sid
	sid    string
	header http.Header

	in   chan frame
	done chan struct{} // closed by Close
	once sync.Once
	// ctx ends every request of the connection when it is closed.
	ctx    context.Context
	cancel context.CancelFunc
	// upgrades are the transports the server offers to move to.
	upgrades []string

	mu            sync.Mutex
	err           error // why reading stopped
	readDeadline  time.Time
	writeDeadline time.Time
}

type frame struct {
	typ int
	msg []byte
}

// payloadSep separates the packets of a long-polling payload.
const payloadSep = '\x1e'

// dialPolling makes the long-polling handshake at endpoint (an http or
// https URL with the Engine.IO query) and returns the connection, whose
// first message is the open packet.
func dialPolling(ctx context.Context, endpoint string, client *http.Client, header http.Header) (*pollFrames, error) {
	body, err := pollRequest(ctx, client, http.MethodGet, endpoint, header, nil)
	if err != nil {
		return nil, err
	}
	packets := bytes.Split(body, []byte{payloadSep})
	open := packets[0]
	if len(open) == 0 || open[0] != '0' {
		return nil, &dialError{msg: fmt.Sprintf("not a Socket.IO v4 server? the first message was %.40q", open), permanent: true}
	}
	var hs struct {
		Sid      string
		Upgrades []string
	}
	if err := json.Unmarshal(open[1:], &hs); err != nil || hs.Sid == "" {
		return nil, &dialError{msg: "bad Engine.IO open packet", permanent: true}
	}
	u, _ := url.Parse(endpoint)
	q := u.Query()
	q.Set("sid", hs.Sid)
	u.RawQuery = q.Encode()
	p := &pollFrames{client: client, url: u.String(), header: header, in: make(chan frame, 64), done: make(chan struct{}),
		sid: hs.Sid, upgrades: hs.Upgrades}
	p.ctx, p.cancel = context.WithCancel(context.Background())
	for _, pk := range packets {
		p.in <- decodePolled(pk)
	}
	return p, nil
}

// pollRequest sends one long-polling request and returns the answer's
// body; an answer other than 200 is an error, permanent for a 4xx as for
// a websocket.
func pollRequest(ctx context.Context, client *http.Client, method, u string, header http.Header, body []byte) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, u, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if body != nil {
		req.Header.Set("Content-Type", "text/plain;charset=UTF-8")
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, classifyDial(err, nil, u)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, classifyDial(nil, resp, u)
	}
	return b, nil
}

// decodePolled turns one packet of a payload into a message.
func decodePolled(pk []byte) frame {
	if len(pk) > 0 && pk[0] == 'b' {
		b, err := base64.StdEncoding.DecodeString(string(pk[1:]))
		if err == nil {
			return frame{websocket.BinaryMessage, b}
		}
	}
	return frame{websocket.TextMessage, pk}
}

// poll keeps a GET out until the connection ends. It is started once
// the connection stays on long-polling (after the handshake, or a failed
// upgrade).
func (p *pollFrames) poll() {
	for {
		body, err := pollRequest(p.ctx, p.client, http.MethodGet, p.url, p.header, nil)
		if err != nil {
			p.fail(err)
			return
		}
		for _, pk := range bytes.Split(body, []byte{payloadSep}) {
			select {
			case p.in <- decodePolled(pk):
			case <-p.done:
				return
			}
		}
	}
}

func (p *pollFrames) fail(err error) {
	p.mu.Lock()
	if p.err == nil {
		p.err = err
	}
	p.mu.Unlock()
	p.once.Do(func() {
		close(p.done)
		p.cancel()
	})
}

func (p *pollFrames) ReadMessage() (int, []byte, error) {
	p.mu.Lock()
	deadline := p.readDeadline
	p.mu.Unlock()
	var timeout <-chan time.Time
	if !deadline.IsZero() {
		t := time.NewTimer(time.Until(deadline))
		defer t.Stop()
		timeout = t.C
	}
	select {
	case f := <-p.in:
		return f.typ, f.msg, nil
	default:
	}
	select {
	case f := <-p.in:
		return f.typ, f.msg, nil
	case <-timeout:
		return 0, nil, os.ErrDeadlineExceeded
	case <-p.done:
		p.mu.Lock()
		err := p.err
		p.mu.Unlock()
		if err == nil {
			err = net.ErrClosed
		}
		return 0, nil, err
	}
}

func (p *pollFrames) SetReadDeadline(t time.Time) error {
	p.mu.Lock()
	p.readDeadline = t
	p.mu.Unlock()
	return nil
}

func (p *pollFrames) SetWriteDeadline(t time.Time) error {
	p.mu.Lock()
	p.writeDeadline = t
	p.mu.Unlock()
	return nil
}

// WriteMessage POSTs one message: text as it is, binary as "b" and
// base64, a close message as the Engine.IO close packet.
func (p *pollFrames) WriteMessage(typ int, msg []byte) error {
	var body []byte
	switch typ {
	case websocket.TextMessage, websocket.BinaryMessage:
		body = appendPolled(nil, typ, nil, msg)
	case websocket.CloseMessage:
		body = []byte("1")
	default:
		return nil
	}
	return p.post(body)
}

// appendPolled appends a message (head and then body) as a packet of a
// long-polling payload: text as it is, binary as "b" and base64.
func appendPolled(b []byte, typ int, head, body []byte) []byte {
	if typ != websocket.BinaryMessage {
		return append(append(b, head...), body...)
	}
	b = append(b, 'b')
	if len(head) > 0 {
		body = append(append(make([]byte, 0, len(head)+len(body)), head...), body...)
	}
	return base64.StdEncoding.AppendEncode(b, body)
}

// post POSTs a payload: one or more packets separated by payloadSep.
func (p *pollFrames) post(body []byte) error {
	select {
	case <-p.done:
		return net.ErrClosed
	default:
	}
	p.mu.Lock()
	deadline := p.writeDeadline
	p.mu.Unlock()
	ctx := p.ctx
	if !deadline.IsZero() {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, deadline)
		defer cancel()
	}
	_, err := pollRequest(ctx, p.client, http.MethodPost, p.url, p.header, body)
	if err != nil && !errors.Is(err, context.Canceled) {
		p.fail(err)
	}
	return err
}

// postAll POSTs msgs in as few payloads as the server takes (limit bytes
// each, its maxPayload), in order. It returns how many were posted.
func (p *pollFrames) postAll(msgs []out, limit int) (int, error) {
	var body []byte
	posted, inBody := 0, 0
	for _, m := range msgs {
		start := len(body)
		if inBody > 0 {
			body = append(body, payloadSep)
		}
		body = appendPolled(body, m.typ, m.head, m.body)
		if inBody > 0 && len(body) > limit {
			// It goes in the next payload.
			next := append([]byte(nil), body[start+1:]...)
			if err := p.post(body[:start]); err != nil {
				return posted, err
			}
			posted += inBody
			body, inBody = next, 0
		}
		inBody++
	}
	if err := p.post(body); err != nil {
		return posted, err
	}
	return posted + inBody, nil
}

// Close ends the connection: the GET out is given up.
func (p *pollFrames) Close() error {
	p.fail(net.ErrClosed)
	return nil
}

// pollingEndpoint is the long-polling URL of a websocket endpoint.
func pollingEndpoint(wsEndpoint string) string {
	u, err := url.Parse(wsEndpoint)
	if err != nil {
		return wsEndpoint
	}
	switch u.Scheme {
	case "ws":
		u.Scheme = "http"
	case "wss":
		u.Scheme = "https"
	}
	q := u.Query()
	q.Set("transport", "polling")
	u.RawQuery = q.Encode()
	return strings.TrimSuffix(u.String(), "?")
}
