// Package msgpackparser is the Socket.IO msgpack parser for the library's
// server (sio-serve --parser msgpack): the wire format of the JavaScript
// socket.io-msgpack-parser. Each Socket.IO packet is one binary Engine.IO
// message, a msgpack map {"type": T, "nsp": NSP, "data": DATA, "id": ID}
// with binary values in place: no attachments, no BINARY_* types.
//
// A packet is checked as the JavaScript parser checks it (type, namespace,
// data by type, id), and more: nesting is bounded, map keys must be
// strings, and extension types other than JavaScript's undefined are
// refused, so that every packet decoded can be encoded again for the
// other clients.
package msgpackparser

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"

	"github.com/sio-tools/sio/pkg/internal/wire"
	"github.com/vmihailenco/msgpack/v5"
	"github.com/vmihailenco/msgpack/v5/msgpcode"
	"github.com/zishang520/socket.io/parsers/socket/v3/parser"
	"github.com/zishang520/socket.io/v3/pkg/types"
)

// Parser makes the msgpack encoders and decoders; give it to the
// library's ServerOptions.SetParser.
type Parser struct{}

func (Parser) NewEncoder() parser.Encoder { return encoder{} }

func (Parser) NewDecoder() parser.Decoder {
	return &decoder{EventEmitter: types.NewEventEmitter()}
}

// MaxDepth bounds the nesting of a packet's data, as deep as the default
// parser's JSON reader goes.
const MaxDepth = 10000

type encoder struct{}

// Encode encodes p as one msgpack message. Data the relay holds is what a
// decoder made, or what the library builds (strings, numbers, maps); a
// value that cannot be encoded is sent as nil rather than not at all.
func (encoder) Encode(p *parser.Packet) []types.BufferInterface {
	b, err := Encode(p)
	if err != nil {
		b, _ = Encode(&parser.Packet{Type: p.Type, Nsp: p.Nsp, Id: p.Id})
	}
	return []types.BufferInterface{types.NewBytesBuffer(b)}
}

// Encode encodes one packet. BINARY_EVENT and BINARY_ACK become EVENT and
// ACK (binary values travel in place).
func Encode(p *parser.Packet) ([]byte, error) {
	typ := p.Type
	switch typ {
	case parser.BINARY_EVENT:
		typ = parser.EVENT
	case parser.BINARY_ACK:
		typ = parser.ACK
	}
	var buf bytes.Buffer
	e := msgpack.NewEncoder(&buf)
	e.SetSortMapKeys(true)
	n := 2
	if p.Data != nil {
		n++
	}
	if p.Id != nil {
		n++
	}
	_ = e.EncodeMapLen(n)
	_ = e.EncodeString("type")
	_ = e.EncodeInt(int64(typ))
	_ = e.EncodeString("nsp")
	_ = e.EncodeString(p.Nsp)
	if p.Data != nil {
		_ = e.EncodeString("data")
		if err := encodeValue(e, p.Data, 0); err != nil {
			return nil, err
		}
	}
	if p.Id != nil {
		_ = e.EncodeString("id")
		_ = e.EncodeUint(*p.Id)
	}
	return buf.Bytes(), nil
}

// encodeValue encodes v, the library's binary buffers as msgpack binary.
func encodeValue(e *msgpack.Encoder, v any, depth int) error {
	if depth > MaxDepth {
		return errTooDeep
	}
	switch t := v.(type) {
	case []any:
		if err := e.EncodeArrayLen(len(t)); err != nil {
			return err
		}
		for _, x := range t {
			if err := encodeValue(e, x, depth+1); err != nil {
				return err
			}
		}
		return nil
	case map[string]any:
		if err := e.EncodeMapLen(len(t)); err != nil {
			return err
		}
		for _, k := range sortedKeys(t) {
			_ = e.EncodeString(k)
			if err := encodeValue(e, t[k], depth+1); err != nil {
				return err
			}
		}
		return nil
	case *types.BytesBuffer:
		return e.EncodeBytes(t.Bytes())
	case []byte:
		return e.EncodeBytes(t)
	case types.BufferInterface:
		return e.EncodeBytes(t.Bytes())
	}
	return e.Encode(v)
}

var errTooDeep = errors.New("nested too deep")

// decoder decodes one msgpack message per Add into a packet, emitted as
// "decoded" (the library's Decoder).
type decoder struct {
	types.EventEmitter
}

// Add decodes one message; an error closes the client's connection.
func (d *decoder) Add(data any) error {
	var b []byte
	switch t := data.(type) {
	case *types.StringBuffer, string:
		return errors.New("msgpack parser: a text message")
	case types.BufferInterface:
		b = t.Bytes()
	case []byte:
		b = t
	case io.Reader:
		var err error
		if b, err = io.ReadAll(t); err != nil {
			return err
		}
	default:
		return fmt.Errorf("msgpack parser: unknown data %T", data)
	}
	p, err := Decode(b)
	if err != nil {
		return err
	}
	d.Emit("decoded", p)
	return nil
}

func (d *decoder) Destroy() {}

