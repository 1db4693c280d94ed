package pub

import (
	"math"
	"strings"
	"testing"
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
