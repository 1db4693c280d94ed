package conn

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/gorilla/websocket"
)

// upgradeTo moves a long-polling session that has just been opened (p,
// whose first GET answered the handshake and whose loop is not started)
// to a websocket, as the official client does (Options.Upgrade): the
// handshake then works through proxies that pass no websocket, and the
// events take a websocket where one passes.
//
// The move is made before anything else is sent or asked for, so no
// message can be on its way over long-polling: the websocket is opened
// with the session's id, answers the probe, and takes the upgrade packet.
// The server sends nothing over it before that packet, and what it held
// for the session goes over the websocket. It returns nil when the
// server offers no websocket or the probe fails: the session then stays
// on long-polling. unknown is set when the server answered the websocket
// with 400, as one does for a session it does not hold: behind a load
// balancer without sticky sessions, the websocket reached another node.
func upgradeTo(ctx context.Context, p *pollFrames, wsEndpoint string, d *websocket.Dialer, header http.Header) (_ frames, unknown bool) {
	if !slices.Contains(p.upgrades, "websocket") {
		return nil, false
	}
	ctx, cancel := context.WithTimeout(ctx, probeWait)
	defer cancel()
	ws, resp, err := d.DialContext(ctx, withSid(wsEndpoint, p.sid), header)
	if err != nil {
		return nil, resp != nil && resp.StatusCode == http.StatusBadRequest
	}
	stop := context.AfterFunc(ctx, func() { ws.Close() })
	defer stop()
	deadline, _ := ctx.Deadline()
	_ = ws.SetWriteDeadline(deadline)
	_ = ws.SetReadDeadline(deadline)
	if ws.WriteMessage(websocket.TextMessage, []byte("2probe")) != nil {
		ws.Close()
		return nil, false
	}
	typ, msg, err := ws.ReadMessage()
	if err != nil || typ != websocket.TextMessage || string(msg) != "3probe" ||
		ws.WriteMessage(websocket.TextMessage, []byte("5")) != nil || !stop() {
		ws.Close()
		return nil, false
	}
	_ = ws.SetReadDeadline(time.Time{})
	_ = ws.SetWriteDeadline(time.Time{})
	return &handedOver{ws: ws, from: p}, false
}

// probeWait bounds an upgrade: a server or proxy that has not answered
// the probe by then leaves the session on long-polling.
const probeWait = 5 * time.Second

// withSid adds the session id to an Engine.IO endpoint.
func withSid(endpoint, sid string) string {
	u, err := url.Parse(endpoint)
	if err != nil {
		return endpoint
	}
	q := u.Query()
	q.Set("sid", sid)
	u.RawQuery = q.Encode()
	return u.String()
}

// handedOver is a websocket that took over a long-polling session: it
// first yields the messages of the handshake's answer (the open packet).
type handedOver struct {
	ws   *websocket.Conn
	from *pollFrames
}

func (h *handedOver) ReadMessage() (int, []byte, error) {
	select {
	case f := <-h.from.in:
		return f.typ, f.msg, nil
	default:
		return h.ws.ReadMessage()
	}
}

func (h *handedOver) SetReadDeadline(t time.Time) error  { return h.ws.SetReadDeadline(t) }
func (h *handedOver) SetWriteDeadline(t time.Time) error { return h.ws.SetWriteDeadline(t) }
func (h *handedOver) WriteMessage(typ int, msg []byte) error {
	return h.ws.WriteMessage(typ, msg)
}

func (h *handedOver) Close() error {
	h.from.Close()
	return h.ws.Close()
}
