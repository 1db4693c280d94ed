package libfix

import (
	"strings"
	"testing"
)

func TestCheckText(t *testing.T) {
	for _, c := range []struct {
		in     string
		n      int
		reason string
	}{
		{`0`, 0, ""},
		{`0{"token":"x"}`, 0, ""},
		{`0/chat,{"a":1}`, 0, ""},
		{`0/chat`, 0, ""},
		{`0[1]`, 0, "payload"},
		{`012`, 0, "ack_id"},
		{`1`, 0, ""},
		{`1/chat,`, 0, ""},
		{`1{}`, 0, "payload"},
		{`2["ev",1,{"a":[2]}]`, 0, ""},
		{`2/chat,["ev"]`, 0, ""},
		{`2/chat,12["ev"]`, 0, ""},
		{`2[1,2]`, 0, ""}, // a number name: the parsers take it, the relay drops it
		{`2["ev",1e999]`, 0, "number"},
		{`2["ev",-1e999]`, 0, "number"},
		{`2["ev",` + strings.Repeat("9", 5000) + `]`, 0, "number"},
		{`2["ev",1e308,-2.5E-400,12345678901234567890,"1e999",{"a":"\"1e999"}]`, 0, ""},
		{`2`, 0, "payload"},
		{`2{}`, 0, "payload"},
		{`2[]`, 0, "payload"},
		{`2[{"a":1}]`, 0, "payload"},
		{`2[null]`, 0, "payload"},
		{`2["ev",]`, 0, "payload"},
		{`2["ev"`, 0, "payload"},
		{"2[\"\xff\"]", 0, "payload"},
		{`21234567890123456["ev"]`, 0, "ack_id"},
		{`3`, 0, "ack_id"},
		{`312[]`, 0, ""},
		{`312{}`, 0, "payload"},
		{`4{"message":"x"}`, 0, "type"},
		{`7`, 0, "type"},
		{``, 0, "empty"},
		{`51-["a",{"_placeholder":true,"num":0}]`, 1, ""},
		{`52-/chat,7["a",{"_placeholder":true,"num":1},[{"_placeholder":true,"num":0}]]`, 2, ""},
		{`61-3[{"_placeholder":true,"num":0}]`, 1, ""},
		{`51-["a",{"_placeholder":true,"num":{"_placeholder":true,"num":0}}]`, 0, "placeholder"},
		{`51-["a",{"_placeholder":true,"num":0},{"_placeholder":true,"num":0}]`, 0, "placeholder"},
		{`52-["a",{"_placeholder":true,"num":0}]`, 0, "placeholder"},
		{`51-["a",{"_placeholder":true,"num":1}]`, 0, "placeholder"},
		{`51-["a",{"_placeholder":true,"num":-1}]`, 0, "placeholder"},
		{`51-["a",{"_placeholder":true,"num":0.5}]`, 0, "placeholder"},
		{`51-["a",{"_placeholder":true,"num":"0"}]`, 0, "placeholder"},
		{`51-["a",{"_placeholder":true,"num":0,"x":1}]`, 0, "placeholder"},
		{`51-["a",{"_placeholder":false,"num":0}]`, 0, "placeholder"},
		{`51-[{"_placeholder":true,"num":0}]`, 0, "payload"},
		{`51-["a",1]`, 0, "placeholder"},
		{`50-["a"]`, 0, "attachments"},
		{`511-["a"]`, 0, "attachments"},
		{`5-["a"]`, 0, "attachments"},
		{`51["a"]`, 0, "attachments"},
		{`51-`, 0, "payload"},
		{`5` + strings.Repeat("1", 20) + `-["a"]`, 0, "attachments"},
	} {
		n, reason := checkText([]byte(c.in))
		if n != c.n || reason != c.reason {
			t.Errorf("checkText(%.60q) = %d, %q; want %d, %q", c.in, n, reason, c.n, c.reason)
		}
	}
}

// A binary packet's attachments follow it, and nothing else does.
func TestInboundAttachments(t *testing.T) {
	var in inbound
	steps := []struct {
		data   string
		binary bool
		reason string
	}{
		{`52-["a",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`, false, ""},
		{"\x01", true, ""},
		{"\x02", true, ""},
		{`2["b"]`, false, ""},
		{"\x03", true, "unexpected_binary"},
	}
	for i, s := range steps {
		if got := in.check([]byte(s.data), s.binary); got != s.reason {
			t.Fatalf("step %d: %q, want %q", i, got, s.reason)
		}
	}
	in = inbound{}
	in.check([]byte(`51-["a",{"_placeholder":true,"num":0}]`), false)
	if got := in.check([]byte(`2["b"]`), false); got != "missing_attachment" {
		t.Fatalf("text before an attachment: %q", got)
	}
}

func BenchmarkCheckText(b *testing.B) {
	msg := []byte(`2["s","a line of text of some length, as sio-pub sends it",{"n":12345}]`)
	b.ReportAllocs()
	for b.Loop() {
		checkText(msg)
	}
}
