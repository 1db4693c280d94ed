package conn

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/sio-tools/sio/pkg/lines"
)

// Socket.IO v5 packet types, as the digit that starts a packet.
const (
	pConnect      = '0'
	pDisconnect   = '1'
	pEvent        = '2'
	pAck          = '3'
	pConnectError = '4'
	pBinaryEvent  = '5'
	pBinaryAck    = '6'
)

// packet is a Socket.IO packet as read off the wire:
// TYPE [ATTACHMENTS "-"] ["/" NSP ","] [ID] [JSON].
type packet struct {
	typ         byte
	attachments int
	nsp         string
	id          int64 // -1: none
	data        []byte
}

// maxAttachments bounds the binary attachments one packet may announce
// (the official client allows 10).
const maxAttachments = 10

var errBadPacket = errors.New("invalid Socket.IO packet")

// parsePacket reads the text part of a Socket.IO packet.
func parsePacket(b []byte) (packet, error) {
	p := packet{id: -1, nsp: "/"}
	if len(b) == 0 || b[0] < pConnect || b[0] > pBinaryAck {
		return p, errBadPacket
	}
	p.typ, b = b[0], b[1:]
	if p.typ == pBinaryEvent || p.typ == pBinaryAck {
		i := 0
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		if i == 0 || i > 3 || i >= len(b) || b[i] != '-' {
			return p, errBadPacket
		}
		n, _ := strconv.Atoi(string(b[:i]))
		if n > maxAttachments {
			return p, fmt.Errorf("%w: %d attachments", errBadPacket, n)
		}
		p.attachments, b = n, b[i+1:]
	}
	if len(b) > 0 && b[0] == '/' {
		i := bytes.IndexByte(b, ',')
		if i < 0 {
			p.nsp, b = string(b), nil
		} else {
			p.nsp, b = string(b[:i]), b[i+1:]
		}
	}
	i := 0
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	if i > 0 {
		id, err := strconv.ParseInt(string(b[:i]), 10, 64)
		if err != nil {
			return p, errBadPacket
		}
		p.id, b = id, b[i:]
	}
	p.data = b
	return p, nil
}

// decoder decodes the data of packets, one after the other: it keeps the
// slice it splits arrays into, and the last event name, which most events
// repeat.
type decoder struct {
	raws []json.RawMessage
	name string
}

// event reads an EVENT's data, ["name", args...]. JSON arguments come
// back as json.RawMessage, exactly as they were sent (key order, number
// spelling); those of an event with attachments are decoded, with each
// placeholder replaced by its attachment ([]byte).
func (d *decoder) event(data []byte, bins [][]byte) (string, []any, error) {
	raws, err := d.split(data)
	if err != nil {
		return "", nil, err
	}
	defer d.forget()
	if len(raws) == 0 {
		return "", nil, fmt.Errorf("%w: an event without a name", errBadPacket)
	}
	name, ok := d.eventName(raws[0])
	if !ok {
		return "", nil, fmt.Errorf("%w: an event name that is not a string", errBadPacket)
	}
	args, err := decodeArgs(raws[1:], bins)
	return name, args, err
}

// args reads an ACK's data, a JSON array of arguments, as event does.
func (d *decoder) args(data []byte, bins [][]byte) ([]any, error) {
	raws, err := d.split(data)
	if err != nil {
		return nil, err
	}
	defer d.forget()
	return decodeArgs(raws, bins)
}

func (d *decoder) split(data []byte) ([]json.RawMessage, error) {
	raws, err := lines.AppendElements(d.raws[:0], data)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errBadPacket, err)
	}
	d.raws = raws
	return raws, nil
}

// forget lets go of the message the elements were cut from.
func (d *decoder) forget() { clear(d.raws) }

// eventName reads an event's name, the string it was the last time when
// it is the same.
func (d *decoder) eventName(raw json.RawMessage) (string, bool) {
	if n := len(raw); n >= 2 && raw[0] == '"' && raw[n-1] == '"' && string(raw[1:n-1]) == d.name &&
		bytes.IndexByte(raw[1:n-1], '\\') < 0 {
		return d.name, true
	}
	name, ok := lines.AsString(raw)
	if ok {
		d.name = name
	}
	return name, ok
}

// decodeArgs makes the arguments of the elements of an array. One without
// a placeholder stays as it came (json.RawMessage); one with placeholders
// is decoded, and gets its attachments.
func decodeArgs(raw []json.RawMessage, bins [][]byte) ([]any, error) {
	args := make([]any, len(raw))
	used := make([]bool, len(bins))
	for i, r := range raw {
		if len(bins) == 0 || !bytes.Contains(r, []byte(`"_placeholder"`)) {
			args[i] = r
			continue
		}
		d := json.NewDecoder(bytes.NewReader(r))
		d.UseNumber()
		var v any
		if err := d.Decode(&v); err != nil {
			return nil, fmt.Errorf("%w: %v", errBadPacket, err)
		}
		var err error
		if args[i], err = fillPlaceholders(v, bins, used, 0); err != nil {
			return nil, err
		}
	}
	return args, nil
}

// maxDepth bounds the nesting fillPlaceholders walks.
const maxDepth = 256

// fillPlaceholders replaces {"_placeholder":true,"num":N} with bins[N].
func fillPlaceholders(v any, bins [][]byte, used []bool, depth int) (any, error) {
	if depth > maxDepth {
		return nil, fmt.Errorf("%w: nested too deep", errBadPacket)
	}
	switch t := v.(type) {
	case map[string]any:
		if ph, ok := t["_placeholder"].(bool); ok && ph && len(t) == 2 {
			n, ok := t["num"].(json.Number)
			if !ok {
				return nil, fmt.Errorf("%w: a placeholder without a number", errBadPacket)
			}
			i, err := strconv.Atoi(string(n))
			if err != nil || i < 0 || i >= len(bins) {
				return nil, fmt.Errorf("%w: placeholder %s of %d attachments", errBadPacket, n, len(bins))
			}
			used[i] = true
			return bins[i], nil
		}
		for k, e := range t {
			r, err := fillPlaceholders(e, bins, used, depth+1)
			if err != nil {
				return nil, err
			}
			t[k] = r
		}
	case []any:
		for i, e := range t {
			r, err := fillPlaceholders(e, bins, used, depth+1)
			if err != nil {
				return nil, err
			}
			t[i] = r
		}
	}
	return v, nil
}

// encodeEvent encodes an EVENT packet for event and args, with ack id id
// (-1 for none). Binary arguments ([]byte, also nested in maps and
// slices) become attachments: the packet is then a BINARY_EVENT and bins
// are the frames that follow it.
func encodeEvent(nsp string, id int64, event string, args []any) (text []byte, bins [][]byte) {
	if !lines.HasBinary(args) {
		text = lines.AppendPacketHeader(make([]byte, 0, 64), pEvent, 0, nsp, id)
		return lines.AppendArray(text, event, args), nil
	}
	out := make([]any, len(args))
	for i, a := range args {
		out[i] = placeholders(a, &bins)
	}
	text = lines.AppendPacketHeader(make([]byte, 0, 64), pBinaryEvent, len(bins), nsp, id)
	return lines.AppendArray(text, event, out), bins
}

// placeholders returns v with every []byte replaced by a placeholder for
// the attachment it is appended to bins as.
func placeholders(v any, bins *[][]byte) any {
	switch t := v.(type) {
	case []byte:
		*bins = append(*bins, t)
		return map[string]any{"_placeholder": true, "num": len(*bins) - 1}
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			out[k] = placeholders(e, bins)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = placeholders(e, bins)
		}
		return out
	}
	return v
}
