package redisadapter

// The requests of other nodes, as @socket.io/redis-adapter 8.3.0 makes
// and answers them (its RedisAdapter.onrequest and publishResponse).
//
// A request is published on "PREFIX-request#NSP#": JSON when its first
// byte is "{" (all but one type), else msgpack (the broadcast with acks).
// It is an object {uid, requestId, type, ...}: every field is read as the
// Node adapter reads it, and a request it could not take (a field of the
// wrong kind, a type it does not know) is malformed here. The answers go
// to "PREFIX-response#NSP#", which every Node server of the namespace
// listens to; each picks its own by requestId. They are JSON, except the
// acks of a broadcast with acks, which are msgpack.

import (
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"sync"

	"github.com/sio-tools/sio/pkg/internal/wire"
	"github.com/vmihailenco/msgpack/v5"
	"github.com/zishang520/socket.io/parsers/socket/v3/parser"
	"github.com/zishang520/socket.io/servers/socket/v3"
	"github.com/zishang520/socket.io/v3/pkg/types"
)

// Request types: RequestType of @socket.io/redis-adapter 8.3.0.
const (
	reqSockets           = 0 // socket ids (old versions' allSockets)
	reqAllRooms          = 1
	reqRemoteJoin        = 2 // socketsJoin, or one socket's join
	reqRemoteLeave       = 3
	reqRemoteDisconnect  = 4
	reqRemoteFetch       = 5 // fetchSockets
	reqServerSideEmit    = 6
	reqBroadcast         = 7 // a broadcast with acks
	respBroadcastClients = 8 // answers to reqBroadcast
	respBroadcastAck     = 9

	lastRequestType = reqBroadcast
)

// The channels of requests and answers: NSP and "#" follow.
const (
	requestChannelPrefix  = Prefix + "-request#"
	responseChannelPrefix = Prefix + "-response#"
)

// request is a request of another node, read strictly.
type request struct {
	typ       int
	uid       string
	requestID string // "" when absent: then nothing is answered

	// opts are the sockets it is about (rooms, except); nil when absent,
	// in the forms about one socket (sid).
	opts  *socket.BroadcastOptions
	rooms []socket.Room // the rooms to look in (reqSockets), to join or leave
	sid   socket.SocketId
	room  socket.Room // for one socket
	close bool        // reqRemoteDisconnect: close the connection too

	packet *parser.Packet // reqBroadcast
}

// requestNsp returns the namespace of a request channel: the channel is
// exactly "PREFIX-request#NSP#", so NSP may hold "#".
func requestNsp(channel string) (string, bool) {
	rest, ok := strings.CutPrefix(channel, requestChannelPrefix)
	if !ok {
		return "", false
	}
	return strings.CutSuffix(rest, "#")
}

// onRequest takes a message on the request channel of namespace nsp.
func (c *Cluster) onRequest(nsp, channel string, body []byte) {
	c.mu.Lock()
	a := c.adapters[nsp]
	c.mu.Unlock()
	if a == nil {
		return // its namespace closed here since
	}
	r, err := decodeRequest(body)
	if err != nil {
		c.Malformed.Inc()
		c.Log.Warn("dropped a malformed request from redis", "channel", channel, "err", err)
		return
	}
	if r.uid == c.uid {
		return // never made here; as Node, not answered to oneself
	}
	c.requests.Inc()
	a.onRequest(r)
}

