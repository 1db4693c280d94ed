package pub

import (
	"math"
	"strings"
	"testing"

	"github.com/sio-tools/sio/pkg/lines"
)

// An event whose arguments encoding/json cannot encode is refused (read
// makes it exit 65 with the line number, as for any line encode refuses),
// never sent with null or anything else in their place: the binary ones
// too, which the connection encodes only later.
func TestEncodeEventRefusesWhatJSONCannotEncode(t *testing.T) {
	lim := limit{max: 1 << 20, header: 8, what: "--max-bytes"}
	for name, args := range map[string][]any{
		"text":   {"a", math.NaN()},
		"binary": {map[string]any{"data": []byte{1, 2}, "ratio": math.Inf(1)}},
	} {
		it, err := encodeEvent(lim, 7, "ev", args)
		if err == nil {
			t.Errorf("%s: encoded as %s %v, want an error", name, it.body, it.args)
			continue
		}
		if !strings.Contains(err.Error(), "unsupported value") {
			t.Errorf("%s: error %q does not say why", name, err)
		}
	}
}

// The encoder's way for text lines (straight into the body, kept in a
// shared buffer) makes what lines.Parse and lines.EncodeArray make, and
// refuses what they refuse, with the same error.
func FuzzEncoderText(f *testing.F) {
	for _, s := range []string{"", "1", "plain line", `quo"te \ back`, "tab\tcr\rnul\x00", "é ✓ 😀", "bad \xff utf-8", strings.Repeat("x", 5000)} {
		f.Add(s)
	}
	c := Config{Event: "ev\"<>"}
	lim := limit{max: 4096, header: 8, what: "--max-bytes"}
	e := newEncoder(c, lim)
	f.Fuzz(func(t *testing.T, line string) {
		got, gerr := e.encode(3, []byte(line))
		ev, args, err := lines.Parse(lines.Text, c.Event, []byte(line))
		var want item
		if err == nil {
			want, err = encodeEvent(lim, 3, ev, args)
		}
		if (gerr == nil) != (err == nil) || gerr != nil && gerr.Error() != err.Error() {
			t.Fatalf("%q: error %v, want %v", line, gerr, err)
		}
		if string(got.body) != string(want.body) || got.line != want.line || got.event != want.event {
			t.Fatalf("%q: %+v, want %+v", line, got, want)
		}
	})
}
