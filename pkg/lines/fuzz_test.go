package lines

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"testing"
	"unicode/utf8"
)

// FuzzReader: whatever the input, every line returned fits the limit, has
// no newline, and the lines plus the refused ones account for the input.
func FuzzReader(f *testing.F) {
	for _, s := range []string{"", "a\nb", "a\r\n\r\n", "\n\n\n", "xxxxxxxxxxxx\ny", "\r", "no newline"} {
		f.Add([]byte(s), uint8(4))
	}
	f.Fuzz(func(t *testing.T, in []byte, max uint8) {
		limit := int(max%32) + 1
		r := NewReader(bytes.NewReader(in), limit)
		n := 0
		for n <= len(in)+1 {
			line, err := r.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			n++
			var le *LineError
			if err != nil {
				if !errors.As(err, &le) || le.Line != n {
					t.Fatalf("error %v is not for line %d", err, n)
				}
				continue
			}
			if len(line) > limit || bytes.ContainsAny(line, "\n") {
				t.Fatalf("line %d %q: over %d or holds a newline", n, line, limit)
			}
		}
		if want := bytes.Count(in, []byte{'\n'}); n != want && n != want+1 {
			t.Fatalf("%d lines from %d newlines", n, want)
		}
	})
}

// FuzzParse: a line either fails with an error or gives an event whose
// arguments encode to valid JSON (binary ones too, as base64); an envelope printed by sio-sub reads back
// as the same event.
func FuzzParse(f *testing.F) {
	for _, s := range []string{`{"event":"x","data":1}`, `{"event":"x","args":[1,"a",null]}`, `{"event":"","data":2}`,
		`{"event":1}`, `{"data":1}`, `[1,2]`, `42`, `"s"`, `{"a":1} x`, "\xff", `{"$binary":"AAE="}`, `{"event":"e","data":{"$binary":"%%"}}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		for _, format := range []Format{Text, JSON, Envelope} {
			ev, args, err := Parse(format, "ev", line)
			if err != nil {
				continue
			}
			if !utf8.ValidString(ev) {
				t.Fatalf("%v %q: event name %q is not UTF-8", format, line, ev)
			}
			data, err := EncodeArray(nil, ev, args)
			if err != nil || !json.Valid(data) {
				t.Fatalf("%v %q: encoded as %q, %v: not JSON", format, line, data, err)
			}
			if format != Envelope {
				continue
			}
			p := Printer{Format: Envelope}
			printed := p.Line(ev, decodeRaw(t, args))
			ev2, args2, err := Parse(Envelope, "", bytes.TrimSuffix(printed, []byte("\n")))
			if err != nil || ev2 != ev {
				t.Fatalf("%q printed as %q, read back: %q %v", line, printed, ev2, err)
			}
			again := Printer{Format: Envelope}
			if got := again.Line(ev2, decodeRaw(t, args2)); !bytes.Equal(got, printed) {
				t.Fatalf("round trip of %q:\n %s\n %s", line, printed, got)
			}
		}
	})
}

// SplitArray and AsString read what encoding/json reads: the same
// elements, byte for byte, and the same strings.
func FuzzSplitArray(f *testing.F) {
	for _, s := range []string{`[]`, ` [ ] `, `["a",1,{"b":[1,2]},null]`, `["x\"y",[],{}]`, `[ "é" , 2.5e3 ,true]`,
		`[1,`, `{"a":1}`, `"s"`, "[\"\xff\"]", `["\u00e9\n"]`, `[[[[]]]]`, `[1 2]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := SplitArray(data)
		var want []json.RawMessage
		werr := json.Unmarshal(data, &want)
		if (err == nil) != (werr == nil) {
			t.Fatalf("%q: SplitArray err %v, encoding/json err %v", data, err, werr)
		}
		if err != nil {
			return
		}
		if len(got) != len(want) {
			t.Fatalf("%q: %d elements, encoding/json %d", data, len(got), len(want))
		}
		for i := range got {
			if !bytes.Equal(got[i], want[i]) {
				t.Fatalf("%q: element %d is %q, encoding/json %q", data, i, got[i], want[i])
			}
			var s string
			if want[i][0] == '"' && json.Unmarshal(want[i], &s) == nil {
				if g, ok := AsString(got[i]); !ok || g != s {
					t.Fatalf("%q: string %q read as %q, %v", want[i], s, g, ok)
				}
			} else if _, ok := AsString(got[i]); ok {
				t.Fatalf("%q: not a string, read as one", want[i])
			}
		}
	})
}
