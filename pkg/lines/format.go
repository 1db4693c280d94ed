package lines

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"
)

// Format is how a line stands for an event.
type Format int

const (
	// Text: the line is one string argument.
	Text Format = iota
	// JSON: the line is one JSON value, the argument.
	JSON
	// Envelope: the line is {"event": NAME, "data": V} or
	// {"event": NAME, "args": [...]}.
	Envelope
)

// ParseFormat reads a format name: text, json or envelope.
func ParseFormat(s string) (Format, error) {
	switch s {
	case "text":
		return Text, nil
	case "json":
		return JSON, nil
	case "envelope":
		return Envelope, nil
	}
	return 0, fmt.Errorf("unknown format %q: want text, json or envelope", s)
}

func (f Format) String() string {
	switch f {
	case JSON:
		return "json"
	case Envelope:
		return "envelope"
	}
	return "text"
}

// Reserved reports whether name is an event name Socket.IO keeps for
// itself: an event of that name is never delivered. Node refuses to emit
// them, servers drop them (sio-serve among them) or take them for their
// own events, and clients do the same. "error" was reserved up to
// Socket.IO v2 and is still special in clients. (A switch: a map's
// lookup was 3% of sio-serve's CPU, once per event.)
func Reserved(name string) bool {
	switch name {
	case "connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener", "error":
		return true
	}
	return false
}

// ReservedError is the error for an event named name, a reserved name.
func ReservedError(name string) error {
	return fmt.Errorf("event name %q is reserved by Socket.IO: no server delivers it", name)
}

// binaryKey marks binary data in JSON lines: {"$binary": "<base64>"}.
const binaryKey = "$binary"

// Parse turns one input line into an event name and its arguments. The
// name is event unless the format carries one. The returned arguments do
// not alias line.
func Parse(f Format, event string, line []byte) (string, []any, error) {
	if !utf8.Valid(line) {
		return "", nil, errors.New("not valid UTF-8")
	}
	switch f {
	case JSON:
		v, err := parseValue(line)
		if err != nil {
			return "", nil, err
		}
		return event, []any{v}, nil
	case Envelope:
		return parseEnvelope(line)
	}
	return event, []any{string(line)}, nil
}

// parseValue checks one JSON value and returns it ready to send: as the
// raw JSON when it holds no binary marker (sent as is, numbers and key
// order kept), else decoded with the markers turned into binary.
func parseValue(b []byte) (any, error) {
	if len(bytes.TrimSpace(b)) == 0 {
		return nil, errors.New("invalid JSON: empty line")
	}
	if !Valid(b, 0) {
		return nil, jsonError(b)
	}
	if !bytes.Contains(b, []byte(`"`+binaryKey+`"`)) {
		return json.RawMessage(bytes.Clone(b)), nil
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, jsonError(b)
	}
	return fromJSON(v), nil
}

// jsonError explains why b is not one JSON value.
func jsonError(b []byte) error {
	d := json.NewDecoder(bytes.NewReader(b))
	var v any
	if err := d.Decode(&v); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			return errors.New("invalid JSON: unexpected end of input")
		}
		return fmt.Errorf("invalid JSON: %v", trimJSONErr(err))
	}
	off := int(d.InputOffset())
	for off < len(b) && (b[off] == ' ' || b[off] == '\t' || b[off] == '\r' || b[off] == '\n') {
		off++
	}
	return fmt.Errorf("invalid JSON: trailing data at byte %d", off+1)
}

func trimJSONErr(err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("%v at byte %d", se.Error(), se.Offset)
	}
	return err.Error()
}

// fromJSON turns {"$binary": base64} objects into binary ([]byte).
func fromJSON(v any) any {
	switch t := v.(type) {
	case map[string]any:
		if len(t) == 1 {
			if s, ok := t[binaryKey].(string); ok {
				if data, err := base64.StdEncoding.DecodeString(s); err == nil {
					return data
				}
			}
		}
		for k, e := range t {
			t[k] = fromJSON(e)
		}
	case []any:
		for i, e := range t {
			t[i] = fromJSON(e)
		}
	}
	return v
}

type envelope struct {
	Event *string           `json:"event"`
	Data  json.RawMessage   `json:"data"`
	Args  []json.RawMessage `json:"args"`
}

func parseEnvelope(line []byte) (string, []any, error) {
	if len(bytes.TrimSpace(line)) == 0 {
		return "", nil, errors.New("invalid envelope: empty line")
	}
	if !Valid(line, 0) {
		return "", nil, jsonError(line)
	}
	var e envelope
	if err := json.Unmarshal(line, &e); err != nil {
		return "", nil, fmt.Errorf("invalid envelope: want {\"event\": NAME, \"data\": VALUE}: %v", trimJSONErr(err))
	}
	if e.Event == nil {
		return "", nil, errors.New(`invalid envelope: no "event"`)
	}
	if *e.Event == "" {
		return "", nil, errors.New(`invalid envelope: empty "event"`)
	}
	if Reserved(*e.Event) {
		return "", nil, ReservedError(*e.Event)
	}
	if e.Data != nil && e.Args != nil {
		return "", nil, errors.New(`invalid envelope: both "data" and "args"`)
	}
	var raw []json.RawMessage
	switch {
	case e.Args != nil:
		raw = e.Args
	case e.Data != nil:
		raw = []json.RawMessage{e.Data}
	}
	args := make([]any, len(raw))
	for i, r := range raw {
		v, err := parseValue(r)
		if err != nil {
			return "", nil, err
		}
		args[i] = v
	}
	return *e.Event, args, nil
}
