package conn

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"

	"github.com/sio-tools/sio/pkg/lines"
	"github.com/vmihailenco/msgpack/v5"
	"github.com/vmihailenco/msgpack/v5/msgpcode"
)

// The msgpack parser (socket.io-msgpack-parser, Options.Msgpack) sends
// each Socket.IO packet as one binary Engine.IO message, a msgpack map
// {"type": T, "nsp": NSP, "data": DATA, "id": ID}, with binary values in
// place (no attachments, no BINARY_* types). The rest of the client
// speaks the default parser's text form; these two functions translate
// at the link, so that nothing else changes: toMsgpack a text packet and
// its attachments into such a message, fromMsgpack back. Map keys keep
// their order both ways (sio-sub prints objects as they came).

// maxMsgpackDepth bounds the nesting fromMsgpack and toMsgpack walk: as
// deep as encoding/json reads, so that every line sio-pub accepted
// translates (a failure would count as a broken connection, and the line
// be sent again and again).
const maxMsgpackDepth = 10000

var errMsgpack = errors.New("invalid msgpack Socket.IO packet")

// toMsgpack turns a text packet (without the Engine.IO "4") and its
// attachments into a msgpack message.
func toMsgpack(text []byte, bins [][]byte) ([]byte, error) {
	p, err := parsePacket(text)
	if err != nil {
		return nil, err
	}
	typ := p.typ - '0'
	switch p.typ {
	case pBinaryEvent:
		typ = pEvent - '0'
	case pBinaryAck:
		typ = pAck - '0'
	}
	var data *jsonNode
	if len(bytes.TrimSpace(p.data)) > 0 {
		d := json.NewDecoder(bytes.NewReader(p.data))
		d.UseNumber()
		if data, err = readJSON(d, 0); err != nil {
			return nil, fmt.Errorf("%w: %v", errMsgpack, err)
		}
	}
	var buf bytes.Buffer
	e := msgpack.NewEncoder(&buf)
	n := 2
	if data != nil {
		n++
	}
	if p.id >= 0 {
		n++
	}
	_ = e.EncodeMapLen(n)
	_ = e.EncodeString("type")
	_ = e.EncodeInt(int64(typ))
	_ = e.EncodeString("nsp")
	_ = e.EncodeString(p.nsp)
	if data != nil {
		_ = e.EncodeString("data")
		if err := data.encode(e, bins); err != nil {
			return nil, err
		}
	}
	if p.id >= 0 {
		_ = e.EncodeString("id")
		_ = e.EncodeInt(p.id)
	}
	return buf.Bytes(), nil
}

// jsonNode is a JSON value with its object keys in order.
type jsonNode struct {
	kind  byte // 'o' object, 'a' array, 's' string, 'n' number, 'b' bool, 'z' null
	keys  []string
	elems []*jsonNode
	str   string
	num   json.Number
	b     bool
}

func readJSON(d *json.Decoder, depth int) (*jsonNode, error) {
	if depth > maxMsgpackDepth {
		return nil, errors.New("nested too deep")
	}
	tok, err := d.Token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		n := &jsonNode{kind: 'a'}
		if t == '{' {
			n.kind = 'o'
		}
		for d.More() {
			if n.kind == 'o' {
				k, err := d.Token()
				if err != nil {
					return nil, err
				}
				n.keys = append(n.keys, k.(string))
			}
			v, err := readJSON(d, depth+1)
			if err != nil {
				return nil, err
			}
			n.elems = append(n.elems, v)
		}
		if _, err := d.Token(); err != nil { // the closing delimiter
			return nil, err
		}
		return n, nil
	case string:
		return &jsonNode{kind: 's', str: t}, nil
	case json.Number:
		return &jsonNode{kind: 'n', num: t}, nil
	case bool:
		return &jsonNode{kind: 'b', b: t}, nil
	default:
		return &jsonNode{kind: 'z'}, nil
	}
}

// placeholder returns the attachment number of a placeholder object.
func (n *jsonNode) placeholder() (int, bool) {
	if n.kind != 'o' || len(n.keys) != 2 {
		return 0, false
	}
	var num, marked = -1, false
	for i, k := range n.keys {
		v := n.elems[i]
		switch {
		case k == "_placeholder" && v.kind == 'b' && v.b:
			marked = true
		case k == "num" && v.kind == 'n':
			if x, err := strconv.Atoi(v.num.String()); err == nil {
				num = x
			}
		}
	}
	return num, marked && num >= 0
}

func (n *jsonNode) encode(e *msgpack.Encoder, bins [][]byte) error {
	if i, ok := n.placeholder(); ok {
		if i >= len(bins) {
			return fmt.Errorf("%w: attachment %d of %d", errMsgpack, i, len(bins))
		}
		return e.EncodeBytes(bins[i])
	}
	switch n.kind {
	case 'o':
		_ = e.EncodeMapLen(len(n.keys))
		for i, k := range n.keys {
			_ = e.EncodeString(k)
			if err := n.elems[i].encode(e, bins); err != nil {
				return err
			}
		}
	case 'a':
		_ = e.EncodeArrayLen(len(n.elems))
		for _, v := range n.elems {
			if err := v.encode(e, bins); err != nil {
				return err
			}
		}
	case 's':
		return e.EncodeString(n.str)
	case 'n':
		if i, err := strconv.ParseInt(n.num.String(), 10, 64); err == nil {
			return e.EncodeInt(i)
		}
		if u, err := strconv.ParseUint(n.num.String(), 10, 64); err == nil {
			return e.EncodeUint(u)
		}
		f, _ := n.num.Float64()
		return e.EncodeFloat64(f)
	case 'b':
		return e.EncodeBool(n.b)
	default:
		return e.EncodeNil()
	}
	return nil
}

