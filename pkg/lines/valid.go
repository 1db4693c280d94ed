package lines

import (
	"strconv"
	"unicode/utf8"
)

// A Check is what Valid checks besides JSON's grammar.
type Check uint8

const (
	// UTF8: the text is valid UTF-8 (encoding/json takes any byte of
	// 0x80 and above in a string).
	UTF8 Check = 1 << iota
	// Floats: every number is a finite float64, what Go's Socket.IO
	// library decodes a number into (1e999 or a 400-digit integer fails
	// there).
	Floats
)

// maxDepth is how deep arrays and objects may nest: encoding/json's
// limit, so that Valid takes what json.Valid takes.
const maxDepth = 10000

// Valid reports whether b is one JSON value (white space around it
// aside), as json.Valid does, and passes the checks asked for. It reads
// b once: a relay and a subscriber validate every event, and json.Valid
// with utf8.Valid took 11% of sio-serve's CPU in the pipeline.
func Valid(b []byte, c Check) bool {
	var stackBuf [32]byte // '[' or '{' for each open array or object
	stack := stackBuf[:0]
	i := skipSpace(b, 0)
	for {
		// A value at b[i].
		if i >= len(b) {
			return false
		}
		switch b[i] {
		case '{', '[':
			if len(stack) == maxDepth {
				return false
			}
			open := b[i] // its closing bracket is open+2: '}' or ']'
			i = skipSpace(b, i+1)
			if i < len(b) && b[i] == open+2 { // empty
				i++
				break
			}
			stack = append(stack, open)
			if open == '{' {
				if i = validKey(b, i, c); i < 0 {
					return false
				}
			}
			continue
		case '"':
			if i = validString(b, i, c); i < 0 {
				return false
			}
		case 't':
			if i = literal(b, i, "true"); i < 0 {
				return false
			}
		case 'f':
			if i = literal(b, i, "false"); i < 0 {
				return false
			}
		case 'n':
			if i = literal(b, i, "null"); i < 0 {
				return false
			}
		default:
			if i = validNumber(b, i, c); i < 0 {
				return false
			}
		}
		// After a value: a comma, or the end of its array or object.
		for {
			i = skipSpace(b, i)
			if len(stack) == 0 {
				return i == len(b)
			}
			if i >= len(b) {
				return false
			}
			open := stack[len(stack)-1]
			switch {
			case b[i] == ',':
				i = skipSpace(b, i+1)
				if open == '{' {
					if i = validKey(b, i, c); i < 0 {
						return false
					}
				}
			case b[i] == open+2: // its end
				stack = stack[:len(stack)-1]
				i++
				continue
			default:
				return false
			}
			break
		}
	}
}

// validKey reads an object's key and its colon at b[i], and returns the
// index of the value after them, or -1.
func validKey(b []byte, i int, c Check) int {
	if i >= len(b) || b[i] != '"' {
		return -1
	}
	if i = validString(b, i, c); i < 0 {
		return -1
	}
	i = skipSpace(b, i)
	if i >= len(b) || b[i] != ':' {
		return -1
	}
	return skipSpace(b, i+1)
}

// plainByte marks the bytes a string holds as they are: not a quote, a
// backslash, a control character or the start of a multi-byte character.
var plainByte = func() (t [256]bool) {
	for c := 0x20; c < 0x80; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// validString reads the string whose quote is at b[i] and returns the
// index after its closing quote, or -1.
func validString(b []byte, i int, c Check) int {
	i++
	for {
		for i < len(b) && plainByte[b[i]] {
			i++
		}
		if i >= len(b) {
			return -1
		}
		switch ch := b[i]; {
		case ch == '"':
			return i + 1
		case ch == '\\':
			if i+1 >= len(b) {
				return -1
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(b) {
					return -1
				}
				for _, h := range b[i+2 : i+6] {
					if !isHex(h) {
						return -1
					}
				}
				i += 6
			default:
				return -1
			}
		case ch < 0x20:
			return -1
		default: // 0x80 and above
			if c&UTF8 == 0 {
				i++
				continue
			}
			r, n := utf8.DecodeRune(b[i:])
			if r == utf8.RuneError && n == 1 {
				return -1
			}
			i += n
		}
	}
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// literal reads true, false or null at b[i].
func literal(b []byte, i int, word string) int {
	if len(b)-i < len(word) || string(b[i:i+len(word)]) != word {
		return -1
	}
	return i + len(word)
}

// validNumber reads the number at b[i] and returns the index after it,
// or -1. With Floats, one with an exponent or of more than 15 characters
// is parsed (a shorter one always fits).
func validNumber(b []byte, i int, c Check) int {
	start, exp := i, false
	if b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		i = digits(b, i)
	default:
		return -1
	}
	if i < len(b) && b[i] == '.' {
		if i = digits(b, i+1); i < 0 {
			return -1
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		exp = true
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i = digits(b, i); i < 0 {
			return -1
		}
	}
	if c&Floats != 0 && (exp || i-start > 15) {
		if _, err := strconv.ParseFloat(string(b[start:i]), 64); err != nil {
			return -1
		}
	}
	return i
}

// digits reads one digit or more at b[i] and returns the index after
// them, or -1 when there is none.
func digits(b []byte, i int) int {
	start := i
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	if i == start {
		return -1
	}
	return i
}
