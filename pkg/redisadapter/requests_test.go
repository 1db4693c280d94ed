package redisadapter

import (
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/sio-tools/sio/pkg/conn"
	"github.com/vmihailenco/msgpack/v5"
	"github.com/zishang520/socket.io/parsers/socket/v3/parser"
)

// nodeSide plays a Node server of namespace nsp with
// @socket.io/redis-adapter: it publishes requests as that adapter does and
// reads the answers on the namespace's response channel.
type nodeSide struct {
	t       *testing.T
	rdb     *redis.Client
	nsp     string
	answers <-chan *redis.Message
}

func newNodeSide(t *testing.T, u, nsp string) *nodeSide {
	t.Helper()
	opts, err := redis.ParseURL(u)
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opts)
	t.Cleanup(func() { _ = rdb.Close() })
	ps := rdb.Subscribe(context.Background(), "socket.io-response#"+nsp+"#")
	if _, err := ps.Receive(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ps.Close() })
	return &nodeSide{t: t, rdb: rdb, nsp: nsp, answers: ps.Channel()}
}

// request publishes a request: JSON, or msgpack as Node sends a broadcast
// with acks.
func (n *nodeSide) request(v map[string]any, asMsgpack bool) {
	n.t.Helper()
	v["uid"] = "nodeid"
	var body []byte
	var err error
	if asMsgpack {
		body, err = msgpack.Marshal(v)
	} else {
		body, err = json.Marshal(v)
	}
	if err != nil {
		n.t.Fatal(err)
	}
	n.publish(body)
}

func (n *nodeSide) publish(body []byte) {
	n.t.Helper()
	if err := n.rdb.Publish(context.Background(), "socket.io-request#"+n.nsp+"#", body).Err(); err != nil {
		n.t.Fatal(err)
	}
}

// answer returns the next answer, decoded as Node decodes it (JSON when
// it starts with "{"), and whether it was JSON.
func (n *nodeSide) answer() (map[string]any, bool) {
	n.t.Helper()
	select {
	case m := <-n.answers:
		var v map[string]any
		isJSON := m.Payload[0] == '{'
		var err error
		if isJSON {
			err = json.Unmarshal([]byte(m.Payload), &v)
		} else {
			err = msgpack.Unmarshal([]byte(m.Payload), &v)
		}
		if err != nil {
			n.t.Fatalf("answer %q: %v", m.Payload, err)
		}
		return v, isJSON
	case <-time.After(10 * time.Second):
		n.t.Fatal("no answer within 10 s")
		return nil, false
	}
}

// servers is Node's serverCount: PUBSUB NUMSUB of the request channel.
func (n *nodeSide) servers() int64 {
	n.t.Helper()
	ch := "socket.io-request#" + n.nsp + "#"
	m, err := n.rdb.PubSubNumSub(context.Background(), ch).Result()
	if err != nil {
		n.t.Fatal(err)
	}
	return m[ch]
}

