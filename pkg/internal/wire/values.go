package wire

import (
	"fmt"

	"github.com/zishang520/socket.io/servers/socket/v3"
	"github.com/zishang520/socket.io/v3/pkg/types"
)

// ToWire turns binary buffers into []byte (msgpack bin, a Buffer in Node).
func ToWire(v any) any {
	switch t := v.(type) {
	case *types.BytesBuffer:
		return t.Bytes()
	case types.BufferInterface:
		return t.Bytes()
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = ToWire(e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			out[k] = ToWire(e)
		}
		return out
	}
	return v
}

// FromWire turns msgpack values into what the library's JSON decoder would
// give: numbers as float64, bin as binary buffers.
func FromWire(v any) any {
	if n, ok := Number(v); ok {
		return n
	}
	switch t := v.(type) {
	case []byte:
		return types.NewBytesBuffer(t)
	case []any:
		for i, e := range t {
			t[i] = FromWire(e)
		}
		return t
	case map[string]any:
		for k, e := range t {
			t[k] = FromWire(e)
		}
		return t
	}
	return v
}

// RoomList reads a list of rooms: strings, or numbers as Node allows.
func RoomList(v any) ([]socket.Room, error) {
	if v == nil {
		return nil, nil
	}
	list, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("%w: room list is %T", ErrMalformed, v)
	}
	rooms := make([]socket.Room, 0, len(list))
	for _, e := range list {
		switch r := e.(type) {
		case string:
			rooms = append(rooms, socket.Room(r))
		default:
			if n, ok := Number(e); ok { // Node allows numbers as rooms
				rooms = append(rooms, socket.Room(fmt.Sprint(n)))
				continue
			}
			return nil, fmt.Errorf("%w: room is %T", ErrMalformed, e)
		}
	}
	return rooms, nil
}

// Number is a decoded number as a float64.
func Number(v any) (float64, bool) {
	switch n := v.(type) {
	case int8:
		return float64(n), true
	case int16:
		return float64(n), true
	case int32:
		return float64(n), true
	case int64:
		return float64(n), true
	case uint8:
		return float64(n), true
	case uint16:
		return float64(n), true
	case uint32:
		return float64(n), true
	case uint64:
		return float64(n), true
	case float32:
		return float64(n), true
	case float64:
		return n, true
	case int:
		return float64(n), true
	}
	return 0, false
}
