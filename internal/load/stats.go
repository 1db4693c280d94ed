package load

import (
	"math"
	"sort"
	"time"
)

// Percentile returns the p-th percentile (0..100) of sorted by the
// nearest-rank method: the smallest value that at least p% of the values
// are less than or equal to. It returns 0 for no values.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	if rank < 1 {
		rank = 1
	}
	if rank > len(sorted) {
		rank = len(sorted)
	}
	return sorted[rank-1]
}

// Summary is the latency distribution of a run.
type Summary struct {
	N             int
	P50, P99, Max time.Duration
}

// Summarize sorts v in place and summarizes it.
func Summarize(v []time.Duration) Summary {
	sort.Slice(v, func(i, j int) bool { return v[i] < v[j] })
	s := Summary{N: len(v)}
	if len(v) > 0 {
		s.P50, s.P99, s.Max = Percentile(v, 50), Percentile(v, 99), v[len(v)-1]
	}
	return s
}

// Sequence checks the events one receiver got from one sender, numbered
// 0..n-1 in the order they were sent. It is not safe for concurrent use:
// each receiver owns its own.
type Sequence struct {
	n    int
	seen []uint64 // bitset of the numbers received
	max  int      // highest number received, -1 before the first

	Received   int // every event, duplicates included
	Duplicates int // events whose number had been received before
	Reordered  int // events whose number is below one already received
	Invalid    int // numbers outside 0..n-1
}

// NewSequence checks n events.
func NewSequence(n int) *Sequence {
	return &Sequence{n: n, seen: make([]uint64, (n+63)/64), max: -1}
}

// Add records the arrival of event number i.
func (s *Sequence) Add(i int) {
	s.Received++
	if i < 0 || i >= s.n {
		s.Invalid++
		return
	}
	w, b := i/64, uint64(1)<<(i%64)
	if s.seen[w]&b != 0 {
		s.Duplicates++
		return
	}
	s.seen[w] |= b
	if i < s.max {
		s.Reordered++
	} else {
		s.max = i
	}
}

// Unique tells how many distinct valid numbers were received.
func (s *Sequence) Unique() int { return s.Received - s.Duplicates - s.Invalid }

// Lost tells how many of the n numbers were never received.
func (s *Sequence) Lost(n int) int { return n - s.Unique() }

// Median returns the median of v (the mean of the two middle values for
// an even count), and its minimum and maximum. v is sorted in place.
func Median(v []float64) (med, lo, hi float64) {
	if len(v) == 0 {
		return math.NaN(), math.NaN(), math.NaN()
	}
	sort.Float64s(v)
	n := len(v)
	med = v[n/2]
	if n%2 == 0 {
		med = (v[n/2-1] + v[n/2]) / 2
	}
	return med, v[0], v[n-1]
}
