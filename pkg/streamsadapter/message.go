package streamsadapter

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/sio-tools/sio/pkg/internal/wire"
	"github.com/zishang520/socket.io/parsers/socket/v3/parser"
	"github.com/zishang520/socket.io/servers/socket/v3"
	"github.com/zishang520/socket.io/v3/pkg/types"
)

// message is a ClusterAdapter message of another node, from the stream
// or from pub/sub.
type message struct {
	UID       string
	Nsp       string
	Type      int
	Data      map[string]any
	RequestID string
	Offset    string // the stream entry's id
}

var errMalformed = wire.ErrMalformed

// decodeEntry reads a stream entry's fields: uid, nsp, type (a decimal
// string) and data (JSON, or base64 of msgpack).
func decodeEntry(v map[string]any) (*message, error) {
	m := &message{}
	var ok bool
	if m.UID, ok = v["uid"].(string); !ok {
		return nil, fmt.Errorf("%w: no uid", errMalformed)
	}
	if m.Nsp, ok = v["nsp"].(string); !ok {
		return nil, fmt.Errorf("%w: no nsp", errMalformed)
	}
	t, _ := v["type"].(string)
	n, err := strconv.Atoi(t)
	if err != nil {
		return nil, fmt.Errorf("%w: type %q", errMalformed, t)
	}
	m.Type = n
	if d, _ := v["data"].(string); d != "" {
		if m.Data, err = decodeData(d); err != nil {
			return nil, err
		}
	}
	return m, m.check()
}

// decodeData reads an entry's data field.
func decodeData(d string) (map[string]any, error) {
	if len(d) > wire.MaxMessage*4/3+4 {
		return nil, fmt.Errorf("%w: %d bytes of data", errMalformed, len(d))
	}
	var v any
	if d[0] == '{' {
		if err := wire.JSONDepthOK([]byte(d)); err != nil {
			return nil, err
		}
		dec := json.NewDecoder(bytes.NewReader([]byte(d)))
		if err := dec.Decode(&v); err != nil {
			return nil, fmt.Errorf("%w: %v", errMalformed, err)
		}
	} else {
		b, err := base64.StdEncoding.DecodeString(d)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", errMalformed, err)
		}
		if v, err = wire.DecodeMsgpack(b); err != nil {
			return nil, err
		}
	}
	data, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%w: data is %T", errMalformed, v)
	}
	return data, nil
}

// decodeRequest reads a pub/sub message: the msgpack map {uid, nsp,
// type, data}.
func decodeRequest(body []byte) (*message, error) {
	v, err := wire.DecodeMsgpack(body)
	if err != nil {
		return nil, err
	}
	raw, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%w: message is %T", errMalformed, v)
	}
	m := &message{}
	m.UID, _ = raw["uid"].(string)
	if m.Nsp, ok = raw["nsp"].(string); !ok {
		return nil, fmt.Errorf("%w: no nsp", errMalformed)
	}
	t, ok := wire.Number(raw["type"])
	if !ok {
		return nil, fmt.Errorf("%w: type is %T", errMalformed, raw["type"])
	}
	m.Type = int(t)
	if d, present := raw["data"]; present && d != nil {
		if m.Data, ok = d.(map[string]any); !ok {
			return nil, fmt.Errorf("%w: data is %T", errMalformed, d)
		}
	}
	return m, m.check()
}

// check checks the fields every message of its type needs.
func (m *message) check() error {
	if id, present := m.Data["requestId"]; present {
		s, ok := id.(string)
		if !ok {
			return fmt.Errorf("%w: requestId is %T", errMalformed, id)
		}
		m.RequestID = s
	}
	switch m.Type {
	case typeBroadcast, typeSocketsJoin, typeSocketsLeave, typeDisconnectSockets, typeFetchSockets:
		if m.Data == nil {
			return fmt.Errorf("%w: type %d without data", errMalformed, m.Type)
		}
	}
	return nil
}

// broadcast is the packet and options of a BROADCAST.
func (m *message) broadcast() (*parser.Packet, *socket.BroadcastOptions, error) {
	pkt, ok := m.Data["packet"].(map[string]any)
	if !ok {
		return nil, nil, fmt.Errorf("%w: packet is %T", errMalformed, m.Data["packet"])
	}
	typ, ok := wire.Number(pkt["type"])
	if !ok || (typ != float64(parser.EVENT) && typ != float64(parser.BINARY_EVENT)) {
		return nil, nil, fmt.Errorf("%w: packet type %v", errMalformed, pkt["type"])
	}
	data, ok := pkt["data"].([]any)
	if !ok || len(data) == 0 {
		return nil, nil, fmt.Errorf("%w: data is %T", errMalformed, pkt["data"])
	}
	if _, ok := data[0].(string); !ok {
		return nil, nil, fmt.Errorf("%w: event name is %T", errMalformed, data[0])
	}
	o, _, err := m.socketsOp()
	if err != nil {
		return nil, nil, err
	}
	return &parser.Packet{Type: parser.EVENT, Nsp: m.Nsp, Data: wire.FromWire(data)}, o, nil
}

// socketsOp reads opts {rooms, except, flags} and rooms of a message.
func (m *message) socketsOp() (*socket.BroadcastOptions, []socket.Room, error) {
	opts, _ := m.Data["opts"].(map[string]any)
	rooms, err := wire.RoomList(opts["rooms"])
	if err != nil {
		return nil, nil, err
	}
	except, err := wire.RoomList(opts["except"])
	if err != nil {
		return nil, nil, err
	}
	o := &socket.BroadcastOptions{Rooms: types.NewSet(rooms...), Except: types.NewSet(except...),
		Flags: &socket.BroadcastFlags{}}
	if flags, ok := opts["flags"].(map[string]any); ok {
		if v, present := flags["volatile"]; present && v != false {
			o.Flags.Volatile = true
		}
	}
	joined, err := wire.RoomList(m.Data["rooms"])
	if err != nil {
		return nil, nil, err
	}
	return o, joined, nil
}