// Decode decodes and checks one packet.
func Decode(b []byte) (*parser.Packet, error) {
	r := bytes.NewReader(b) // a ByteScanner: the decoder reads no further than it needs
	d := msgpack.NewDecoder(r)
	in := &input{b, r, d}
	n, err := d.DecodeMapLen()
	if err != nil || n <= 0 {
		return nil, errInvalid("not a map")
	}
	p := &parser.Packet{Type: -1}
	hasNsp, hasData := false, false
	for range n {
		k, err := in.key()
		if err != nil {
			return nil, errInvalid("a key is not a string")
		}
		switch k {
		case "type":
			t, err := d.DecodeInt64()
			if err != nil || t < int64(parser.CONNECT) || t > int64(parser.CONNECT_ERROR) {
				return nil, errInvalid("invalid packet type")
			}
			p.Type = parser.PacketType(t)
		case "nsp":
			if err := in.fits(); err != nil {
				return nil, errInvalid(err.Error())
			}
			if p.Nsp, err = d.DecodeString(); err != nil {
				return nil, errInvalid("invalid namespace")
			}
			hasNsp = true
		case "id":
			if undefined, err := wire.SkipUndefined(d); err != nil || undefined {
				if err != nil {
					return nil, errInvalid("invalid packet id")
				}
				continue
			}
			id, err := d.DecodeInt64()
			if err != nil || id < 0 || id > 1<<53 {
				return nil, errInvalid("invalid packet id")
			}
			u := uint64(id)
			p.Id = &u
		case "data":
			if p.Data, err = in.value(0); err != nil {
				return nil, errInvalid(err.Error())
			}
			hasData = p.Data != nil
		default:
			if _, err := in.value(0); err != nil {
				return nil, errInvalid(err.Error())
			}
		}
	}
	if r.Len() > 0 {
		return nil, errInvalid("bytes after the packet")
	}
	if p.Type < 0 {
		return nil, errInvalid("invalid packet type")
	}
	if !hasNsp {
		return nil, errInvalid("invalid namespace")
	}
	if !dataValid(p.Type, p.Data, hasData) {
		return nil, errInvalid("invalid payload")
	}
	return p, nil
}

func errInvalid(why string) error { return errors.New("msgpack parser: " + why) }

// dataValid checks a packet's data by its type, as the JavaScript parser.
func dataValid(t parser.PacketType, data any, has bool) bool {
	switch t {
	case parser.CONNECT:
		_, isMap := data.(map[string]any)
		return !has || isMap
	case parser.DISCONNECT:
		return !has
	case parser.CONNECT_ERROR:
		_, isMap := data.(map[string]any)
		_, isString := data.(string)
		return isMap || isString
	}
	a, ok := data.([]any)
	if t == parser.EVENT {
		// An event needs a name: the library takes the first argument
		// as one.
		if !ok || len(a) == 0 {
			return false
		}
		_, named := a[0].(string)
		return named
	}
	return ok
}

// input is a message being decoded.
type input struct {
	b []byte
	r *bytes.Reader // over b
	d *msgpack.Decoder
}

// fits refuses a next value whose 32-bit length or count is more than
// the bytes left: the decoder would allocate for it first (seconds for
// a "3 GB" binary in an 11-byte message).
func (in *input) fits() error {
	rest := in.b[len(in.b)-in.r.Len():]
	if len(rest) < 5 {
		return nil
	}
	switch rest[0] {
	case msgpcode.Str32, msgpcode.Bin32, msgpcode.Ext32, msgpcode.Array32, msgpcode.Map32:
		if int64(binary.BigEndian.Uint32(rest[1:5])) > int64(len(rest)) {
			return errors.New("a length longer than the message")
		}
	}
	return nil
}

// key decodes a map key, which must be a string.
func (in *input) key() (string, error) {
	if err := in.fits(); err != nil {
		return "", err
	}
	return in.d.DecodeString()
}

// value decodes the next value as the library holds data: maps with
// string keys, []any, float64 or integers, strings, bools, nil, and
// binary as a *types.BytesBuffer (what the default parser makes of an
// attachment).
func (in *input) value(depth int) (any, error) {
	if depth > MaxDepth {
		return nil, errTooDeep
	}
	if err := in.fits(); err != nil {
		return nil, err
	}
	d := in.d
	c, err := d.PeekCode()
	if err != nil {
		return nil, err
	}
	switch {
	case msgpcode.IsFixedMap(c) || c == msgpcode.Map16 || c == msgpcode.Map32:
		n, err := d.DecodeMapLen()
		if err != nil {
			return nil, err
		}
		m := make(map[string]any, min(n, 64))
		for range n {
			k, err := in.key()
			if err != nil {
				return nil, errors.New("a map key is not a string")
			}
			v, err := in.value(depth + 1)
			if err != nil {
				return nil, err
			}
			m[k] = v
		}
		return m, nil
	case msgpcode.IsFixedArray(c) || c == msgpcode.Array16 || c == msgpcode.Array32:
		n, err := d.DecodeArrayLen()
		if err != nil {
			return nil, err
		}
		a := make([]any, 0, min(n, 64))
		for range n {
			v, err := in.value(depth + 1)
			if err != nil {
				return nil, err
			}
			a = append(a, v)
		}
		return a, nil
	case c == msgpcode.Bin8 || c == msgpcode.Bin16 || c == msgpcode.Bin32:
		b, err := d.DecodeBytes()
		if err != nil {
			return nil, err
		}
		return types.NewBytesBuffer(b), nil
	case msgpcode.IsExt(c):
		if undefined, err := wire.SkipUndefined(d); err != nil || !undefined {
			return nil, errors.New("a msgpack extension type")
		}
		return nil, nil
	case c == msgpcode.Float || c == msgpcode.Double:
		f, err := d.DecodeFloat64()
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, errors.New("a number JSON cannot hold")
		}
		return f, nil
	}
	v, err := d.DecodeInterfaceLoose() // nil, bool, integers, strings
	if err != nil {
		return nil, err
	}
	switch v.(type) {
	case nil, bool, int64, uint64, string:
		return v, nil
	}
	return nil, fmt.Errorf("a msgpack value of type %T", v)
}

func sortedKeys(m map[string]any) []string { return slices.Sorted(maps.Keys(m)) }
