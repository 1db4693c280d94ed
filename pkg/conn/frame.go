package conn

import (
	"encoding/binary"
	"math/rand/v2"
	"net"

	"github.com/gorilla/websocket"
)

// The websocket writing side is ours, as sio-serve's is (its libfix
// writeBatch): gorilla writes every message with a system call of its
// own and sets the connection's deadline for each, which made sio-pub
// cost a write(2) per line. A link over a websocket builds the frames of
// everything it writes at once into one buffer and writes it with one
// call on the connection gorilla dialled (raw). Gorilla still reads, and
// writes the close frame; net.Conn writes are whole, so its frames and
// ours never mix.

// out is one message to write: a websocket message of type typ
// (websocket.TextMessage or BinaryMessage) whose payload is head and then
// body, so that a packet's header and its caller's body need not be
// copied together first.
type out struct {
	typ  int
	head []byte
	body []byte
}

func (m out) size() int { return len(m.head) + len(m.body) }

// rawConn is the connection under a websocket frames, or nil for
// long-polling.
func rawConn(f frames) net.Conn {
	switch f := f.(type) {
	case *websocket.Conn:
		return f.NetConn()
	case *handedOver:
		return f.ws.NetConn()
	}
	return nil
}

// maxKeptBuffer is the largest write buffer a link keeps between writes.
const maxKeptBuffer = 1 << 20

// appendFrame appends a client's frame for the whole message m: FIN, the
// opcode, the masked length, a fresh masking key, the masked payload.
func appendFrame(b []byte, m out) []byte {
	op := byte(0x80 | websocket.TextMessage)
	if m.typ == websocket.BinaryMessage {
		op = 0x80 | websocket.BinaryMessage
	}
	n := m.size()
	switch {
	case n < 126:
		b = append(b, op, 0x80|byte(n))
	case n <= 0xffff:
		b = binary.BigEndian.AppendUint16(append(b, op, 0x80|126), uint16(n))
	default:
		b = binary.BigEndian.AppendUint64(append(b, op, 0x80|127), uint64(n))
	}
	key := rand.Uint32()
	b = binary.LittleEndian.AppendUint32(b, key)
	start := len(b)
	b = append(append(b, m.head...), m.body...)
	mask(key, b[start:])
	return b
}

// frameSize is the size of m's frame.
func frameSize(m out) int {
	n := m.size()
	switch {
	case n < 126:
		return 2 + 4 + n
	case n <= 0xffff:
		return 4 + 4 + n
	default:
		return 10 + 4 + n
	}
}

// wholeFrames is how many of msgs' frames lie whole within the first
// written bytes.
func wholeFrames(msgs []out, written int) int {
	for i, m := range msgs {
		written -= frameSize(m)
		if written < 0 {
			return i
		}
	}
	return len(msgs)
}

// mask XORs b with the masking key (its bytes in wire order, as key's
// little-endian bytes), eight bytes at a time.
func mask(key uint32, b []byte) {
	k := uint64(key) | uint64(key)<<32
	for len(b) >= 8 {
		binary.LittleEndian.PutUint64(b, binary.LittleEndian.Uint64(b)^k)
		b = b[8:]
	}
	for i := range b {
		b[i] ^= byte(key >> (8 * (i & 3)))
	}
}
