package lines

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

// validRef is what Valid must say, from encoding/json, unicode/utf8 and
// strconv.
func validRef(b []byte, c Check) bool {
	if !json.Valid(b) || c&UTF8 != 0 && !utf8.Valid(b) {
		return false
	}
	if c&Floats == 0 {
		return true
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	for {
		tok, err := d.Token()
		if err != nil {
			return true // the end: json.Valid said the rest is fine
		}
		if n, ok := tok.(json.Number); ok {
			if _, err := strconv.ParseFloat(string(n), 64); err != nil {
				return false
			}
		}
	}
}

var validCases = []string{
	``, ` `, `[]`, `{}`, ` [ ] `, `[1,2]`, `[1,]`, `[,1]`, `{"a":1}`, `{"a":1,}`, `{"a"}`, `{"a":}`,
	`{1:2}`, `{"a":1 "b":2}`, `{"a":[1,{"b":null}],"c":true}`, `["a","b"`, `"x"`, `"x" "y"`, `1 2`,
	`true`, `tru`, `truex`, `false`, `null`, `nul`, `[true,false,null]`, `-`, `-0`, `-01`, `01`,
	`0.`, `0.5`, `.5`, `1e5`, `1E+5`, `1e-5`, `1e`, `1e+`, `1.5e3`, `-1.5E-3`, `1e999`, `-1e999`,
	`1e-999`, `123456789012345`, `1234567890123456`, strings.Repeat("9", 400), `0x10`, `+1`,
	`"\"\\\/\b\f\n\r\t"`, `"\u00e9"`, `"\u00G9"`, `"\u00e"`, `"\x"`, `"\`, "\"\x01\"", "\"\x7f\"",
	"\"\xff\"", "\"\xc3\xa9\"", "\"\xed\xa0\x80\"", "\"\xef\xbf\xbd\"", "[\"a\"]\xff", "\xef\xbb\xbf[]",
	"[1]\n", "\t{\"a\" : [ 1 , 2 ] }\r\n", `[[[[]]]]`, `[[[[]]]`, `[{]}`, `{"a":[}`, `]`, `}`, `,`,
	strings.Repeat("[", maxDepth) + strings.Repeat("]", maxDepth),
	strings.Repeat("[", maxDepth+1) + strings.Repeat("]", maxDepth+1),
	strings.Repeat(`{"a":`, maxDepth) + "1" + strings.Repeat("}", maxDepth),
	strings.Repeat(`{"a":`, maxDepth+1) + "1" + strings.Repeat("}", maxDepth+1),
}

// TestValidAgreesWithEncodingJSON: on every case, for every check.
func TestValidAgreesWithEncodingJSON(t *testing.T) {
	for _, s := range validCases {
		for c := Check(0); c <= UTF8|Floats; c++ {
			if got, want := Valid([]byte(s), c), validRef([]byte(s), c); got != want {
				t.Errorf("Valid(%.40q, %d) = %v, want %v", s, c, got, want)
			}
		}
	}
}

// FuzzValid: Valid says what encoding/json, unicode/utf8 and strconv say.
func FuzzValid(f *testing.F) {
	for _, s := range validCases {
		if len(s) < 1000 {
			f.Add([]byte(s), uint8(UTF8|Floats))
		}
	}
	f.Fuzz(func(t *testing.T, b []byte, c uint8) {
		check := Check(c) & (UTF8 | Floats)
		if got, want := Valid(b, check), validRef(b, check); got != want {
			t.Fatalf("Valid(%q, %d) = %v, want %v", b, check, got, want)
		}
	})
}

func BenchmarkValid(b *testing.B) {
	event := []byte(`["message","a line of some forty characters, more or less",{"n":12345,"ok":true}]`)
	b.Run("lines.Valid", func(b *testing.B) {
		for b.Loop() {
			Valid(event, UTF8|Floats)
		}
	})
	b.Run("json.Valid+utf8.Valid", func(b *testing.B) {
		for b.Loop() {
			_ = utf8.Valid(event) && json.Valid(event)
		}
	})
}
