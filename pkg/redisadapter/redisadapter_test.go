package redisadapter

import (
	"bytes"
	"errors"
	"reflect"
	"testing"

	"github.com/vmihailenco/msgpack/v5"
	"github.com/zishang520/socket.io/parsers/socket/v3/parser"
	"github.com/zishang520/socket.io/servers/socket/v3"
	"github.com/zishang520/socket.io/v3/pkg/types"
)

func TestRoundTrip(t *testing.T) {
	data := []any{"ev", "text", 42.5, nil, true, []any{1.0, "x"},
		types.NewBytesBuffer([]byte{0, 1, 255}), map[string]any{"nested": types.NewBytesBuffer([]byte{7})}}
	body, err := encode("uid1", parser.EVENT, "/chat", data, []string{"r1"}, []string{"sid9"}, false)
	if err != nil {
		t.Fatal(err)
	}
	m, err := decode(body)
	if err != nil {
		t.Fatal(err)
	}
	if m.uid != "uid1" || m.nsp != "/chat" || m.typ != parser.EVENT || m.volatile {
		t.Errorf("header %+v", m)
	}
	if !reflect.DeepEqual(m.rooms, []socket.Room{"r1"}) || !reflect.DeepEqual(m.except, []socket.Room{"sid9"}) {
		t.Errorf("rooms %v except %v", m.rooms, m.except)
	}
	got := m.data.([]any)
	if b, ok := got[6].(*types.BytesBuffer); !ok || !bytes.Equal(b.Bytes(), []byte{0, 1, 255}) {
		t.Errorf("binary argument arrived as %#v", got[6])
	}
	if b, ok := got[7].(map[string]any)["nested"].(*types.BytesBuffer); !ok || !bytes.Equal(b.Bytes(), []byte{7}) {
		t.Errorf("nested binary arrived as %#v", got[7])
	}
	if got[2] != 42.5 || got[5].([]any)[0] != 1.0 {
		t.Errorf("numbers arrived as %#v, %#v", got[2], got[5])
	}
}

// What Node's adapter writes (notepack: integers as msgpack ints, no nsp
// on the main namespace in old versions, numeric rooms).
func TestDecodeNodeShapes(t *testing.T) {
	body, _ := msgpack.Marshal([]any{"nodeid",
		map[string]any{"type": int8(2), "data": []any{"ev", int64(7), []byte{1}}},
		map[string]any{"rooms": []any{int64(5)}, "except": []any{}, "flags": map[string]any{"volatile": true}}})
	m, err := decode(body)
	if err != nil {
		t.Fatal(err)
	}
	if m.nsp != "/" || !m.volatile || len(m.rooms) != 1 || m.rooms[0] != "5" {
		t.Errorf("decoded %+v", m)
	}
	if d := m.data.([]any); d[1] != 7.0 {
		t.Errorf("integer arrived as %#v", d[1])
	}
}

func TestDecodeRefusesMalformed(t *testing.T) {
	enc := func(v any) []byte { b, _ := msgpack.Marshal(v); return b }
	pkt := map[string]any{"type": 2, "data": []any{"ev"}, "nsp": "/"}
	opts := map[string]any{"rooms": []any{}, "except": []any{}}
	for name, body := range map[string][]byte{
		"not msgpack":      []byte("hello"),
		"empty":            nil,
		"not an array":     enc(map[string]any{"a": 1}),
		"two elements":     enc([]any{"u", pkt}),
		"uid not a string": enc([]any{1, pkt, opts}),
		"packet not a map": enc([]any{"u", "x", opts}),
		"connect packet":   enc([]any{"u", map[string]any{"type": 0, "data": []any{"ev"}}, opts}),
		"no data":          enc([]any{"u", map[string]any{"type": 2}, opts}),
		"empty data":       enc([]any{"u", map[string]any{"type": 2, "data": []any{}}, opts}),
		"name not string":  enc([]any{"u", map[string]any{"type": 2, "data": []any{3}}, opts}),
		"nsp not string":   enc([]any{"u", map[string]any{"type": 2, "data": []any{"e"}, "nsp": 4}, opts}),
		"opts not a map":   enc([]any{"u", pkt, 5}),
		"rooms not a list": enc([]any{"u", pkt, map[string]any{"rooms": "r1"}}),
		"room is a map":    enc([]any{"u", pkt, map[string]any{"rooms": []any{map[string]any{}}}}),
		"flags not a map":  enc([]any{"u", pkt, map[string]any{"flags": "x"}}),
	} {
		if _, err := decode(body); err == nil {
			t.Errorf("%s: decoded", name)
		} else if name != "not msgpack" && name != "empty" && name != "not an array" && !errors.Is(err, errMalformed) {
			t.Logf("%s: %v", name, err)
		}
	}
}

func FuzzDecode(f *testing.F) {
	good, _ := encode("u", parser.EVENT, "/", []any{"ev", "x"}, nil, nil, false)
	f.Add(good)
	f.Add([]byte{0x93, 0xa1, 'u', 0x80, 0x80})
	f.Fuzz(func(t *testing.T, body []byte) {
		m, err := decode(body) // must not panic
		if err == nil && (m.data == nil || m.nsp == "") {
			t.Fatalf("decoded without data or namespace: %+v", m)
		}
	})
}
