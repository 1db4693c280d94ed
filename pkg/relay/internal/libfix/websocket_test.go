package libfix

import "testing"

// Framing a flush of 100 events of about 100 bytes into one buffer, as
// writeBatch does before its one write.
func BenchmarkFrameBatch(b *testing.B) {
	payload := []byte(`42["line",{"n":12345,"t":1763900000000,"text":"the quick brown fox jumps over the lazy dog"}]`)
	buf := make([]byte, 0, 32<<10)
	b.SetBytes(100 * int64(len(payload)))
	b.ReportAllocs()
	for b.Loop() {
		buf = buf[:0]
		for range 100 {
			buf = appendHeader(buf, true, len(payload))
			buf = append(buf, payload...)
		}
	}
}
