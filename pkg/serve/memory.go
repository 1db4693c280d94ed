package serve

import (
	"context"
	"fmt"
	"io"
	"runtime/debug"
	"runtime/metrics"
	"time"

	vm "github.com/VictoriaMetrics/metrics"
)

// Go's runtime gives freed heap back to the system slowly (its background
// scavenger aims at a small share of CPU), and sio-serve runs with a
// large GC target (GOGC 400): after a burst (thousands of clients that
// came and went, a fan-out of large events) the server kept hundreds of
// megabytes as RSS for a long time (323 MB RSS with 4 MB live, measured).
// Two kinds of memory stay: free heap not yet returned, and garbage that
// no collection has freed, because an idle server allocates too little
// to start one; the runtime forces one only every 2 minutes (5,000
// connections and a fan-out of 2 KB events, then nothing: 641 MB RSS and
// 422 MB of heap objects 80 s later, against a heap of 7 MB before). releaseMemory looks every interval and, when
// what it could free is both above floor and above twice the heap that
// was live at the last collection, frees and returns it at once
// (debug.FreeOSMemory: a full GC and a scavenge, milliseconds on such a
// heap, at most once per interval). Garbage counts only when no
// collection ran since the last look: a busy server collects it itself.

// A quiet server (no collection and less than quietAlloc allocated
// between two looks) also returns what it
// could free from a smaller floor, releaseFloor/quietShare or half the
// live heap, whichever is more (a forced collection costs about as much
// as the live heap: it must free at least half as much): thousands of
// idle clients that connected in a burst left tens of megabytes of free
// heap that the large GC target let the runtime keep (2,000 websocket
// clients: 23 MB, 11 KB per client, more than the sessions themselves),
// given back within two looks of the burst's end.

// releaseInterval is how often releaseMemory looks: a look reads four
// runtime figures, microseconds.
const releaseInterval = 2 * time.Second

// releaseFloor is the memory worth returning at once.
const releaseFloor = 64 << 20

// quietShare divides releaseFloor for a quiet server.
const quietShare = 8

// releaseMemory runs until ctx ends.
func releaseMemory(ctx context.Context, interval time.Duration, floor uint64) {
	t := time.NewTicker(interval)
	defer t.Stop()
	var r releaser
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			r.look(floor)
		}
	}
}

// releaser remembers the collections counted at its last look, and the
// heap's objects after its last release.
type releaser struct{ cycles, after, allocs uint64 }

// quietAlloc is the most a server may allocate between two looks and
// still count as quiet: with a GC target of 400 % a busy server may not
// collect for many seconds (2,000 events a second through a small heap),
// and freeing its heap every look slowed it down (the viewer's flood test
// drained 2 to 3 times slower).
const quietAlloc = 1 << 20

// look frees and returns memory as releaseMemory says, and reports
// whether it did.
func (r *releaser) look(floor uint64) bool {
	s := []metrics.Sample{
		{Name: "/memory/classes/heap/free:bytes"},    // free, not returned
		{Name: "/memory/classes/heap/objects:bytes"}, // live, and garbage not yet swept
		{Name: "/gc/heap/live:bytes"},                // live at the last collection
		{Name: "/gc/cycles/total:gc-cycles"},
		{Name: "/gc/heap/allocs:bytes"}, // allocated since the start
	}
	metrics.Read(s)
	for _, v := range s {
		if v.Value.Kind() != metrics.KindUint64 {
			return false
		}
	}
	free, objects, live, cycles := s[0].Value.Uint64(), s[1].Value.Uint64(), s[2].Value.Uint64(), s[3].Value.Uint64()
	idle := cycles == r.cycles
	r.cycles = cycles
	allocs := s[4].Value.Uint64()
	quiet := idle && allocs-r.allocs < quietAlloc
	r.allocs = allocs
	returnFree := free >= floor && free >= 2*live
	collect := idle && objects >= r.after+floor
	quietFloor := max(floor/quietShare, live/2)
	settle := quiet && (free >= quietFloor || objects >= r.after+quietFloor)
	if !returnFree && !collect && !settle {
		return false
	}
	debug.FreeOSMemory()
	metrics.Read(s)
	r.after, r.cycles, r.allocs = s[1].Value.Uint64(), s[3].Value.Uint64(), s[4].Value.Uint64()
	return true
}

// writeProcessMetrics writes the process's own figures for /metrics: the
// Go runtime's and the process's (go_memstats_*, process_*), and the live
// heap as of the last collection (go_gc_heap_live_bytes), which is what
// shows a leak: it stays flat while the server serves a steady load.
func writeProcessMetrics(w io.Writer) {
	vm.WriteProcessMetrics(w)
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() == metrics.KindUint64 {
		fmt.Fprintf(w, "go_gc_heap_live_bytes %d\n", s[0].Value.Uint64())
	}
}
