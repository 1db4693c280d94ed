package lines

import (
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"
)

func readAll(t *testing.T, in string, max int) (got []string, errs []string) {
	t.Helper()
	r := NewReader(strings.NewReader(in), max)
	for {
		b, err := r.Next()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			errs = append(errs, err.Error())
			continue
		}
		got = append(got, string(b))
	}
}

func TestReader(t *testing.T) {
	got, errs := readAll(t, "a\r\nb\n\nlast", 10)
	if want := []string{"a", "b", "", "last"}; !reflect.DeepEqual(got, want) || errs != nil {
		t.Errorf("got %q %q, want %q", got, errs, want)
	}
}

func TestReaderLimit(t *testing.T) {
	exact := strings.Repeat("x", 8)
	over := strings.Repeat("y", 9)
	huge := strings.Repeat("z", 100)
	got, errs := readAll(t, exact+"\n"+over+"\n"+exact+"\r\n"+huge+"\r\nend\n"+over, 8)
	if want := []string{exact, exact, "end"}; !reflect.DeepEqual(got, want) {
		t.Errorf("lines %q, want %q", got, want)
	}
	want := []string{
		"line 2: line too long (9 bytes, over 8)",
		"line 4: line too long (over 8 bytes)",
		"line 6: line too long (9 bytes, over 8)",
	}
	if !reflect.DeepEqual(errs, want) {
		t.Errorf("errors\n %q\nwant %q", errs, want)
	}
}

func TestParse(t *testing.T) {
	raw := func(s string) any { return json.RawMessage(s) }
	tests := []struct {
		f         Format
		line      string
		event     string
		args      []any
		errSubstr string
	}{
		{Text, `{"a":1}`, "ev", []any{`{"a":1}`}, ""},
		{Text, "  tabs\tand spaces  ", "ev", []any{"  tabs\tand spaces  "}, ""},
		{Text, "", "ev", []any{""}, ""},
		{Text, "bad \xff utf8", "", nil, "not valid UTF-8"},
		{JSON, `{"a":1, "b":[1,2]}`, "ev", []any{raw(`{"a":1, "b":[1,2]}`)}, ""},
		{JSON, `42`, "ev", []any{raw(`42`)}, ""},
		{JSON, `"s"`, "ev", []any{raw(`"s"`)}, ""},
		{JSON, `{"a":`, "", nil, "invalid JSON: unexpected end of input"},
		{JSON, `{"a":1} x`, "", nil, "invalid JSON: trailing data at byte 9"},
		{JSON, ``, "", nil, "invalid JSON: empty line"},
		{JSON, `nope`, "", nil, "invalid JSON: invalid character"},
		{Envelope, `{"event":"x","data":{"k":2}}`, "x", []any{raw(`{"k":2}`)}, ""},
		{Envelope, `{"event":"x","args":[1,"two"]}`, "x", []any{raw(`1`), raw(`"two"`)}, ""},
		{Envelope, `{"event":"x"}`, "x", []any{}, ""},
		{Envelope, `{"data":1}`, "", nil, `no "event"`},
		{Envelope, `{"event":"x","data":1,"args":[]}`, "", nil, `both "data" and "args"`},
		{Envelope, `[1]`, "", nil, "invalid envelope"},
		{Envelope, `{"event":3}`, "", nil, "invalid envelope"},
	}
	for _, tt := range tests {
		ev, args, err := Parse(tt.f, "ev", []byte(tt.line))
		if tt.errSubstr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.errSubstr) {
				t.Errorf("%v %q: err %v, want %q", tt.f, tt.line, err, tt.errSubstr)
			}
			continue
		}
		if err != nil || ev != tt.event || !reflect.DeepEqual(args, tt.args) {
			t.Errorf("%v %q: got %q %#v %v, want %q %#v", tt.f, tt.line, ev, args, err, tt.event, tt.args)
		}
	}
}

func TestParseBinaryMarker(t *testing.T) {
	_, args, err := Parse(JSON, "ev", []byte(`{"a":{"$binary":"AAH/"},"n":12345678901234567890}`))
	if err != nil {
		t.Fatal(err)
	}
	m := args[0].(map[string]any)
	if b, ok := m["a"].([]byte); !ok || string(b) != "\x00\x01\xff" {
		t.Errorf("binary marker: got %#v", m["a"])
	}
	if n := m["n"].(json.Number); n != "12345678901234567890" {
		t.Errorf("big number changed: %v", n)
	}
}

