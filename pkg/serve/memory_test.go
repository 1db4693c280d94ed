package serve

import (
	"runtime"
	"testing"
)

// A freed burst is given back to the system at once: the free heap not
// yet returned drops below the floor.
func TestReleaseIfIdle(t *testing.T) {
	notReturned := func() uint64 {
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapIdle - m.HeapReleased
	}
	burst := make([][]byte, 0, 300)
	for range 300 {
		b := make([]byte, 1<<20)
		b[0] = 1
		burst = append(burst, b)
	}
	runtime.KeepAlive(burst)
	burst = nil
	runtime.GC()
	before := notReturned()
	if before < releaseFloor {
		t.Skipf("the runtime returned the burst already (%d bytes left)", before)
	}
	if !releaseIfIdle(releaseFloor) {
		t.Fatalf("%d MB free not returned, live small: nothing released", before>>20)
	}
	if after := notReturned(); after >= releaseFloor/4 {
		t.Fatalf("%d MB still not returned after the release (%d MB before)", after>>20, before>>20)
	}
	if releaseIfIdle(releaseFloor) {
		t.Fatal("released again with nothing free")
	}
}
