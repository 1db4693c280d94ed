package lines

import (
	"testing"
	"time"
)

func TestParseTimeFormat(t *testing.T) {
	at := time.Date(2026, 11, 30, 7, 5, 9, 42_500_000, time.UTC)
	defer func(l *time.Location) { time.Local = l }(time.Local)
	time.Local = time.FixedZone("CET", 3600)
	for f, want := range map[string]string{
		"":                   "2026-11-30T07:05:09.042Z",
		"rfc3339":            "2026-11-30T07:05:09.042Z",
		"local":              "2026-11-30T08:05:09.042+01:00",
		"unix":               "1796022309.042",
		"unixms":             "1796022309042",
		"%H:%M:%S.%L":        "08:05:09.042",
		"%F %T %z %Z":        "2026-11-30 08:05:09 +0100 CET",
		"[%Y/%m/%d] %s %j%%": "[2026/11/30] 1796022309 334%",
		"%a %b":              "Mon Nov",
		"at %H":              "at 08",
	} {
		fn, err := ParseTimeFormat(f)
		if err != nil {
			t.Errorf("%q: %v", f, err)
			continue
		}
		if got := fn(at); got != want {
			t.Errorf("%q: %q, want %q", f, got, want)
		}
	}
	for _, bad := range []string{"iso", "%Q", "%H:%"} {
		if _, err := ParseTimeFormat(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}
