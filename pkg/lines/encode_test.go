package lines

import (
	"encoding/json"
	"math"
	"reflect"
	"strings"
	"testing"
)

func TestEncodeArrayMatchesJSON(t *testing.T) {
	strs := []string{"", "plain", `quo"te \ back`, "tab\there\r\n", "\x00\x1f\x7f", "é ü 中文 العربية 😀", "<&>", "\u2028"}
	for _, s := range strs {
		got, err := EncodeArray(nil, "ev", []any{s, json.RawMessage(`{"a": [1, 2]}`), 3.5, nil})
		if err != nil {
			t.Fatal(err)
		}
		var back []any
		if err := json.Unmarshal(got, &back); err != nil {
			t.Fatalf("%q: %s is not JSON: %v", s, got, err)
		}
		want := []any{"ev", s, map[string]any{"a": []any{1.0, 2.0}}, 3.5, nil}
		if !reflect.DeepEqual(back, want) {
			t.Errorf("%q: decoded %#v", s, back)
		}
	}
}

// An argument encoding/json cannot encode is an error: sending null (or
// anything else) in its place would deliver an event nobody sent.
func TestEncodeArrayRefusesWhatJSONCannotEncode(t *testing.T) {
	for name, arg := range map[string]any{
		"NaN":             math.NaN(),
		"infinity":        math.Inf(1),
		"nested infinity": map[string]any{"a": []any{1, math.Inf(-1)}},
		"a channel":       make(chan int),
		"a bad number":    json.Number("12x"),
	} {
		dst := []byte("keep")
		got, err := EncodeArray(dst, "ev", []any{"before", arg})
		if err == nil {
			t.Errorf("%s: encoded as %s, want an error", name, got)
			continue
		}
		if string(got) != "keep" {
			t.Errorf("%s: dst became %q, want it as it was", name, got)
		}
	}
}

func TestAppendHeader(t *testing.T) {
	for _, c := range []struct {
		nsp  string
		id   int64
		want string
	}{{"/", -1, "2"}, {"", -1, "2"}, {"/chat", 7, "2/chat,7"}, {"/", 0, "20"}} {
		if got := string(AppendHeader(nil, c.nsp, c.id)); got != c.want {
			t.Errorf("AppendHeader(%q, %d) = %q, want %q", c.nsp, c.id, got, c.want)
		}
	}
}

func BenchmarkEncodeArrayText(b *testing.B) {
	line := strings.Repeat("hello world, a log line with \"quotes\" and \t tabs ", 2)
	var buf []byte
	b.SetBytes(int64(len(line)))
	for i := 0; i < b.N; i++ {
		buf, _ = EncodeArray(buf[:0], "message", []any{line})
	}
}