// onRequest does what a request asks of the sockets here and answers it,
// as Node's adapter does: a request about the sockets of a namespace
// (opts) is not answered, one about a socket (sid) is when the socket is
// here.
func (a *adapter) onRequest(r *request) {
	switch r.typ {
	case reqSockets:
		ids := []string{}
		for _, id := range a.Adapter.Sockets(types.NewSet(r.rooms...)).Keys() {
			ids = append(ids, string(id))
		}
		a.answerJSON(map[string]any{"requestId": r.requestID, "sockets": ids})
	case reqAllRooms:
		rooms := []string{}
		a.Rooms().Range(func(room socket.Room, _ *types.Set[socket.SocketId]) bool {
			rooms = append(rooms, string(room))
			return true
		})
		a.answerJSON(map[string]any{"requestId": r.requestID, "rooms": rooms})
	case reqRemoteJoin, reqRemoteLeave, reqRemoteDisconnect:
		a.socketsOp(r)
	case reqRemoteFetch:
		a.fetchSockets(r)
	case reqServerSideEmit:
		// sio-serve has no server-side handlers: an acknowledgement of
		// null, so that the asking node need not wait for its timeout.
		// Node's adapter sends this one on the common channel always.
		if r.requestID != "" {
			a.answerJSON(map[string]any{"type": reqServerSideEmit, "requestId": r.requestID, "data": nil})
		}
	case reqBroadcast:
		a.broadcastWithAck(r)
	}
}

// socketsOp applies socketsJoin, socketsLeave or disconnectSockets to the
// sockets here, or the join, leave or disconnect of one socket.
func (a *adapter) socketsOp(r *request) {
	if r.opts != nil {
		switch r.typ {
		case reqRemoteJoin:
			a.Adapter.AddSockets(r.opts, r.rooms)
		case reqRemoteLeave:
			a.Adapter.DelSockets(r.opts, r.rooms)
		default:
			a.Adapter.DisconnectSockets(r.opts, r.close)
		}
		return
	}
	s, ok := a.Nsp().Sockets().Load(r.sid)
	if !ok {
		return // another node's: it answers
	}
	switch r.typ {
	case reqRemoteJoin:
		s.Join(r.room)
	case reqRemoteLeave:
		s.Leave(r.room)
	default:
		s.Disconnect(r.close)
	}
	answer := map[string]any{}
	if r.requestID != "" {
		answer["requestId"] = r.requestID
	}
	a.answerJSON(answer)
}

// fetchSockets answers with the sockets here: id, handshake, rooms, data.
func (a *adapter) fetchSockets(r *request) {
	a.Adapter.FetchSockets(r.opts)(func(list []socket.SocketDetails, _ error) {
		sockets := make([]any, 0, len(list))
		for _, s := range list {
			rooms := []string{}
			if set := s.Rooms(); set != nil {
				for _, room := range set.Keys() {
					rooms = append(rooms, string(room))
				}
			}
			sockets = append(sockets, map[string]any{
				"id":        string(s.Id()),
				"handshake": handshakeJSON(s),
				"rooms":     rooms,
				"data":      dataJSON(s.Data()),
			})
		}
		a.answerJSON(map[string]any{"requestId": r.requestID, "sockets": sockets})
	})
}

