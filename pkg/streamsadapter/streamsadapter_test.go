package streamsadapter

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	"github.com/vmihailenco/msgpack/v5"
	"github.com/zishang520/socket.io/parsers/socket/v3/parser"
	"github.com/zishang520/socket.io/servers/socket/v3"
	"github.com/zishang520/socket.io/v3/pkg/types"
)

// A broadcast's entry is what Node's adapter writes: JSON data, or the
// base64 of msgpack when the packet holds binary; and it decodes back.
func TestEntryRoundTrip(t *testing.T) {
	opts := &socket.BroadcastOptions{Rooms: types.NewSet[socket.Room]("r1"), Except: types.NewSet[socket.Room](),
		Flags: &socket.BroadcastFlags{}}
	for _, c := range []struct {
		data   []any
		binary bool
	}{
		{[]any{"ev", map[string]any{"a": 1.5}, "x"}, false},
		{[]any{"bin", types.NewBytesBuffer([]byte{1, 2, 3})}, true},
	} {
		v, err := encodeEntry("u1", "/chat", &parser.Packet{Type: parser.EVENT, Data: c.data}, opts)
		if err != nil {
			t.Fatal(err)
		}
		if v["uid"] != "u1" || v["nsp"] != "/chat" || v["type"] != "3" {
			t.Fatalf("entry fields %v", v)
		}
		d := v["data"].(string)
		if c.binary == strings.HasPrefix(d, "{") {
			t.Errorf("binary %v: data %.40q", c.binary, d)
		}
		if !c.binary {
			var body map[string]any
			if err := json.Unmarshal([]byte(d), &body); err != nil || body["packet"].(map[string]any)["type"] != 2.0 {
				t.Errorf("data %s (%v)", d, err)
			}
		}
		m, err := decodeEntry(v)
		if err != nil {
			t.Fatal(err)
		}
		p, o, err := m.broadcast()
		if err != nil {
			t.Fatal(err)
		}
		if p.Nsp != "/chat" || len(p.Data.([]any)) != len(c.data) || !o.Rooms.Has("r1") {
			t.Errorf("decoded %+v %+v", p, o)
		}
		if c.binary {
			if b, ok := p.Data.([]any)[1].(*types.BytesBuffer); !ok || string(b.Bytes()) != "\x01\x02\x03" {
				t.Errorf("binary argument %#v", p.Data.([]any)[1])
			}
		}
	}
}

// Entries and messages that are not what the protocol says are refused.
func TestMalformed(t *testing.T) {
	deep := strings.Repeat("[", 1000) + strings.Repeat("]", 1000)
	for name, v := range map[string]map[string]any{
		"no uid":          {"nsp": "/", "type": "3", "data": `{"packet":{"type":2,"data":["a"]},"opts":{}}`},
		"type not number": {"uid": "u", "nsp": "/", "type": "x", "data": "{}"},
		"bad JSON":        {"uid": "u", "nsp": "/", "type": "3", "data": `{"packet":`},
		"bad base64":      {"uid": "u", "nsp": "/", "type": "3", "data": "!!!"},
		"deep JSON":       {"uid": "u", "nsp": "/", "type": "3", "data": `{"packet":` + deep + `}`},
		"data not a map":  {"uid": "u", "nsp": "/", "type": "3", "data": base64.StdEncoding.EncodeToString([]byte{0x91, 0x01})},
		"huge msgpack":    {"uid": "u", "nsp": "/", "type": "3", "data": base64.StdEncoding.EncodeToString([]byte{0xdd, 0x7f, 0xff, 0xff, 0xff})},
	} {
		if _, err := decodeEntry(v); err == nil {
			t.Errorf("%s: decoded", name)
		}
	}
	for name, data := range map[string]string{
		"packet type 0":  `{"packet":{"type":0,"data":["a"]},"opts":{}}`,
		"no event name":  `{"packet":{"type":2,"data":[1]},"opts":{}}`,
		"empty data":     `{"packet":{"type":2,"data":[]},"opts":{}}`,
		"rooms a string": `{"packet":{"type":2,"data":["a"]},"opts":{"rooms":"r"}}`,
	} {
		m, err := decodeEntry(map[string]any{"uid": "u", "nsp": "/", "type": "3", "data": data})
		if err != nil {
			continue
		}
		if _, _, err := m.broadcast(); err == nil {
			t.Errorf("%s: taken as a broadcast", name)
		}
	}
}

func FuzzDecodeEntry(f *testing.F) {
	f.Add(`{"packet":{"type":2,"data":["a",1],"nsp":"/"},"opts":{"rooms":["r"],"except":[],"flags":{}}}`)
	b, _ := msgpack.Marshal(map[string]any{"packet": map[string]any{"type": 2, "data": []any{"b", []byte{1}}}, "opts": map[string]any{}})
	f.Add(base64.StdEncoding.EncodeToString(b))
	f.Fuzz(func(t *testing.T, data string) {
		m, err := decodeEntry(map[string]any{"uid": "u", "nsp": "/", "type": "3", "data": data})
		if err == nil {
			_, _, _ = m.broadcast()
		}
	})
}

func FuzzDecodeRequest(f *testing.F) {
	b, _ := msgpack.Marshal(map[string]any{"uid": "u", "nsp": "/", "type": 7, "data": map[string]any{"requestId": "r", "opts": map[string]any{"rooms": []any{}}}})
	f.Add(b)
	f.Fuzz(func(t *testing.T, body []byte) {
		m, err := decodeRequest(body)
		if err == nil {
			_, _, _ = m.socketsOp()
			_, _, _ = m.broadcast()
		}
	})
}

// The queue keeps entries in order up to its bound in bytes.
func TestOutQueue(t *testing.T) {
	var q outQueue
	q.init(1000)
	n := 0
	for q.push(map[string]any{"data": strings.Repeat("x", 100), "i": string(rune('a' + n))}) {
		n++
	}
	if n != 5 { // 64 + 4 + 100 + 1 + 1 bytes each
		t.Errorf("%d entries of 170 bytes fit in 1,000", n)
	}
	b := q.peek(3)
	if len(b) != 3 || b[0].values["i"] != "a" || b[2].values["i"] != "c" {
		t.Fatalf("peek %v", b)
	}
	q.drop(3, []string{"1-0", "2-0", "3-0"})
	if b := q.peek(10); len(b) != 2 || b[0].values["i"] != "d" {
		t.Fatalf("after drop: %v", b)
	}
	if !q.push(map[string]any{"i": "f"}) {
		t.Error("no room after drop")
	}
	q.close()
	if q.peek(1) != nil || q.push(map[string]any{}) {
		t.Error("a closed queue still works")
	}
}
