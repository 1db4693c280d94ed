package lines

import (
	"encoding/json"
	"errors"
	"unicode/utf8"
)

// SplitArray splits a JSON array into its elements, each as the exact
// bytes it was sent as (surrounding white space aside). It is
// json.Unmarshal into []json.RawMessage, without reflection.
func SplitArray(data []byte) ([]json.RawMessage, error) {
	return AppendElements(nil, data)
}

// AppendElements is SplitArray appending the elements to dst, so that a
// caller can reuse one slice for them.
func AppendElements(dst []json.RawMessage, data []byte) ([]json.RawMessage, error) {
	if !Valid(data, 0) {
		var raw []json.RawMessage
		return nil, json.Unmarshal(data, &raw) // says why
	}
	i := skipSpace(data, 0)
	if i >= len(data) || data[i] != '[' {
		return nil, errors.New("not a JSON array")
	}
	out := dst
	i = skipSpace(data, i+1)
	if i < len(data) && data[i] == ']' {
		return out, nil
	}
	for i < len(data) {
		start := i
		depth := 0
	value:
		for ; i < len(data); i++ {
			switch c := data[i]; c {
			case '"':
				for i++; i < len(data) && data[i] != '"'; i++ {
					if data[i] == '\\' {
						i++
					}
				}
			case '[', '{':
				depth++
			case ']', '}':
				if depth == 0 {
					break value
				}
				depth--
			case ',':
				if depth == 0 {
					break value
				}
			}
		}
		end := i
		for end > start && isSpace(data[end-1]) {
			end--
		}
		out = append(out, json.RawMessage(data[start:end:end]))
		if i >= len(data) || data[i] == ']' {
			break
		}
		i = skipSpace(data, i+1) // past the comma
	}
	return out, nil
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

func skipSpace(b []byte, i int) int {
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	return i
}

// plainString returns the string a raw JSON string stands for when it has
// no escapes and is valid UTF-8 (the common case), without decoding.
func plainString(raw []byte) (string, bool) {
	if !isPlainString(raw) {
		return "", false
	}
	return string(raw[1 : len(raw)-1]), true
}

// isPlainString tells whether raw is a JSON string without escapes or
// control characters, in valid UTF-8: the bytes between its quotes are
// the string.
func isPlainString(raw []byte) bool {
	if len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' {
		return false
	}
	s := raw[1 : len(raw)-1]
	for _, c := range s {
		if c == '\\' || c == '"' || c < 0x20 {
			return false
		}
	}
	return utf8.Valid(s)
}