// broadcastWithAck sends the broadcast to the clients here and answers
// with their number (JSON), then with each client's ack (msgpack). A
// client may ack before the library tells the number (here, unlike in
// Node, acks come on other goroutines): its ack waits, so that the
// answers go in Node's order.
func (a *adapter) broadcastWithAck(r *request) {
	var mu sync.Mutex
	counted := false
	var early [][]byte
	a.Adapter.BroadcastWithAck(r.packet, r.opts, func(n uint64) {
		mu.Lock()
		defer mu.Unlock()
		a.answerJSON(map[string]any{"type": respBroadcastClients, "requestId": r.requestID, "clientCount": n})
		counted = true
		for _, body := range early {
			a.answer(body)
		}
		early = nil
	}, func(args []any, err error) {
		if err != nil {
			return // no ack came
		}
		answer := map[string]any{"type": respBroadcastAck, "requestId": r.requestID}
		if len(args) > 0 {
			// Only the first argument, as Node; none is undefined there,
			// which msgpack leaves out of a map.
			answer["packet"] = wire.ToWire(args[0])
		}
		body, err := msgpack.Marshal(answer)
		if err != nil {
			a.c.Log.Warn("cannot encode an ack for another node", "err", err)
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if !counted {
			early = append(early, body)
			return
		}
		a.answer(body)
	})
}

func (a *adapter) answerJSON(v map[string]any) {
	body, err := json.Marshal(v)
	if err != nil {
		a.c.Log.Warn("cannot encode an answer for another node", "err", err)
		return
	}
	a.answer(body)
}

// answer publishes an answer, in order after those before it.
func (a *adapter) answer(body []byte) {
	select {
	case a.c.out <- outMsg{a.answers, body}:
	default:
		a.c.Dropped.Inc()
	}
}

// handshakeJSON is a socket's handshake as a Node server has it: header
// names in lower case, a header or query parameter given once as a
// string, the address without its port. (The time stays RFC 3339, which
// Date parses, where Node has Date's toString.)
func handshakeJSON(s socket.SocketDetails) map[string]any {
	h := s.Handshake()
	if h == nil {
		return map[string]any{}
	}
	headers := map[string]any{}
	for k, v := range h.Headers {
		name := strings.ToLower(k)
		switch l := v.(type) {
		case []string:
			switch {
			case name == "set-cookie":
				headers[name] = l
			case name == "cookie":
				headers[name] = strings.Join(l, "; ")
			default:
				headers[name] = strings.Join(l, ", ")
			}
		default:
			headers[name] = v
		}
	}
	if sock, ok := s.(*socket.Socket); ok && sock.Request() != nil {
		if r := sock.Request().Request(); r != nil && r.Host != "" {
			headers["host"] = r.Host // Go keeps it out of the header
		}
	}
	query := map[string]any{}
	for k, v := range h.Query {
		if l, ok := v.([]string); ok && len(l) == 1 {
			query[k] = l[0]
		} else {
			query[k] = v
		}
	}
	auth := map[string]any{}
	for k, v := range h.Auth {
		auth[k] = toJSON(v)
	}
	addr := h.Address
	if host, _, err := net.SplitHostPort(addr); err == nil {
		addr = host
	}
	return map[string]any{
		"headers": headers, "time": h.Time, "address": addr, "xdomain": h.Xdomain,
		"secure": h.Secure, "issued": h.Issued, "url": h.Url, "query": query, "auth": auth,
	}
}

// dataJSON is a socket's data as JSON takes it: {} when none, as a Node
// socket starts with.
func dataJSON(v any) any {
	if v == nil {
		return map[string]any{}
	}
	v = toJSON(v)
	if _, err := json.Marshal(v); err != nil {
		return map[string]any{}
	}
	return v
}

// toJSON turns binary into what JSON.stringify makes of a Buffer.
func toJSON(v any) any {
	switch t := wire.ToWire(v).(type) {
	case []byte:
		data := make([]int, len(t))
		for i, b := range t {
			data[i] = int(b)
		}
		return map[string]any{"type": "Buffer", "data": data}
	case []any:
		for i, e := range t {
			t[i] = toJSON(e)
		}
		return t
	case map[string]any:
		for k, e := range t {
			t[k] = toJSON(e)
		}
		return t
	default:
		return t
	}
}

// decodeRequest reads a request: JSON when it starts with "{", else
// msgpack, as Node's adapter tells them apart.
func decodeRequest(body []byte) (*request, error) {
	if len(body) > wire.MaxMessage {
		return nil, fmt.Errorf("%w: %d bytes, more than %d", errMalformed, len(body), wire.MaxMessage)
	}
	var v any
	if len(body) > 0 && body[0] == '{' {
		if err := wire.JSONDepthOK(body); err != nil {
			return nil, err
		}
		if err := json.Unmarshal(body, &v); err != nil {
			return nil, fmt.Errorf("%w: %v", errMalformed, err)
		}
	} else {
		var err error
		if v, err = wire.DecodeMsgpack(body); err != nil {
			return nil, err
		}
	}
	raw, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%w: request is %T", errMalformed, v)
	}
	return readRequest(raw)
}

