package msgpackparser

import (
	"bytes"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/vmihailenco/msgpack/v5"
	"github.com/zishang520/socket.io/parsers/socket/v3/parser"
	"github.com/zishang520/socket.io/v3/pkg/types"
)

// pack encodes v with msgpack, map keys in order.
func pack(t testing.TB, v any) []byte {
	t.Helper()
	var b bytes.Buffer
	e := msgpack.NewEncoder(&b)
	e.SetSortMapKeys(true)
	if err := e.Encode(v); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// A packet decodes as the library holds data (binary as a BytesBuffer)
// and encodes back to the same bytes.
func TestRoundTrip(t *testing.T) {
	id := uint64(7)
	for _, p := range []*parser.Packet{
		{Type: parser.CONNECT, Nsp: "/", Data: map[string]any{"token": "t", "room": "a,b"}},
		{Type: parser.CONNECT, Nsp: "/chat"},
		{Type: parser.EVENT, Nsp: "/", Data: []any{"ev", map[string]any{"a": int64(1), "z": 2.5}, nil, true, types.NewBytesBuffer([]byte{1, 2, 3})}},
		{Type: parser.EVENT, Nsp: "/x", Data: []any{"ack me"}, Id: &id},
		{Type: parser.ACK, Nsp: "/", Data: []any{}, Id: &id},
		{Type: parser.DISCONNECT, Nsp: "/x"},
		{Type: parser.CONNECT_ERROR, Nsp: "/", Data: map[string]any{"message": "no"}},
	} {
		b, err := Encode(p)
		if err != nil {
			t.Fatalf("Encode(%+v): %v", p, err)
		}
		got, err := Decode(b)
		if err != nil {
			t.Fatalf("Decode(Encode(%+v)): %v", p, err)
		}
		if got.Type != p.Type || got.Nsp != p.Nsp || !reflect.DeepEqual(got.Id, p.Id) || !reflect.DeepEqual(got.Data, p.Data) {
			t.Errorf("round trip of %+v gave %+v", p, got)
		}
		if again, _ := Encode(got); !bytes.Equal(again, b) {
			t.Errorf("%+v encodes as %x, then %x", p, b, again)
		}
	}
	// BINARY_EVENT and BINARY_ACK go as EVENT and ACK.
	b, _ := Encode(&parser.Packet{Type: parser.BINARY_EVENT, Nsp: "/", Data: []any{"b", []byte{9}}})
	if p, err := Decode(b); err != nil || p.Type != parser.EVENT {
		t.Errorf("a BINARY_EVENT encodes as type %v (%v), want EVENT", p, err)
	}
}

// What the JavaScript parser refuses is refused, and what could not be
// encoded again for the other clients.
func TestRefused(t *testing.T) {
	deep := any("x")
	for range MaxDepth + 10 {
		deep = []any{deep}
	}
	for name, b := range map[string][]byte{
		"not a map":            pack(t, []any{1}),
		"empty map":            pack(t, map[string]any{}),
		"no type":              pack(t, map[string]any{"nsp": "/", "data": []any{"a"}}),
		"type 5":               pack(t, map[string]any{"type": 5, "nsp": "/", "data": []any{"a"}}),
		"type 9":               pack(t, map[string]any{"type": 9, "nsp": "/", "data": []any{"a"}}),
		"type as string":       pack(t, map[string]any{"type": "2", "nsp": "/", "data": []any{"a"}}),
		"no nsp":               pack(t, map[string]any{"type": 2, "data": []any{"a"}}),
		"nsp not a string":     pack(t, map[string]any{"type": 2, "nsp": 1, "data": []any{"a"}}),
		"event without data":   pack(t, map[string]any{"type": 2, "nsp": "/"}),
		"event data an object": pack(t, map[string]any{"type": 2, "nsp": "/", "data": map[string]any{"a": 1}}),
		"event without a name": pack(t, map[string]any{"type": 2, "nsp": "/", "data": []any{1}}),
		"connect data a list":  pack(t, map[string]any{"type": 0, "nsp": "/", "data": []any{1}}),
		"disconnect with data": pack(t, map[string]any{"type": 1, "nsp": "/", "data": []any{"a"}}),
		"negative id":          pack(t, map[string]any{"type": 2, "nsp": "/", "data": []any{"a"}, "id": -1}),
		"id a string":          pack(t, map[string]any{"type": 2, "nsp": "/", "data": []any{"a"}, "id": "1"}),
		"map key a number":     append(pack(t, map[string]any{"type": 2, "nsp": "/"})[:0:0], 0x83, 0xa4, 't', 'y', 'p', 'e', 0x02, 0xa3, 'n', 's', 'p', 0xa1, '/', 0xa4, 'd', 'a', 't', 'a', 0x92, 0xa1, 'e', 0x81, 0x01, 0x01),
		"extension type":       append(pack(t, map[string]any{"type": 2, "nsp": "/"})[:0:0], 0x83, 0xa4, 't', 'y', 'p', 'e', 0x02, 0xa3, 'n', 's', 'p', 0xa1, '/', 0xa4, 'd', 'a', 't', 'a', 0x92, 0xa1, 'e', 0xd4, 0x05, 0x00),
		"trailing bytes":       append(pack(t, map[string]any{"type": 2, "nsp": "/", "data": []any{"a"}}), 0xc0),
		"truncated":            pack(t, map[string]any{"type": 2, "nsp": "/", "data": []any{"abc"}})[:10],
		"nested too deep":      pack(t, map[string]any{"type": 2, "nsp": "/", "data": []any{"a", deep}}),
		"3 GB binary":          []byte("\x81\xa4t\xbb\xc6\x01\xc6\xc6\x00\x01\xa4"),
		"3 GB key":             []byte("\x81\xdb\xc6\x00\x01\xa4t"),
		"NaN":                  pack(t, map[string]any{"type": 2, "nsp": "/", "data": []any{"a", float64FromBits(0x7ff8000000000001)}}),
	} {
		if p, err := Decode(b); err == nil {
			t.Errorf("%s: decoded as %+v, want refused", name, p)
		} else if !strings.HasPrefix(err.Error(), "msgpack parser: ") {
			t.Errorf("%s: error %q", name, err)
		}
	}
	// JavaScript's undefined, as notepack.io writes it, is nothing.
	b := append(pack(t, map[string]any{"type": 0, "nsp": "/"})[:0:0], 0x83, 0xa4, 't', 'y', 'p', 'e', 0x00, 0xa3, 'n', 's', 'p', 0xa1, '/', 0xa2, 'i', 'd', 0xd4, 0x00, 0x00)
	if p, err := Decode(b); err != nil || p.Id != nil {
		t.Errorf("id undefined: %+v, %v", p, err)
	}
}

// The decoder the library uses: one message, one "decoded" packet; text
// is refused.
func TestDecoderAdd(t *testing.T) {
	d := Parser{}.NewDecoder()
	var got []*parser.Packet
	_ = d.On("decoded", func(args ...any) { got = append(got, args[0].(*parser.Packet)) })
	if err := d.Add(types.NewBytesBuffer(pack(t, map[string]any{"type": 2, "nsp": "/", "data": []any{"a"}}))); err != nil {
		t.Fatal(err)
	}
	if err := d.Add(types.NewStringBufferString(`2["a"]`)); err == nil {
		t.Error("a text message was taken")
	}
	if len(got) != 1 || got[0].Type != parser.EVENT {
		t.Errorf("decoded %v", got)
	}
}

// No input makes Decode panic, and what it takes encodes and decodes
// again.
func FuzzDecode(f *testing.F) {
	f.Add(pack(f, map[string]any{"type": 2, "nsp": "/", "data": []any{"a", map[string]any{"b": []byte{1}}}, "id": 3}))
	f.Add(pack(f, map[string]any{"type": 0, "nsp": "/chat", "data": map[string]any{"token": "x"}}))
	f.Add([]byte{0x81, 0xa4, 't', 'y', 'p', 'e'})
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := Decode(b)
		if err != nil {
			return
		}
		again, err := Encode(p)
		if err != nil {
			t.Fatalf("decoded %+v does not encode: %v", p, err)
		}
		if _, err := Decode(again); err != nil {
			t.Fatalf("%+v encodes as %x, which does not decode: %v", p, again, err)
		}
	})
}

func float64FromBits(b uint64) float64 { return math.Float64frombits(b) }
