package lines

import (
	"encoding/json"
	"fmt"
	"strconv"
	"unicode/utf8"
)

// AppendHeader appends the start of an EVENT packet: 2[/nsp,][id].
func AppendHeader(dst []byte, nsp string, id int64) []byte {
	return AppendPacketHeader(dst, '2', 0, nsp, id)
}

// AppendPacketHeader appends the start of a Socket.IO packet of type typ
// (an ASCII digit): TYPE [ATTACHMENTS "-"] [NSP ","] [ID]. The namespace
// "/" is left out, as is an id below zero.
func AppendPacketHeader(dst []byte, typ byte, attachments int, nsp string, id int64) []byte {
	dst = append(dst, typ)
	if attachments > 0 {
		dst = strconv.AppendInt(dst, int64(attachments), 10)
		dst = append(dst, '-')
	}
	if nsp != "" && nsp != "/" {
		dst = append(dst, nsp...)
		dst = append(dst, ',')
	}
	if id >= 0 {
		dst = strconv.AppendInt(dst, id, 10)
	}
	return dst
}

// EncodeArray appends the data of an EVENT packet, ["event",args...].
// Strings are escaped here and json.RawMessage (valid JSON, as Parse
// gives) is copied as is, so the common events are encoded once, without
// reflection; other values go through encoding/json, binary ones as
// base64 strings (an event with binary arguments goes with attachments
// instead: see HasBinary). It fails, returning dst as it was, when an
// argument cannot be encoded (NaN, a channel): the caller must refuse the
// event, as sending null or anything else in its place would deliver
// something nobody sent.
func EncodeArray(dst []byte, event string, args []any) ([]byte, error) {
	start := len(dst)
	dst = append(dst, '[')
	dst = AppendString(dst, event)
	for i, a := range args {
		dst = append(dst, ',')
		switch v := a.(type) {
		case string:
			dst = AppendString(dst, v)
		case json.RawMessage:
			dst = append(dst, v...)
		default:
			b, err := json.Marshal(v)
			if err != nil {
				return dst[:start], fmt.Errorf("argument %d: %v", i+1, err)
			}
			dst = append(dst, b...)
		}
	}
	return append(dst, ']'), nil
}

// AppendArray is EncodeArray for arguments known to encode: pkg/conn's,
// which sio-pub checked with EncodeArray before handing them over. A
// failure is a bug in the caller, and it panics rather than send
// something else in the argument's place. It is to go once pkg/conn uses
// EncodeArray and returns its error.
func AppendArray(dst []byte, event string, args []any) []byte {
	out, err := EncodeArray(dst, event, args)
	if err != nil {
		panic(fmt.Sprintf("lines.AppendArray: event %q: %v (the caller should have checked with EncodeArray)", event, err))
	}
	return out
}

// HasBinary tells whether an argument holds binary data.
func HasBinary(args []any) bool {
	for _, a := range args {
		if hasBinary(a) {
			return true
		}
	}
	return false
}

func hasBinary(v any) bool {
	switch t := v.(type) {
	case []byte:
		return true
	case []any:
		for _, e := range t {
			if hasBinary(e) {
				return true
			}
		}
	case map[string]any:
		for _, e := range t {
			if hasBinary(e) {
				return true
			}
		}
	}
	return false
}

const hex = "0123456789abcdef"

// AppendString appends s as a JSON string. s must be valid UTF-8 (Parse
// checks); invalid bytes are replaced with U+FFFD as encoding/json does.
func AppendString(dst []byte, s string) []byte { return appendString(dst, s) }

// AppendBytesString is AppendString for text in a byte slice (a line as
// read), without making a string of it first.
func AppendBytesString(dst []byte, b []byte) []byte { return appendString(dst, b) }

func appendString[T string | []byte](dst []byte, s T) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		// At most utf8.UTFMax bytes made a string: on the stack.
		r, size := utf8.DecodeRuneInString(string(s[i:min(i+utf8.UTFMax, len(s))]))
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
