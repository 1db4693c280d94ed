package serve

import (
	"runtime"
	"runtime/debug"
	"testing"
)

// notReturned is the free heap the runtime has not returned.
func notReturned() uint64 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapIdle - m.HeapReleased
}

// burst allocates and touches n MB.
func burst(n int) [][]byte {
	b := make([][]byte, 0, n)
	for range n {
		m := make([]byte, 1<<20)
		m[0] = 1
		b = append(b, m)
	}
	return b
}

// A freed burst is given back to the system at once: the free heap not
// yet returned drops below the floor.
func TestReleaseIfIdle(t *testing.T) {
	b := burst(300)
	runtime.KeepAlive(b)
	b = nil
	runtime.GC()
	before := notReturned()
	if before < releaseFloor {
		t.Skipf("the runtime returned the burst already (%d bytes left)", before)
	}
	var r releaser
	if !r.look(releaseFloor) {
		t.Fatalf("%d MB free not returned, live small: nothing released", before>>20)
	}
	if after := notReturned(); after >= releaseFloor/4 {
		t.Fatalf("%d MB still not returned after the release (%d MB before)", after>>20, before>>20)
	}
	if r.look(releaseFloor) {
		t.Fatal("released again with nothing free")
	}
}

// Garbage that no collection freed (an idle server allocates too little
// to start one) is freed and returned once no collection ran between two
// looks; not when one ran (a busy server collects its garbage itself).
func TestReleaseGarbageWhenIdle(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(400)) // as sio-serve runs
	inUse := func() uint64 {
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapInuse
	}
	b := burst(300)
	runtime.GC() // the burst is live at this collection: the next is far off
	runtime.KeepAlive(b)
	b = nil
	var r releaser // its first look sees collections it did not count
	if r.look(releaseFloor) {
		t.Fatal("released garbage although a collection ran since the last look")
	}
	before := inUse()
	if !r.look(releaseFloor) {
		t.Fatalf("%d MB in use, no collection since the last look: nothing released", before>>20)
	}
	if after := inUse(); after > before/4 {
		t.Fatalf("%d MB in use after the release, %d MB before", after>>20, before>>20)
	}
	if r.look(releaseFloor) {
		t.Fatal("released again with nothing to free")
	}
}

// A quiet server returns a smaller free heap too (what a burst of
// connections left behind), once no collection ran between two looks.
func TestReleaseWhenQuiet(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(400)) // as sio-serve runs
	b := burst(24)
	runtime.KeepAlive(b)
	b = nil
	runtime.GC()
	var r releaser // its first look sees collections it did not count
	before := notReturned()
	if before < releaseFloor/quietShare {
		t.Skipf("the runtime returned the burst already (%d bytes left)", before)
	}
	if before < releaseFloor && r.look(releaseFloor) {
		t.Fatal("released although a collection ran since the last look")
	}
	if !r.look(releaseFloor) {
		t.Fatalf("%d MB free, quiet: nothing released", notReturned()>>20)
	}
	if after := notReturned(); after >= releaseFloor/quietShare/2 {
		t.Fatalf("%d MB still not returned after the release (%d MB before)", after>>20, before>>20)
	}
}
