package relay

import "testing"

// The recovery log's queue keeps its entries in order across blocks while
// the oldest are dropped and new ones come, and lets go of empty blocks.
func TestEntriesQueue(t *testing.T) {
	var q entries
	next, oldest := uint64(1), uint64(1)
	check := func() {
		t.Helper()
		if q.len() != int(next-oldest) {
			t.Fatalf("len %d, want %d", q.len(), next-oldest)
		}
		want := oldest
		for e := range q.all() {
			if e.off != want {
				t.Fatalf("entry %d, want %d", e.off, want)
			}
			want++
		}
		if want != next {
			t.Fatalf("iterated up to %d, want %d", want, next)
		}
		if q.len() > 0 && q.oldest().off != oldest {
			t.Fatalf("oldest %d, want %d", q.oldest().off, oldest)
		}
		if blocks := (q.len() + q.head + entryBlock - 1) / entryBlock; len(q.blocks) > blocks {
			t.Fatalf("%d blocks for %d entries from %d", len(q.blocks), q.len(), q.head)
		}
	}
	for round, sizes := range [][2]int{{3000, 1000}, {10, 2010}, {1, 1}, {entryBlock, entryBlock}, {2500, 2499}, {5, 6}} {
		for range sizes[0] {
			q.push(entry{off: next})
			next++
		}
		check()
		for range sizes[1] {
			q.drop()
			oldest++
		}
		check()
		t.Logf("round %d: %d entries in %d blocks", round, q.len(), len(q.blocks))
	}
	if q.len() != 0 || len(q.blocks) != 0 {
		t.Errorf("empty queue holds %d entries in %d blocks", q.len(), len(q.blocks))
	}
}
