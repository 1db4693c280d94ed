package wire

import (
	"bytes"
	"fmt"

	"github.com/vmihailenco/msgpack/v5"
	"github.com/vmihailenco/msgpack/v5/msgpcode"
)

// MaxJSONDepth bounds the nesting of a JSON message from another node,
// as Check bounds msgpack's.
const MaxJSONDepth = 256

// DecodeMsgpack decodes a msgpack message after Check, with maps whose
// keys must be strings: the library's own map decoding panics on a key
// that is a map after one that is a string (found by FuzzDecodeEntry).
func DecodeMsgpack(b []byte) (any, error) {
	if err := Check(b); err != nil {
		return nil, err
	}
	d := msgpack.NewDecoder(bytes.NewReader(b))
	d.SetMapDecoder(stringMap)
	v, err := d.DecodeInterface()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return v, nil
}

func stringMap(d *msgpack.Decoder) (any, error) {
	n, err := d.DecodeMapLen()
	if err != nil {
		return nil, err
	}
	m := make(map[string]any, min(max(n, 0), 64))
	for range n {
		k, err := d.DecodeString()
		if err != nil {
			return nil, fmt.Errorf("%w: a map key is not a string", ErrMalformed)
		}
		if m[k], err = d.DecodeInterface(); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// JSONDepthOK refuses JSON whose arrays and objects nest deeper than
// MaxJSONDepth, before it is decoded; brackets inside strings do not
// count.
func JSONDepthOK(b []byte) error {
	depth, inString := 0, false
	for i := 0; i < len(b); i++ {
		c := b[i]
		switch {
		case inString && c == '\\':
			i++
		case c == '"':
			inString = !inString
		case inString:
		case c == '[' || c == '{':
			if depth++; depth > MaxJSONDepth {
				return fmt.Errorf("%w: nested deeper than %d", ErrMalformed, MaxJSONDepth)
			}
		case c == ']' || c == '}':
			depth--
		}
	}
	return nil
}

// SkipUndefined reads the next value if it is JavaScript's undefined, as
// notepack.io (the msgpack of socket.io-msgpack-parser) writes it:
// extension type 0 of one zero byte (a CONNECT answer's "pid":
// undefined). It reports whether it was; another extension type is an
// error.
func SkipUndefined(d *msgpack.Decoder) (bool, error) {
	c, err := d.PeekCode()
	if err != nil || !msgpcode.IsExt(c) {
		return false, err
	}
	id, n, err := d.DecodeExtHeader()
	if err != nil {
		return false, err
	}
	if id != 0 || n != 1 {
		return false, fmt.Errorf("msgpack extension type %d is not JSON", id)
	}
	var b [1]byte
	return true, d.ReadFull(b[:])
}
