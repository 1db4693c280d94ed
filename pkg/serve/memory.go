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
// megabytes of free heap as RSS for a long time (323 MB RSS with 4 MB
// live, measured). releaseMemory looks every interval and, when the free
// heap not yet returned is both above floor and above twice the live
// heap, returns it at once (debug.FreeOSMemory: a full GC and a scavenge,
// milliseconds on such a heap, at most once per interval).

// releaseInterval is how often releaseMemory looks.
const releaseInterval = 30 * time.Second

// releaseFloor is the free heap worth returning at once.
const releaseFloor = 64 << 20

// releaseMemory runs until ctx ends.
func releaseMemory(ctx context.Context, interval time.Duration, floor uint64) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			releaseIfIdle(floor)
		}
	}
}

// releaseIfIdle returns the free heap to the system when it is above
// floor and above twice the live heap, and reports whether it did.
func releaseIfIdle(floor uint64) bool {
	s := []metrics.Sample{
		{Name: "/memory/classes/heap/free:bytes"},    // free, not returned
		{Name: "/memory/classes/heap/objects:bytes"}, // live and not yet swept
	}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 || s[1].Value.Kind() != metrics.KindUint64 {
		return false
	}
	free, live := s[0].Value.Uint64(), s[1].Value.Uint64()
	if free < floor || free < 2*live {
		return false
	}
	debug.FreeOSMemory()
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