func TestPrint(t *testing.T) {
	bin := ([]byte{0, 1, 255})
	tests := []struct {
		f       Format
		verbose bool
		args    []any
		want    string
	}{
		{Text, false, []any{"plain <&> text"}, "plain <&> text\n"},
		{Text, false, []any{"two\nlines\r\n"}, `two\nlines\r\n` + "\n"},
		{Text, true, []any{"x"}, "ev x\n"},
		{Text, false, []any{map[string]any{"b": 1.0, "a": "<é>"}}, `{"a":"<é>","b":1}` + "\n"},
		{Text, false, []any{"a", 2.0}, `["a",2]` + "\n"},
		{Text, false, []any{}, "\n"},
		{Text, false, []any{nil}, "null\n"},
		{JSON, false, []any{"s"}, `"s"` + "\n"},
		{JSON, true, []any{42.0}, "ev 42\n"},
		{JSON, false, []any{[]any{bin}}, `[{"$binary":"AAH/"}]` + "\n"},
		{Envelope, true, []any{"s"}, `{"event":"ev","data":"s"}` + "\n"},
		{Envelope, false, []any{1.0, "b"}, `{"event":"ev","args":[1,"b"]}` + "\n"},
		{Envelope, false, nil, `{"event":"ev","args":[]}` + "\n"},
	}
	for _, tt := range tests {
		p := Printer{Format: tt.f, Verbose: tt.verbose}
		if got := string(p.Line("ev", tt.args)); got != tt.want {
			t.Errorf("%v %v: got %q, want %q", tt.f, tt.args, got, tt.want)
		}
	}
}

// An envelope printed by sio-sub and read by sio-pub gives the same event.
func TestEnvelopeRoundTrip(t *testing.T) {
	args := []any{"s", 1.5, map[string]any{"k": []any{true, nil}}, []byte("bin")}
	p := Printer{Format: Envelope}
	line := p.Line("name", args)
	ev, back, err := Parse(Envelope, "", line[:len(line)-1])
	if err != nil || ev != "name" {
		t.Fatalf("parse %q: %v %v", line, ev, err)
	}
	again := p.Line(ev, decodeRaw(t, back))
	if string(again) != string(line) {
		t.Errorf("round trip changed the line:\n %s\n %s", line, again)
	}
}

// decodeRaw stands in for the wire: raw JSON is decoded as the receiving
// side would.
func decodeRaw(t *testing.T, args []any) []any {
	out := make([]any, len(args))
	for i, a := range args {
		if r, ok := a.(json.RawMessage); ok {
			var v any
			if err := json.Unmarshal(r, &v); err != nil {
				t.Fatal(err)
			}
			out[i] = v
			continue
		}
		out[i] = a
	}
	return out
}

func BenchmarkPrinterText(b *testing.B) {
	p := Printer{Format: Text}
	args := []any{"hello world, a log line of about a hundred bytes or so, plain text with no escapes"}
	b.SetBytes(int64(len(args[0].(string))))
	for i := 0; i < b.N; i++ {
		p.Line("message", args)
	}
}

func BenchmarkReader(b *testing.B) {
	data := strings.Repeat("a line of text that is about sixty bytes long, give or take\n", 1000)
	b.SetBytes(int64(len(data)))
	for i := 0; i < b.N; i++ {
		r := NewReader(strings.NewReader(data), 1<<20)
		for {
			if _, err := r.Next(); err != nil {
				break
			}
		}
	}
}

func TestPrinterTime(t *testing.T) {
	at := time.Date(2026, 11, 30, 5, 6, 7, 891_000_000, time.FixedZone("X", 3600))
	for f, want := range map[Format]string{
		Text:     "2026-11-30T04:06:07.891Z hi\n",
		JSON:     "2026-11-30T04:06:07.891Z \"hi\"\n",
		Envelope: `{"event":"e","time":"2026-11-30T04:06:07.891Z","data":"hi"}` + "\n",
	} {
		p := Printer{Format: f, Time: at}
		if got := string(p.Line("e", []any{"hi"})); got != want {
			t.Errorf("%v: %q, want %q", f, got, want)
		}
	}
}
