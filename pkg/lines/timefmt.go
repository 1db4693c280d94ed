package lines

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// TimeFormats names the --time-format values besides a strftime pattern.
const TimeFormats = "rfc3339 (UTC, ms; the default), local (the same in local time), unix (seconds.ms), unixms"

// ParseTimeFormat returns the function that writes an arrival time as
// sio-sub --time-format f says: a name of TimeFormats, or a strftime
// pattern in local time (as date(1)) with %Y %m %d %H %M %S %L (ms) %z %Z
// %s (unix seconds) %j %a %b %T %F and %%.
func ParseTimeFormat(f string) (func(time.Time) string, error) {
	switch f {
	case "", "rfc3339":
		return func(t time.Time) string { return t.UTC().Format(TimeLayout) }, nil
	case "local":
		return func(t time.Time) string { return t.Local().Format("2006-01-02T15:04:05.000Z07:00") }, nil
	case "unix":
		return func(t time.Time) string { return fmt.Sprintf("%d.%03d", t.Unix(), t.Nanosecond()/1e6) }, nil
	case "unixms":
		return func(t time.Time) string { return strconv.FormatInt(t.UnixMilli(), 10) }, nil
	}
	if !strings.Contains(f, "%") {
		return nil, fmt.Errorf("want %s, or a strftime pattern such as %%H:%%M:%%S.%%L", TimeFormats)
	}
	layout, err := strftimeLayout(f)
	if err != nil {
		return nil, err
	}
	return func(t time.Time) string { return layout(t.Local()) }, nil
}

// strftimeLayout compiles a strftime pattern into a function.
func strftimeLayout(f string) (func(time.Time) string, error) {
	var parts []func(*strings.Builder, time.Time)
	lit := func(s string) func(*strings.Builder, time.Time) {
		return func(b *strings.Builder, _ time.Time) { b.WriteString(s) }
	}
	goFmt := func(layout string) func(*strings.Builder, time.Time) {
		return func(b *strings.Builder, t time.Time) { b.WriteString(t.Format(layout)) }
	}
	conv := map[byte]func(*strings.Builder, time.Time){
		'Y': goFmt("2006"), 'm': goFmt("01"), 'd': goFmt("02"), 'H': goFmt("15"), 'M': goFmt("04"),
		'S': goFmt("05"), 'z': goFmt("-0700"), 'Z': goFmt("MST"), 'a': goFmt("Mon"), 'b': goFmt("Jan"),
		'T': goFmt("15:04:05"), 'F': goFmt("2006-01-02"), 'j': goFmt("002"), '%': lit("%"),
		'L': func(b *strings.Builder, t time.Time) { fmt.Fprintf(b, "%03d", t.Nanosecond()/1e6) },
		's': func(b *strings.Builder, t time.Time) { b.WriteString(strconv.FormatInt(t.Unix(), 10)) },
	}
	for i := 0; i < len(f); i++ {
		if f[i] != '%' {
			j := strings.IndexByte(f[i:], '%')
			if j < 0 {
				j = len(f) - i
			}
			parts = append(parts, lit(f[i:i+j]))
			i += j - 1
			continue
		}
		if i+1 == len(f) {
			return nil, fmt.Errorf("%q ends with a lone %%", f)
		}
		c, ok := conv[f[i+1]]
		if !ok {
			return nil, fmt.Errorf("%%%c in %q: want one of %%Y %%m %%d %%H %%M %%S %%L %%z %%Z %%s %%j %%a %%b %%T %%F %%%%", f[i+1], f)
		}
		parts = append(parts, c)
		i++
	}
	return func(t time.Time) string {
		var b strings.Builder
		for _, p := range parts {
			p(&b, t)
		}
		return b.String()
	}, nil
}