// readRequest reads the fields of a request its type needs.
func readRequest(raw map[string]any) (*request, error) {
	r := &request{}
	typ, ok := wire.Number(raw["type"])
	if !ok || typ < 0 || typ > lastRequestType || typ != float64(int(typ)) {
		return nil, fmt.Errorf("%w: request type %v", errMalformed, raw["type"])
	}
	r.typ = int(typ)
	var err error
	if r.uid, err = optString(raw, "uid"); err != nil {
		return nil, err
	}
	if r.requestID, err = optString(raw, "requestId"); err != nil {
		return nil, err
	}
	switch r.typ {
	case reqSockets, reqAllRooms, reqRemoteFetch, reqBroadcast:
		if r.requestID == "" {
			return nil, fmt.Errorf("%w: type %d without a requestId", errMalformed, r.typ)
		}
	}
	switch r.typ {
	case reqSockets:
		r.rooms, err = wire.RoomList(raw["rooms"])
	case reqRemoteJoin, reqRemoteLeave, reqRemoteDisconnect:
		err = r.readSocketsOp(raw)
	case reqRemoteFetch:
		r.opts, err = readOpts(raw["opts"])
	case reqServerSideEmit:
		if _, ok := raw["data"].([]any); !ok {
			err = fmt.Errorf("%w: serverSideEmit data is %T", errMalformed, raw["data"])
		}
	case reqBroadcast:
		if r.packet, err = readPacket(raw["packet"]); err == nil {
			r.opts, err = readOpts(raw["opts"])
		}
	}
	if err != nil {
		return nil, err
	}
	return r, nil
}

// readSocketsOp reads a join, leave or disconnect: of the sockets opts
// selects (rooms to join or leave), or of the socket sid (one room).
func (r *request) readSocketsOp(raw map[string]any) error {
	var err error
	if c, present := raw["close"]; present && c != nil {
		if r.close, present = c.(bool); !present {
			return fmt.Errorf("%w: close is %T", errMalformed, c)
		}
	}
	if o, present := raw["opts"]; present && o != nil {
		if r.opts, err = readOpts(o); err != nil {
			return err
		}
		if r.typ != reqRemoteDisconnect {
			if raw["rooms"] == nil {
				return fmt.Errorf("%w: no rooms to join or leave", errMalformed)
			}
			r.rooms, err = wire.RoomList(raw["rooms"])
		}
		return err
	}
	sid, ok := raw["sid"].(string)
	if !ok {
		return fmt.Errorf("%w: neither opts nor sid", errMalformed)
	}
	r.sid = socket.SocketId(sid)
	if r.typ != reqRemoteDisconnect {
		rooms, err := wire.RoomList([]any{raw["room"]})
		if err != nil {
			return err
		}
		r.room = rooms[0]
	}
	return nil
}

// readOpts reads {rooms, except}; the flags are not used, as in Node.
func readOpts(v any) (*socket.BroadcastOptions, error) {
	opts, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%w: opts are %T", errMalformed, v)
	}
	rooms, err := wire.RoomList(opts["rooms"])
	if err != nil {
		return nil, err
	}
	except, err := wire.RoomList(opts["except"])
	if err != nil {
		return nil, err
	}
	return &socket.BroadcastOptions{Rooms: types.NewSet(rooms...), Except: types.NewSet(except...),
		Flags: &socket.BroadcastFlags{}}, nil
}

// readPacket reads the event of a broadcast with acks, {type, data, nsp}.
func readPacket(v any) (*parser.Packet, error) {
	pkt, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%w: packet is %T", errMalformed, v)
	}
	typ, ok := wire.Number(pkt["type"])
	if !ok || (typ != float64(parser.EVENT) && typ != float64(parser.BINARY_EVENT)) {
		return nil, fmt.Errorf("%w: packet type %v", errMalformed, pkt["type"])
	}
	data, ok := pkt["data"].([]any)
	if !ok || len(data) == 0 {
		return nil, fmt.Errorf("%w: data is %T", errMalformed, pkt["data"])
	}
	if _, ok := data[0].(string); !ok {
		return nil, fmt.Errorf("%w: event name is %T", errMalformed, data[0])
	}
	// The namespace is the channel's; the encoder finds binary again.
	return &parser.Packet{Type: parser.EVENT, Data: wire.FromWire(data)}, nil
}

// optString reads a field that is a string or absent ("" then).
func optString(raw map[string]any, key string) (string, error) {
	v, present := raw[key]
	if !present || v == nil {
		return "", nil
	}
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("%w: %s is %T", errMalformed, key, v)
	}
	return s, nil
}
