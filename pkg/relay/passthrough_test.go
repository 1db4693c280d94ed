package relay

import (
	"testing"

	"github.com/zishang520/socket.io/parsers/socket/v3/parser"
)

func TestPlainEvent(t *testing.T) {
	for _, c := range []struct {
		msg, nsp, name string
		ok             bool
	}{
		{`42["a",1]`, "/", "a", true},
		{`42/chat,["a b",{"x":[1,2]}]`, "/chat", "a b", true},
		{`42[ "a" ]`, "/", "a", true},
		{`42["a"]  `, "/", "a", true},
		{`421["a",1]`, "", "", false},                              // asks for an ack
		{`42/chat,7["a"]`, "", "", false},                          // asks for an ack
		{`451-["a",{"_placeholder":true,"num":0}]`, "", "", false}, // binary
		{`43["a"]`, "", "", false},                                 // an ack
		{`40`, "", "", false},                                      // a connect
		{`2`, "", "", false},                                       // an Engine.IO ping
		{`42/,["a"]`, "", "", false},                               // "/" spelled out
		{`42/chat["a"]`, "", "", false},                            // no comma
		{`42[1,"a"]`, "", "", false},                               // a name that is not a string
		{`42["a\"b"]`, "", "", false},                              // a name with an escape
		{`42["a",]`, "", "", false},                                // not JSON
		{`42["a"]x`, "", "", false},                                // not JSON
		{`42{"a":1}`, "", "", false},                               // not an array
		{`42[]`, "", "", false},                                    // no name
	} {
		nsp, name, ok := plainEvent([]byte(c.msg))
		if ok != c.ok || string(nsp) != c.nsp && ok || string(name) != c.name && ok {
			t.Errorf("%s: got %q %q %v, want %q %q %v", c.msg, nsp, name, ok, c.nsp, c.name, c.ok)
		}
	}
}

// Whatever plainEvent passes through, the library's decoder (as a
// recipient's client would) reads as the same event in the same
// namespace, with no ack id.
func FuzzPlainEvent(f *testing.F) {
	for _, s := range []string{`42["a",1]`, `42/chat,["a b",{"x":[1,2]}]`, `421["a"]`, `42["a",]`, `42/,["a"]`, `42[ "a" , null ]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, msg []byte) {
		nsp, name, ok := plainEvent(msg)
		if !ok {
			return
		}
		d := parser.NewDecoder()
		var got *parser.Packet
		_ = d.On("decoded", func(args ...any) { got, _ = args[0].(*parser.Packet) })
		if err := d.Add(string(msg[1:])); err != nil || got == nil {
			t.Fatalf("%q passed through, the library's decoder refuses it: %v", msg, err)
		}
		args, _ := got.Data.([]any)
		if got.Type != parser.EVENT || got.Nsp != string(nsp) || got.Id != nil || len(args) == 0 || args[0] != string(name) {
			t.Fatalf("%q passed through as %q %q; the library's decoder reads %+v", msg, nsp, name, got)
		}
	})
}

// The relay's own work per plain event read: recognise it (one scan for
// the header, json.Valid and utf8.Valid over the arguments).
func BenchmarkPlainEvent(b *testing.B) {
	msg := []byte(`42["line",{"n":12345,"t":1763900000000,"text":"the quick brown fox jumps over the lazy dog, 0123456789"}]`)
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		if _, _, ok := plainEvent(msg); !ok {
			b.Fatal("not plain")
		}
	}
}

func TestAckedEvent(t *testing.T) {
	for _, c := range []struct {
		msg, plain string
		id         int64
		ok         bool
	}{
		{`421["a",1]`, `42["a",1]`, 1, true},
		{`42/chat,77["a"]`, `42/chat,["a"]`, 77, true},
		{`42["a"]`, "", 0, false},                          // no ack id: plainEvent's
		{`4212345678901234567["a"]`, "", 0, false},         // an id too long
		{`42/chat7["a"]`, "", 0, false},                    // no comma
		{`451-0["a",{"_placeholder":true}]`, "", 0, false}, // binary
		{`431["a"]`, "", 0, false},                         // an ack
	} {
		plain, id, ok := ackedEvent([]byte(c.msg))
		if ok != c.ok || ok && (string(plain) != c.plain || id != c.id) {
			t.Errorf("%s: got %q %d %v, want %q %d %v", c.msg, plain, id, ok, c.plain, c.id, c.ok)
		}
	}
}