// waitServers waits until serverCount is want.
func (n *nodeSide) waitServers(want int64) {
	n.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for n.servers() != want {
		if time.Now().After(deadline) {
			n.t.Fatalf("serverCount of %s is %d, want %d", n.nsp, n.servers(), want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitServersSteady waits until serverCount is want and stays so for
// half a second.
func (n *nodeSide) waitServersSteady(want int64) {
	n.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	var since time.Time // since when the count is want
	for {
		got := n.servers()
		switch {
		case got != want:
			since = time.Time{}
		case since.IsZero():
			since = time.Now()
		case time.Since(since) >= 500*time.Millisecond:
			return
		}
		if time.Now().After(deadline) {
			n.t.Fatalf("serverCount of %s is %d, want %d for good", n.nsp, got, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// fetch asks for the sockets of room (all with "") and returns them by
// id.
func (n *nodeSide) fetch(id, room string) map[string]map[string]any {
	n.t.Helper()
	rooms := []string{}
	if room != "" {
		rooms = append(rooms, room)
	}
	n.request(map[string]any{"requestId": id, "type": 5, "opts": map[string]any{"rooms": rooms, "except": []string{}}}, false)
	a, isJSON := n.answer()
	if !isJSON || a["requestId"] != id {
		n.t.Fatalf("fetchSockets answered %v (JSON %v)", a, isJSON)
	}
	out := map[string]map[string]any{}
	for _, s := range a["sockets"].([]any) {
		s := s.(map[string]any)
		out[s["id"].(string)] = s
	}
	return out
}

func roomsOf(s map[string]any) []string {
	var l []string
	for _, r := range s["rooms"].([]any) {
		l = append(l, r.(string))
	}
	sort.Strings(l)
	return l
}

// Each namespace of each server subscribes to its request channel, so
// that Node's serverCount counts it.
func TestServerCountCountsEachServer(t *testing.T) {
	u := startRedis(t)
	a := startRelay(t, openCluster(t, u))
	startRelay(t, openCluster(t, u))
	newNodeSide(t, u, "/").waitServers(2)
	x := newNodeSide(t, u, "/x#y")
	if got := x.servers(); got != 0 {
		t.Errorf("serverCount of /x#y is %d before any client, want 0", got)
	}
	cl := dial(t, a, "/x#y")
	x.waitServers(1)
	// sio-serve frees a namespace when its last client goes: it is no
	// longer a server of it, until a client comes again.
	cl.Close()
	x.waitServers(0)
	for range 20 {
		dial(t, a, "/x#y").Close()
	}
	// A client that joins while the namespace is being freed is closed
	// by the relay (it joined an orphan) and connects again, as clients
	// do: this one must too. The count may be 1 for a moment before that
	// (the freed namespace's subscription, not yet dropped), then 0 until
	// the client is back: what must hold is 1 for good.
	last, err := conn.Dial(context.Background(), conn.Options{URL: &url.URL{Scheme: "http", Host: a, Path: "/x#y"}, Reconnect: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(last.Close)
	x.waitServersSteady(1)
}

// The requests of a Node server are answered as Node's adapter answers
// them, in JSON, the acks of a broadcast with acks in msgpack.
func TestRequestsAnswered(t *testing.T) {
	u := startRedis(t)
	c := openCluster(t, u)
	host := startRelay(t, c)
	node := newNodeSide(t, u, "/")
	node.waitServers(1)
	inR1 := dial(t, host, "/", "r1")
	other := dial(t, host, "/")
	dial(t, host, "/q") // another namespace: none of its sockets counts

	// fetchSockets: id, handshake, rooms, data.
	all := node.fetch("f1", "")
	if len(all) != 2 {
		t.Fatalf("fetchSockets answered %d sockets, want 2: %v", len(all), all)
	}
	r1 := node.fetch("f2", "r1")
	if len(r1) != 1 {
		t.Fatalf("fetchSockets of r1 answered %d sockets, want 1: %v", len(r1), r1)
	}
	var r1ID, otherID string
	for id := range all {
		if _, ok := r1[id]; ok {
			r1ID = id
		} else {
			otherID = id
		}
	}
	s := r1[r1ID]
	if got := roomsOf(s); !slices.Equal(got, []string{"r1", r1ID}) && !slices.Equal(got, []string{r1ID, "r1"}) {
		t.Errorf("rooms %v, want r1 and its id", got)
	}
	h, _ := s["handshake"].(map[string]any)
	auth, _ := h["auth"].(map[string]any)
	query, _ := h["query"].(map[string]any)
	headers, _ := h["headers"].(map[string]any)
	if auth["room"] != "r1" || query["EIO"] != "4" || headers["host"] != host || h["url"] == "" || h["address"] != "127.0.0.1" {
		t.Errorf("handshake %v: want auth.room r1, query.EIO \"4\" (a string), headers.host %s, address 127.0.0.1", h, host)
	}
	for k := range headers {
		if k != strings.ToLower(k) {
			t.Errorf("header name %q is not in lower case", k)
		}
	}
	if d, ok := s["data"].(map[string]any); !ok || len(d) != 0 {
		t.Errorf("data %#v, want {} as a Node socket starts with", s["data"])
	}

	// allRooms and the old sockets request.
	node.request(map[string]any{"requestId": "a1", "type": 1}, false)
	if a, _ := node.answer(); a["requestId"] != "a1" || !slices.Contains(a["rooms"].([]any), any("r1")) {
		t.Errorf("allRooms answered %v", a)
	}
	node.request(map[string]any{"requestId": "s1", "type": 0, "rooms": []string{"r1"}}, false)
	if a, _ := node.answer(); a["requestId"] != "s1" || len(a["sockets"].([]any)) != 1 || a["sockets"].([]any)[0] != r1ID {
		t.Errorf("sockets answered %v, want [%s]", a, r1ID)
	}

	// serverSideEmit: with an ack, null; without, nothing (the next
	// answer is the next request's).
	node.request(map[string]any{"type": 6, "data": []any{"hello", 1}}, false)
	node.request(map[string]any{"requestId": "e1", "type": 6, "data": []any{"hello", 1}}, false)
	if a, isJSON := node.answer(); !isJSON || a["requestId"] != "e1" || a["type"] != 6.0 || a["data"] != nil {
		t.Errorf("serverSideEmit answered %v", a)
	} else if _, present := a["data"]; !present {
		t.Error("serverSideEmit's answer has no data, want null")
	}

	// socketsJoin and socketsLeave (not answered); a broadcast to r9
	// then reaches r1's member only.
	node.request(map[string]any{"type": 2, "opts": map[string]any{"rooms": []string{"r1"}, "except": []string{}}, "rooms": []string{"r9"}}, false)
	if got := roomsOf(node.fetch("f3", "r9")[r1ID]); !slices.Contains(got, "r9") {
		t.Fatalf("after socketsJoin, r1's member is in %v, want r9 too", got)
	}
	body, err := encode("nodeid", parser.EVENT, "/", []any{"ev", "to r9"}, []string{"r9"}, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	c.rdb.Publish(context.Background(), "socket.io#/#r9#", body)
	node.request(map[string]any{"type": 3, "opts": map[string]any{"rooms": []string{}, "except": []string{}}, "rooms": []string{"r9"}}, false)
	if got := node.fetch("f4", "r9"); len(got) != 0 {
		t.Errorf("after socketsLeave, r9 has %v", got)
	}
	body, _ = encode("nodeid", parser.EVENT, "/", []any{"ev", "end"}, nil, nil, false)
	c.rdb.Publish(context.Background(), "socket.io#/#", body)
	if got := inR1.until("end"); !slices.Equal(got, []string{"to r9", "end"}) {
		t.Errorf("r1's member received %q", got)
	}
	if got := other.until("end"); !slices.Equal(got, []string{"end"}) {
		t.Errorf("the other socket received %q", got)
	}

	// One socket's join, answered.
	node.request(map[string]any{"requestId": "j1", "type": 2, "sid": otherID, "room": "r7"}, false)
	if a, _ := node.answer(); a["requestId"] != "j1" || len(a) != 1 {
		t.Errorf("a socket's join answered %v", a)
	}
	node.request(map[string]any{"requestId": "j2", "type": 2, "sid": "not here", "room": "r7"}, false)
	if got := node.fetch("f5", "r7"); len(got) != 1 || got[otherID] == nil {
		t.Errorf("r7 has %v, want %s", got, otherID)
	}

	// A broadcast with acks: the number of clients (JSON), then each ack
	// (msgpack; the clients acknowledge with no argument, undefined in
	// Node, left out).
	node.request(map[string]any{"requestId": "b1", "type": 7,
		"packet": map[string]any{"type": 2, "data": []any{"ev", "ack me", []byte{1, 2}}, "nsp": "/"},
		"opts":   map[string]any{"rooms": []string{}, "except": []string{}, "flags": map[string]any{"timeout": 5000}}}, true)
	if a, isJSON := node.answer(); !isJSON || a["type"] != 8.0 || a["requestId"] != "b1" || a["clientCount"] != 2.0 {
		t.Errorf("broadcast with acks answered %v first, want a count of 2 in JSON", a)
	}
	for range 2 {
		a, isJSON := node.answer()
		if _, present := a["packet"]; isJSON || a["requestId"] != "b1" || present || toInt(a["type"]) != 9 {
			t.Errorf("an ack came as %v (JSON %v)", a, isJSON)
		}
	}
	if got := other.until("ack me"); got[len(got)-1] != "ack me" {
		t.Errorf("the other socket received %q", got)
	}

	// disconnectSockets of r1, not answered.
	node.request(map[string]any{"type": 4, "opts": map[string]any{"rooms": []string{"r1"}, "except": []string{}}, "close": false}, false)
	select {
	case <-inR1.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("r1's member is still connected after disconnectSockets")
	}
	if got := node.fetch("f6", ""); len(got) != 1 || got[otherID] == nil {
		t.Errorf("after disconnectSockets of r1 there are %v, want %s only", got, otherID)
	}
	if n := c.Malformed.Get(); n != 0 {
		t.Errorf("%d malformed", n)
	}
	if n := c.requests.Get(); n != 16 {
		t.Errorf("sio_redis_requests_total is %d, want 16", n)
	}
}

func toInt(v any) int {
	switch n := v.(type) {
	case int8:
		return int(n)
	case uint8:
		return int(n)
	case int64:
		return int(n)
	case float64:
		return int(n)
	}
	return -1
}

// Malformed requests are counted and skipped; the next is answered.
func TestMalformedRequestsSkipped(t *testing.T) {
	u := startRedis(t)
	c := openCluster(t, u)
	startRelay(t, c)
	node := newNodeSide(t, u, "/")
	node.waitServers(1)
	bad := [][]byte{
		[]byte("{not json"),
		{0xc1},
		[]byte(`{"type":"5","requestId":"x","opts":{}}`),
		[]byte(`{"type":5,"requestId":"x"}`),
		{0xdd, 'n', 0xaf, 0x8d, 0x9d, 0x0f, '\b', ';', '6'},
	}
	for _, b := range bad {
		node.publish(b)
	}
	node.fetch("ok", "")
	if n := c.Malformed.Get(); n != uint64(len(bad)) {
		t.Errorf("%d malformed, want %d", n, len(bad))
	}
}

// What Node's adapter 8.3.0 sends, as it writes it.
func TestDecodeRequestNodeShapes(t *testing.T) {
	for _, c := range []struct {
		body string
		typ  int
	}{
		{`{"uid":"Ab3_x-","requestId":"k2Lq9z","type":5,"opts":{"rooms":["r1"],"except":[]}}`, reqRemoteFetch},
		{`{"uid":"Ab3_x-","requestId":"k2Lq9z","type":1}`, reqAllRooms},
		{`{"uid":"Ab3_x-","type":2,"opts":{"rooms":[],"except":["r2"]},"rooms":["r9"]}`, reqRemoteJoin},
		{`{"uid":"Ab3_x-","type":3,"opts":{"rooms":[],"except":[]},"rooms":["r9",5]}`, reqRemoteLeave},
		{`{"uid":"Ab3_x-","type":4,"opts":{"rooms":["r1"],"except":[]},"close":true}`, reqRemoteDisconnect},
		{`{"uid":"Ab3_x-","type":4,"opts":{"rooms":[],"except":[]}}`, reqRemoteDisconnect},
		{`{"uid":"Ab3_x-","type":6,"data":["hello",{"a":1}]}`, reqServerSideEmit},
		{`{"uid":"Ab3_x-","requestId":"k2Lq9z","type":6,"data":["hello"]}`, reqServerSideEmit},
		{`{"requestId":"k2Lq9z","type":2,"sid":"abc","room":"r1"}`, reqRemoteJoin},
		{`{"requestId":"k2Lq9z","type":0,"rooms":[]}`, reqSockets},
	} {
		r, err := decodeRequest([]byte(c.body))
		if err != nil || r.typ != c.typ {
			t.Errorf("%s: %+v, %v", c.body, r, err)
		}
	}
	// A broadcast with acks, msgpack: integers as ints, binary as bin.
	body, _ := msgpack.Marshal(map[string]any{"uid": "Ab3_x-", "requestId": "k2Lq9z", "type": int8(7),
		"packet": map[string]any{"type": int8(2), "data": []any{"ev", int64(7), []byte{1}}, "nsp": "/"},
		"opts":   map[string]any{"rooms": []any{}, "except": []any{}, "flags": map[string]any{"timeout": int16(5000)}}})
	r, err := decodeRequest(body)
	if err != nil || r.typ != reqBroadcast || r.requestID != "k2Lq9z" || r.packet == nil || r.opts == nil {
		t.Fatalf("%+v, %v", r, err)
	}
	if d := r.packet.Data.([]any); d[1] != 7.0 {
		t.Errorf("integer arrived as %#v", d[1])
	}
}

func TestDecodeRequestRefusesMalformed(t *testing.T) {
	mp := func(v any) []byte { b, _ := msgpack.Marshal(v); return b }
	for name, body := range map[string][]byte{
		"empty":                 nil,
		"not json":              []byte("{x"),
		"json then more":        []byte(`{"type":1,"requestId":"a"} {}`),
		"json array":            []byte(`[1]`),
		"not a map":             mp([]any{1}),
		"no type":               []byte(`{"requestId":"a"}`),
		"type as string":        []byte(`{"type":"1","requestId":"a"}`),
		"type 8":                []byte(`{"type":8,"requestId":"a"}`),
		"type 1.5":              []byte(`{"type":1.5,"requestId":"a"}`),
		"type -1":               []byte(`{"type":-1,"requestId":"a"}`),
		"uid a number":          []byte(`{"type":1,"requestId":"a","uid":3}`),
		"requestId a number":    []byte(`{"type":1,"requestId":3}`),
		"fetch without id":      []byte(`{"type":5,"opts":{}}`),
		"fetch without opts":    []byte(`{"type":5,"requestId":"a"}`),
		"opts a list":           []byte(`{"type":5,"requestId":"a","opts":[]}`),
		"rooms a string":        []byte(`{"type":5,"requestId":"a","opts":{"rooms":"r1"}}`),
		"room a map":            []byte(`{"type":5,"requestId":"a","opts":{"rooms":[{}]}}`),
		"join without rooms":    []byte(`{"type":2,"opts":{}}`),
		"join without anything": []byte(`{"type":2}`),
		"sid without room":      []byte(`{"type":3,"sid":"x"}`),
		"close a string":        []byte(`{"type":4,"opts":{},"close":"yes"}`),
		"emit data a map":       []byte(`{"type":6,"data":{}}`),
		"broadcast no packet":   mp(map[string]any{"type": 7, "requestId": "a", "opts": map[string]any{}}),
		"broadcast no opts":     mp(map[string]any{"type": 7, "requestId": "a", "packet": map[string]any{"type": 2, "data": []any{"e"}}}),
		"broadcast connect":     mp(map[string]any{"type": 7, "requestId": "a", "opts": map[string]any{}, "packet": map[string]any{"type": 0, "data": []any{"e"}}}),
		"broadcast no name":     mp(map[string]any{"type": 7, "requestId": "a", "opts": map[string]any{}, "packet": map[string]any{"type": 2, "data": []any{1}}}),
		"map key a map":         {0x82, 0xa4, 't', 'y', 'p', 'e', 0x01, 0x80, 0x01},
		"too deep":              []byte(`{"type":6,"data":[` + deepJSON(300) + `]}`),
	} {
		if r, err := decodeRequest(body); err == nil {
			t.Errorf("%s: decoded %+v", name, r)
		} else if !errors.Is(err, errMalformed) {
			t.Errorf("%s: %v does not say malformed", name, err)
		}
	}
}

func deepJSON(n int) string {
	b := make([]byte, 0, 2*n)
	for range n {
		b = append(b, '[')
	}
	for range n {
		b = append(b, ']')
	}
	return string(b)
}

// The broadcast decoder refuses a map used as a map key too: the msgpack
// library panicked on one after a string key.
func TestDecodeRefusesMapKey(t *testing.T) {
	body := []byte{0x93, 0xa1, 'u', 0x82, 0xa1, 'a', 0x01, 0x80, 0x01, 0x80}
	if _, err := decode(body); !errors.Is(err, errMalformed) {
		t.Errorf("decoded, or %v", err)
	}
}

func FuzzDecodeRequest(f *testing.F) {
	for _, s := range []string{
		`{"uid":"u","requestId":"r","type":5,"opts":{"rooms":["r1"],"except":[]}}`,
		`{"uid":"u","type":2,"opts":{"rooms":[],"except":[]},"rooms":["r9"]}`,
		`{"uid":"u","type":4,"opts":{"rooms":[],"except":[]},"close":true}`,
		`{"uid":"u","requestId":"r","type":6,"data":["hello"]}`,
		`{"requestId":"r","type":3,"sid":"s","room":"r1"}`,
		`{"requestId":"r","type":0,"rooms":["a",1]}`,
	} {
		f.Add([]byte(s))
	}
	b, _ := msgpack.Marshal(map[string]any{"uid": "u", "requestId": "r", "type": 7,
		"packet": map[string]any{"type": 2, "data": []any{"ev", 1, []byte{1}}, "nsp": "/"},
		"opts":   map[string]any{"rooms": []any{"r"}, "except": []any{}, "flags": map[string]any{}}})
	f.Add(b)
	f.Fuzz(func(t *testing.T, body []byte) {
		r, err := decodeRequest(body) // must not panic
		if err != nil {
			if !errors.Is(err, errMalformed) {
				t.Fatalf("error %v does not say malformed", err)
			}
			return
		}
		switch r.typ {
		case reqSockets, reqAllRooms, reqRemoteFetch, reqBroadcast:
			if r.requestID == "" {
				t.Fatalf("type %d without a requestId: %+v", r.typ, r)
			}
		}
		switch r.typ {
		case reqRemoteFetch, reqBroadcast:
			if r.opts == nil {
				t.Fatalf("type %d without opts: %+v", r.typ, r)
			}
		case reqRemoteJoin, reqRemoteLeave:
			if r.opts != nil && r.rooms == nil {
				t.Fatalf("type %d without rooms: %+v", r.typ, r)
			}
		}
		if r.typ == reqBroadcast {
			if d, ok := r.packet.Data.([]any); !ok || len(d) == 0 {
				t.Fatalf("broadcast without data: %+v", r.packet)
			}
		}
	})
}
