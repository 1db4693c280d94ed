package libfix

import (
	"bytes"
	"encoding/json"

	"github.com/sio-tools/sio/pkg/lines"
)

// What a client may send, checked before the library or the relay sees
// it: a packet the official parsers would refuse is never relayed. The
// library decodes many such packets and encodes them again as something
// every receiver refuses (a placeholder whose "num" is itself a
// placeholder, one attachment referenced eleven times and so sent as
// eleven, more than the JavaScript parser takes): one bad client would
// disconnect every client of its namespace. A connection that sends one
// is closed at once and counted (sio_invalid_packets_total, by reason).
//
// The rules are those of the JavaScript parser (socket.io-parser 4.2),
// which decides what browsers and Node clients take, made stricter where
// the relay re-encodes: every attachment is referenced exactly once.

// maxAttachments is the most binary attachments a packet may have: the
// JavaScript parser refuses more.
const maxAttachments = 10

// MaxAckID is the most digits of an ack id: a larger one is not an exact
// number in JavaScript.
const MaxAckID = 15

// inbound tracks what one transport of a client sent: how many binary
// attachments the last binary packet still waits for.
type inbound struct {
	pending int
}

// check returns why a Socket.IO packet a client sent (the data of an
// Engine.IO message, text or binary) is refused, or "" when it is not.
func (in *inbound) check(data []byte, binary bool) string {
	if binary {
		if in.pending == 0 {
			return "unexpected_binary"
		}
		in.pending--
		return ""
	}
	if in.pending > 0 {
		return "missing_attachment"
	}
	n, reason := checkText(data)
	in.pending = n
	return reason
}

// checkText checks a Socket.IO packet in text:
// TYPE [ATTACHMENTS "-"] ["/" NSP ","] [ID] [JSON]. It returns the
// number of attachments that follow it.
func checkText(b []byte) (attachments int, reason string) {
	if len(b) == 0 {
		return 0, "empty"
	}
	typ := b[0]
	b = b[1:]
	switch typ {
	case '0', '1', '2', '3':
	case '5', '6':
		i := 0
		for i < len(b) && i < 3 && b[i] >= '0' && b[i] <= '9' {
			attachments = attachments*10 + int(b[i]-'0')
			i++
		}
		if i == 0 || i == len(b) || b[i] != '-' || attachments < 1 || attachments > maxAttachments {
			return 0, "attachments"
		}
		b = b[i+1:]
	default:
		return 0, "type" // a client sends no CONNECT_ERROR
	}
	if len(b) > 0 && b[0] == '/' {
		i := bytes.IndexByte(b, ',')
		if i < 0 {
			b = nil // a namespace alone
		} else {
			b = b[i+1:]
		}
	}
	if typ == '0' || typ == '1' {
		if len(b) > 0 && b[0] >= '0' && b[0] <= '9' {
			return 0, "ack_id" // no ack for a CONNECT or a DISCONNECT
		}
	} else {
		i := 0
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		if i > MaxAckID {
			return 0, "ack_id"
		}
		if (typ == '3' || typ == '6') && i == 0 {
			return 0, "ack_id" // an ack answers an id
		}
		b = b[i:]
	}
	if len(b) > 0 && !lines.Valid(b, lines.UTF8|lines.Floats) {
		if !lines.Valid(b, lines.UTF8) {
			return 0, "payload"
		}
		return 0, "number"
	}
	first := firstByte(b)
	switch typ {
	case '0':
		if len(b) > 0 && first != '{' {
			return 0, "payload"
		}
	case '1':
		if len(b) > 0 {
			return 0, "payload"
		}
	case '2', '5':
		if first != '[' || !eventName(b) {
			return 0, "payload"
		}
	case '3', '6':
		if first != '[' {
			return 0, "payload"
		}
	}
	if typ == '5' || typ == '6' {
		if !placeholders(b, attachments) {
			return 0, "placeholder"
		}
	}
	return attachments, ""
}

func firstByte(b []byte) byte {
	b = bytes.TrimLeft(b, " \t\r\n")
	if len(b) == 0 {
		return 0
	}
	return b[0]
}

// eventName reports whether a valid JSON array starts with a string or a
// number, as an event's name must (a number is taken by the parsers and
// then dropped by the relay).
func eventName(b []byte) bool {
	b = bytes.TrimLeft(b, " \t\r\n")
	b = bytes.TrimLeft(b[1:], " \t\r\n")
	if len(b) == 0 {
		return false
	}
	return b[0] == '"' || b[0] == '-' || (b[0] >= '0' && b[0] <= '9')
}

// placeholders reports whether the valid JSON b references each of n
// attachments exactly once, each by a well-formed placeholder
// ({"_placeholder":true,"num":I}, nothing else), and has no other object
// with a "_placeholder" key. The event name (first element) is no
// placeholder: eventName checked it is a string or a number.
func placeholders(b []byte, n int) bool {
	var v any
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if d.Decode(&v) != nil {
		return false // deeper than the decoder goes, say
	}
	seen := make([]bool, n)
	if !walkPlaceholders(v, seen) {
		return false
	}
	for _, ok := range seen {
		if !ok {
			return false
		}
	}
	return true
}

func walkPlaceholders(v any, seen []bool) bool {
	switch t := v.(type) {
	case []any:
		for _, e := range t {
			if !walkPlaceholders(e, seen) {
				return false
			}
		}
	case map[string]any:
		p, isPlaceholder := t["_placeholder"]
		if !isPlaceholder {
			for _, e := range t {
				if !walkPlaceholders(e, seen) {
					return false
				}
			}
			return true
		}
		num, ok := t["num"].(json.Number)
		if p != true || !ok || len(t) != 2 {
			return false
		}
		i, err := num.Int64()
		if err != nil || i < 0 || i >= int64(len(seen)) || seen[i] {
			return false
		}
		seen[i] = true
	}
	return true
}

// Inbound checks the packets of one connection that the library does not
// read (the relay's own websocket sessions, pkg/relay/lite.go) with the
// same rules: Check returns why the data of an Engine.IO message (text
// without its "4", or binary) is refused, or "".
type Inbound struct{ in inbound }

func (i *Inbound) Check(data []byte, binary bool) string { return i.in.check(data, binary) }

// Owed reports whether binary attachments are still owed.
func (i *Inbound) Owed() bool { return i.in.pending > 0 }
