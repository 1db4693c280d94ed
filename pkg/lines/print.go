package lines

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"strings"
	"time"
)

// Printer formats events as lines. It reuses its buffer: the slice Line
// returns is valid until the next call.
type Printer struct {
	Format Format
	// Verbose prefixes the event name and a space (text and json).
	Verbose bool
	// Time, when set, is when the event arrived: text and json lines get
	// it first (RFC 3339, UTC, milliseconds) and a space; envelopes get a
	// "time" field.
	Time time.Time
	// TimeFormat writes Time; nil: RFC 3339, UTC, milliseconds
	// (ParseTimeFormat).
	TimeFormat func(time.Time) string

	buf bytes.Buffer
	enc *json.Encoder
}

// Line returns the line for one event, with its "\n".
func (p *Printer) Line(event string, args []any) []byte {
	if p.enc == nil {
		p.enc = json.NewEncoder(&p.buf)
		p.enc.SetEscapeHTML(false)
	}
	p.buf.Reset()
	var stamp string
	if !p.Time.IsZero() {
		if p.TimeFormat != nil {
			stamp = p.TimeFormat(p.Time)
		} else {
			stamp = p.Time.UTC().Format(TimeLayout)
		}
		if p.Format != Envelope {
			p.buf.WriteString(stamp)
			p.buf.WriteByte(' ')
		}
	}
	if p.Verbose && p.Format != Envelope {
		p.buf.WriteString(event)
		p.buf.WriteByte(' ')
	}
	switch p.Format {
	case Text:
		if len(args) == 1 {
			if raw, ok := args[0].(json.RawMessage); ok && isPlainString(raw) {
				// No escapes, no CR or LF: the bytes between the quotes.
				p.buf.Write(raw[1 : len(raw)-1])
				p.buf.WriteByte('\n')
				return p.buf.Bytes()
			}
			if s, ok := AsString(args[0]); ok {
				writeOneLine(&p.buf, s)
				p.buf.WriteByte('\n')
				return p.buf.Bytes()
			}
		}
		if len(args) == 0 {
			p.buf.WriteByte('\n')
			return p.buf.Bytes()
		}
		p.json(data(args))
	case JSON:
		p.json(data(args))
	case Envelope:
		if len(args) == 1 {
			p.json(dataEnvelope{event, stamp, toJSON(args[0])})
		} else {
			p.json(argsEnvelope{event, stamp, data(args)})
		}
	}
	return p.buf.Bytes()
}

// AsString returns a string argument, also one that came as raw JSON.
func AsString(a any) (string, bool) {
	switch v := a.(type) {
	case string:
		return v, true
	case json.RawMessage:
		if s, ok := plainString(v); ok {
			return s, true
		}
		var s string
		if len(v) > 0 && v[0] == '"' && json.Unmarshal(v, &s) == nil {
			return s, true
		}
	}
	return "", false
}

// The envelopes as printed: "event" first.
type dataEnvelope struct {
	Event string `json:"event"`
	Time  string `json:"time,omitempty"`
	Data  any    `json:"data"`
}

type argsEnvelope struct {
	Event string `json:"event"`
	Time  string `json:"time,omitempty"`
	Args  any    `json:"args"`
}

// TimeLayout is how Printer writes Time: RFC 3339 with milliseconds.
const TimeLayout = "2006-01-02T15:04:05.000Z07:00"

// data is what stands for the arguments: the one argument, or all of them
// as an array.
func data(args []any) any {
	if len(args) == 1 {
		return toJSON(args[0])
	}
	if args == nil {
		args = []any{}
	}
	return toJSON(args)
}

// json writes v as compact JSON and a newline (the encoder adds it).
func (p *Printer) json(v any) {
	if err := p.enc.Encode(v); err != nil {
		// Values decoded from the wire always encode; say so if not.
		p.buf.WriteString(`{"$error":` + quote(err.Error()) + "}\n")
	}
}

func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// writeOneLine writes s with CR and LF as the two characters \r and \n, so
// that one event is one line.
func writeOneLine(b *bytes.Buffer, s string) {
	for {
		i := strings.IndexAny(s, "\r\n")
		if i < 0 {
			b.WriteString(s)
			return
		}
		b.WriteString(s[:i])
		if s[i] == '\r' {
			b.WriteString(`\r`)
		} else {
			b.WriteString(`\n`)
		}
		s = s[i+1:]
	}
}

// toJSON replaces binary buffers with {"$binary": base64}, copying only
// the containers that hold one.
func toJSON(v any) any {
	out, _ := convert(v)
	return out
}

// convert returns v with its binary leaves replaced, and whether it
// replaced any; unchanged containers are returned as they are.
func convert(v any) (any, bool) {
	switch t := v.(type) {
	case []byte:
		return map[string]any{binaryKey: base64.StdEncoding.EncodeToString(t)}, true
	case map[string]any:
		var out map[string]any
		for k, e := range t {
			c, changed := convert(e)
			if !changed {
				continue
			}
			if out == nil {
				out = make(map[string]any, len(t))
				for k2, e2 := range t {
					out[k2] = e2
				}
			}
			out[k] = c
		}
		if out != nil {
			return out, true
		}
	case []any:
		var out []any
		for i, e := range t {
			c, changed := convert(e)
			if !changed {
				continue
			}
			if out == nil {
				out = append([]any(nil), t...)
			}
			out[i] = c
		}
		if out != nil {
			return out, true
		}
	}
	return v, false
}
