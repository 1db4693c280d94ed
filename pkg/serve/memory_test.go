package serve

import (
	"runtime"
	"runtime/debug"
	"testing"
	"time"
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
	burst := make([][]byte, 0, 300)
	for range 300 {
		b := make([]byte, 1<<20)
		b[0] = 1
		burst = append(burst, b)
	}
	runtime.GC() // the burst is live at this collection: the next is far off
	runtime.KeepAlive(burst)
	burst = nil
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

// Garbage that came from live memory let go while idle (the heap's
// objects did not grow) is collected too, at most every recollect.
func TestReleaseGarbageLetGoWhileIdle(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(400))
	kept := make([][]byte, 0, 200)
	for range 200 {
		b := make([]byte, 1<<20)
		b[0] = 1
		kept = append(kept, b)
	}
	var r releaser
	r.look(releaseFloor)
	runtime.GC()
	r.look(releaseFloor) // sees the collection: it counts it
	r.at = time.Now()    // as if it had released with the 200 MB live
	r.after = 200 << 20
	runtime.KeepAlive(kept)
	kept = nil // let go (the recovery window passed, say); no collection
	if r.look(releaseFloor) {
		t.Fatal("collected again before recollect, with no growth")
	}
	r.at = time.Now().Add(-recollect)
	if !r.look(releaseFloor) {
		t.Fatal("garbage let go while idle not collected after recollect")
	}
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	if m.HeapInuse > 100<<20 {
		t.Fatalf("%d MB in use after the release", m.HeapInuse>>20)
	}
}