// fromMsgpack turns a msgpack message into the text packet (without the
// Engine.IO "4") and attachments the default parser would have read.
func fromMsgpack(msg []byte) ([]byte, [][]byte, error) {
	d := msgpack.NewDecoder(bytes.NewReader(msg))
	n, err := d.DecodeMapLen()
	if err != nil || n < 0 {
		return nil, nil, errMsgpack
	}
	typ, nsp, id := int64(-1), "/", int64(-1)
	var data []byte
	var bins [][]byte
	for range n {
		k, err := d.DecodeString()
		if err != nil {
			return nil, nil, errMsgpack
		}
		switch k {
		case "type":
			if typ, err = d.DecodeInt64(); err != nil {
				return nil, nil, errMsgpack
			}
		case "nsp":
			if nsp, err = d.DecodeString(); err != nil {
				return nil, nil, errMsgpack
			}
		case "id":
			if id, err = d.DecodeInt64(); err != nil {
				return nil, nil, errMsgpack
			}
		case "data":
			if data, err = appendJSON(nil, d, &bins, 0); err != nil {
				return nil, nil, fmt.Errorf("%w: %v", errMsgpack, err)
			}
		default:
			if err := d.Skip(); err != nil {
				return nil, nil, errMsgpack
			}
		}
	}
	if typ < 0 || typ > 6 {
		return nil, nil, errMsgpack
	}
	t := byte('0' + typ)
	if len(bins) > 0 {
		switch t {
		case pEvent:
			t = pBinaryEvent
		case pAck:
			t = pBinaryAck
		}
	}
	if len(bins) > maxAttachments {
		return nil, nil, fmt.Errorf("%w: %d binary values", errMsgpack, len(bins))
	}
	text := lines.AppendPacketHeader(nil, t, len(bins), nsp, id)
	return append(text, data...), bins, nil
}

// appendJSON appends the next msgpack value as JSON, binary values as
// placeholders for attachments added to bins.
func appendJSON(dst []byte, d *msgpack.Decoder, bins *[][]byte, depth int) ([]byte, error) {
	if depth > maxMsgpackDepth {
		return nil, errors.New("nested too deep")
	}
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
		dst = append(dst, '{')
		written := 0
		for range n {
			k, err := d.DecodeInterfaceLoose()
			if err != nil {
				return nil, err
			}
			ks, ok := k.(string)
			if !ok {
				ks = fmt.Sprint(k)
			}
			if undef, err := skipUndefined(d); err != nil {
				return nil, err
			} else if undef {
				continue // as JSON.stringify leaves out an undefined member
			}
			if written > 0 {
				dst = append(dst, ',')
			}
			written++
			dst = appendJSONString(dst, ks)
			dst = append(dst, ':')
			if dst, err = appendJSON(dst, d, bins, depth+1); err != nil {
				return nil, err
			}
		}
		return append(dst, '}'), nil
	case msgpcode.IsFixedArray(c) || c == msgpcode.Array16 || c == msgpcode.Array32:
		n, err := d.DecodeArrayLen()
		if err != nil {
			return nil, err
		}
		dst = append(dst, '[')
		for i := range n {
			if i > 0 {
				dst = append(dst, ',')
			}
			if dst, err = appendJSON(dst, d, bins, depth+1); err != nil {
				return nil, err
			}
		}
		return append(dst, ']'), nil
	case msgpcode.IsBin(c):
		b, err := d.DecodeBytes()
		if err != nil {
			return nil, err
		}
		*bins = append(*bins, b)
		return fmt.Appendf(dst, `{"_placeholder":true,"num":%d}`, len(*bins)-1), nil
	case msgpcode.IsString(c):
		s, err := d.DecodeString()
		if err != nil {
			return nil, err
		}
		return appendJSONString(dst, s), nil
	case msgpcode.IsExt(c):
		if undef, err := skipUndefined(d); err != nil {
			return nil, err
		} else if undef {
			return append(dst, "null"...), nil // as JSON.stringify writes it in an array
		}
		return nil, errors.New("msgpack extension types are not JSON")
	}
	v, err := d.DecodeInterfaceLoose() // nil, bool, or a number
	if err != nil {
		return nil, err
	}
	switch v := v.(type) {
	case nil:
		return append(dst, "null"...), nil
	case bool:
		return strconv.AppendBool(dst, v), nil
	case int64:
		return strconv.AppendInt(dst, v, 10), nil
	case uint64:
		return strconv.AppendUint(dst, v, 10), nil
	case float64:
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return append(dst, "null"...), nil // as JSON.stringify writes them
		}
		return strconv.AppendFloat(dst, v, 'g', -1, 64), nil
	}
	return nil, fmt.Errorf("msgpack value %T", v)
}

// appendJSONString appends s as a JSON string (<, > and & as they are).
func appendJSONString(dst []byte, s string) []byte {
	var b bytes.Buffer
	e := json.NewEncoder(&b)
	e.SetEscapeHTML(false)
	_ = e.Encode(s)
	return append(dst, bytes.TrimSuffix(b.Bytes(), []byte("\n"))...)
}

// skipUndefined reads the next value if it is JavaScript's undefined, as
// notepack.io (the JavaScript parser's msgpack) writes it: extension type
// 0 of one zero byte (the server's CONNECT answer has "pid": undefined).
// It reports whether it was; another extension type is an error. The
// server's parser has its own (wire.SkipUndefined): pkg/conn links no
// part of the server library (TestClientLinksNoServerLibrary).
func skipUndefined(d *msgpack.Decoder) (bool, error) {
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
