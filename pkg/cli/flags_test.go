package cli

import (
	"testing"
	"time"
)

func TestDurationFlag(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"30": 30 * time.Second, "1.5": 1500 * time.Millisecond, "0": 0,
		"500ms": 500 * time.Millisecond, "1m30s": 90 * time.Second,
	} {
		var d time.Duration
		if err := (*durationValue)(&d).Set(in); err != nil || d != want {
			t.Errorf("%q: %v %v, want %v", in, d, err, want)
		}
	}
	for _, in := range []string{"soon", "-1", "1e300", "30 s"} {
		var d time.Duration
		if err := (*durationValue)(&d).Set(in); err == nil {
			t.Errorf("%q: accepted as %v", in, d)
		}
	}
}
