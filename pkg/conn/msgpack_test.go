package conn

import (
	"bytes"
	"strings"
	"testing"

	"github.com/vmihailenco/msgpack/v5"
)

// A text packet and its attachments become one msgpack map and back, the
// same: types, namespaces, ack ids, key order, numbers, binary in place.
func TestMsgpackRoundTrip(t *testing.T) {
	for _, c := range []struct {
		text string
		bins [][]byte
	}{
		{`0`, nil},
		{`0/chat,{"token":"t","room":"a,b"}`, nil},
		{`2["ev",{"z":1,"a":[1,2.5,-3,18446744073709551615,null,true],"s":"<é>"}]`, nil},
		{`2/chat,12["ev","x"]`, nil},
		{`3/chat,7[]`, nil},
		{`4{"message":"denied"}`, nil},
		{`1/chat,`, nil},
		{`51-["ev",{"_placeholder":true,"num":0}]`, [][]byte{{1, 2, 3}}},
		{`62-/x,9[{"_placeholder":true,"num":0},[{"_placeholder":true,"num":1}]]`, [][]byte{{1}, {}}},
	} {
		m, err := toMsgpack([]byte(c.text), c.bins)
		if err != nil {
			t.Errorf("%s: %v", c.text, err)
			continue
		}
		text, bins, err := fromMsgpack(m)
		if err != nil {
			t.Errorf("%s: back: %v", c.text, err)
			continue
		}
		if string(text) != c.text || len(bins) != len(c.bins) {
			t.Errorf("%s: back as %s with %d attachments", c.text, text, len(bins))
			continue
		}
		for i := range bins {
			if !bytes.Equal(bins[i], c.bins[i]) {
				t.Errorf("%s: attachment %d %v, want %v", c.text, i, bins[i], c.bins[i])
			}
		}
	}
}

// What the JavaScript parser sends (a map it encoded, binary in place)
// reads as the default parser's packet; what is not such a map is an
// error, never a panic.
func TestFromMsgpack(t *testing.T) {
	m, _ := msgpack.Marshal(map[string]any{"type": 2, "nsp": "/", "data": []any{"ev", []byte("hi"), 1.5, "x"}, "id": 3})
	text, bins, err := fromMsgpack(m)
	if err != nil || string(text) != `51-3["ev",{"_placeholder":true,"num":0},1.5,"x"]` || len(bins) != 1 || string(bins[0]) != "hi" {
		t.Errorf("got %s %q %v", text, bins, err)
	}
	for _, bad := range [][]byte{nil, {0xc0}, {0x81, 0xa4, 't', 'y', 'p', 'e', 0x09}, {0x91, 0x01}, {0x82, 0xa4, 't', 'y', 'p', 'e'}} {
		if _, _, err := fromMsgpack(bad); err == nil {
			t.Errorf("%x: no error", bad)
		}
	}
}

// JavaScript's undefined, as notepack.io writes it (extension 0), is left
// out of an object and null in an array, as JSON.stringify does: the
// server's CONNECT answer carries "pid": undefined.
func TestFromMsgpackUndefined(t *testing.T) {
	m := []byte("\x83\xa4type\x00\xa4data\x82\xa3sid\xa2ab\xa3pid\xd4\x00\x00\xa3nsp\xa1/")
	if text, _, err := fromMsgpack(m); err != nil || string(text) != `0{"sid":"ab"}` {
		t.Errorf("CONNECT answer: %s %v", text, err)
	}
	m = []byte("\x82\xa4type\x02\xa4data\x92\xa1e\xd4\x00\x00")
	if text, _, err := fromMsgpack(m); err != nil || string(text) != `2["e",null]` {
		t.Errorf("undefined in an array: %s %v", text, err)
	}
	m = []byte("\x82\xa4type\x02\xa4data\x92\xa1e\xd4\x05\x00")
	if _, _, err := fromMsgpack(m); err == nil {
		t.Error("extension type 5: no error")
	}
}

// Every JSON value sio-pub reads translates, however deep (encoding/json
// reads up to 10,000 levels).
func TestMsgpackDeepNesting(t *testing.T) {
	deep := `2["ev",` + strings.Repeat("[", 5000) + strings.Repeat("]", 5000) + `]`
	m, err := toMsgpack([]byte(deep), nil)
	if err != nil {
		t.Fatal(err)
	}
	if text, _, err := fromMsgpack(m); err != nil || string(text) != deep {
		t.Errorf("back: %v (%d bytes, want %d)", err, len(text), len(deep))
	}
}
