// Package wire is what the two Redis adapters share to read and write
// the messages of other nodes: a check of a msgpack message from an
// untrusted peer before it is decoded, and the conversions between the
// values on the wire and those the library holds.
package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// MaxMessage bounds a message from Redis: events are at most about 1 MB
// (the relay's --max-bytes default), with room for large binary ones.
const MaxMessage = 16 << 20

// ErrMalformed is what every error of Check wraps.
var ErrMalformed = errors.New("malformed")

// maxDepth bounds how deeply arrays and maps nest in a message.
const maxDepth = 256

// Check walks a msgpack message before it is decoded: the decoder trusts
// the lengths a message declares and allocates them at once, so 9 bytes
// claiming an array of 2^31 elements exhausted memory (found by
// FuzzDecode). Every declared length must fit in the bytes that are left,
// nesting is bounded, and the message must be exactly one value.
func Check(b []byte) error {
	if len(b) > MaxMessage {
		return fmt.Errorf("%w: %d bytes, more than %d", ErrMalformed, len(b), MaxMessage)
	}
	pos := 0
	left := []int{1} // values still to read, per nesting level
	for len(left) > 0 {
		if left[len(left)-1] == 0 {
			left = left[:len(left)-1]
			continue
		}
		left[len(left)-1]--
		if pos >= len(b) {
			return fmt.Errorf("%w: ends early", ErrMalformed)
		}
		c := b[pos]
		pos++
		size, items := 0, 0 // payload bytes to skip; values that follow
		switch {
		case c <= 0x7f || c >= 0xe0, c == 0xc0, c == 0xc2, c == 0xc3:
		case c >= 0x80 && c <= 0x8f:
			items = 2 * int(c&0x0f)
		case c >= 0x90 && c <= 0x9f:
			items = int(c & 0x0f)
		case c >= 0xa0 && c <= 0xbf:
			size = int(c & 0x1f)
		default:
			var n int
			var err error
			switch c {
			case 0xc4, 0xd9: // bin8, str8
				n, pos, err = length(b, pos, 1)
				size = n
			case 0xc5, 0xda:
				n, pos, err = length(b, pos, 2)
				size = n
			case 0xc6, 0xdb:
				n, pos, err = length(b, pos, 4)
				size = n
			case 0xc7, 0xc8, 0xc9: // ext: length, then a type byte
				n, pos, err = length(b, pos, 1<<(c-0xc7))
				size = n + 1
			case 0xca, 0xce, 0xd2:
				size = 4
			case 0xcb, 0xcf, 0xd3:
				size = 8
			case 0xcc, 0xd0:
				size = 1
			case 0xcd, 0xd1:
				size = 2
			case 0xd4, 0xd5, 0xd6, 0xd7, 0xd8: // fixext: type byte and 1 to 16 bytes
				size = 1 + 1<<(c-0xd4)
			case 0xdc:
				n, pos, err = length(b, pos, 2)
				items = n
			case 0xdd:
				n, pos, err = length(b, pos, 4)
				items = n
			case 0xde:
				n, pos, err = length(b, pos, 2)
				items = 2 * n
			case 0xdf:
				n, pos, err = length(b, pos, 4)
				items = 2 * n
			default:
				return fmt.Errorf("%w: byte 0x%02x at %d", ErrMalformed, c, pos-1)
			}
			if err != nil {
				return err
			}
		}
		if size > len(b)-pos || items > len(b)-pos {
			return fmt.Errorf("%w: a length at %d runs past the end", ErrMalformed, pos)
		}
		pos += size
		if items > 0 {
			if len(left) >= maxDepth {
				return fmt.Errorf("%w: nested deeper than %d", ErrMalformed, maxDepth)
			}
			left = append(left, items)
		}
	}
	if pos != len(b) {
		return fmt.Errorf("%w: %d bytes after the message", ErrMalformed, len(b)-pos)
	}
	return nil
}

// length reads a big-endian length of w bytes at pos.
func length(b []byte, pos, w int) (int, int, error) {
	if len(b)-pos < w {
		return 0, pos, fmt.Errorf("%w: ends early", ErrMalformed)
	}
	var n uint64
	switch w {
	case 1:
		n = uint64(b[pos])
	case 2:
		n = uint64(binary.BigEndian.Uint16(b[pos:]))
	case 4:
		n = uint64(binary.BigEndian.Uint32(b[pos:]))
	}
	return int(n), pos + w, nil
}
