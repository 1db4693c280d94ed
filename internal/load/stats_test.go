package load

import (
	"math"
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	v := make([]time.Duration, 100)
	for i := range v {
		v[i] = time.Duration(100 - i) // unsorted on purpose
	}
	s := Summarize(v)
	if s.N != 100 || s.P50 != 50 || s.P99 != 99 || s.Max != 100 {
		t.Fatalf("got %+v, want N 100, p50 50, p99 99, max 100", s)
	}
	if got := Percentile(nil, 50); got != 0 {
		t.Errorf("empty: got %v", got)
	}
	one := []time.Duration{7}
	for _, p := range []float64{0, 50, 99, 100} {
		if got := Percentile(one, p); got != 7 {
			t.Errorf("p%v of one value: got %v, want 7", p, got)
		}
	}
	if got := Percentile([]time.Duration{1, 2, 3}, 99); got != 3 {
		t.Errorf("p99 of 3 values: got %v, want 3", got)
	}
}

func TestSequence(t *testing.T) {
	tests := []struct {
		name               string
		n                  int
		got                []int
		lost, dup, reorder int
		invalid            int
	}{
		{"in order", 5, []int{0, 1, 2, 3, 4}, 0, 0, 0, 0},
		{"one lost", 5, []int{0, 1, 3, 4}, 1, 0, 0, 0},
		{"all lost", 3, nil, 3, 0, 0, 0},
		{"duplicate", 3, []int{0, 1, 1, 2}, 0, 1, 0, 0},
		{"swapped", 4, []int{0, 2, 1, 3}, 0, 0, 1, 0},
		{"late first", 4, []int{1, 2, 3, 0}, 0, 0, 1, 0},
		{"duplicate of an old one", 4, []int{0, 1, 2, 0, 3}, 0, 1, 0, 0},
		{"out of range", 2, []int{0, 1, 2, -1}, 0, 0, 0, 2},
		{"past a word", 130, seq(0, 130), 0, 0, 0, 0},
		{"lost across words", 130, append(seq(0, 63), seq(65, 130)...), 2, 0, 0, 0},
	}
	for _, tt := range tests {
		s := NewSequence(tt.n)
		for _, i := range tt.got {
			s.Add(i)
		}
		if s.Lost(tt.n) != tt.lost || s.Duplicates != tt.dup || s.Reordered != tt.reorder || s.Invalid != tt.invalid {
			t.Errorf("%s: lost %d dup %d reordered %d invalid %d, want %d %d %d %d", tt.name,
				s.Lost(tt.n), s.Duplicates, s.Reordered, s.Invalid, tt.lost, tt.dup, tt.reorder, tt.invalid)
		}
	}
}

func seq(from, to int) []int {
	var v []int
	for i := from; i < to; i++ {
		v = append(v, i)
	}
	return v
}

func TestMedian(t *testing.T) {
	med, lo, hi := Median([]float64{3, 1, 2})
	if med != 2 || lo != 1 || hi != 3 {
		t.Errorf("odd: %v %v %v", med, lo, hi)
	}
	med, lo, hi = Median([]float64{4, 1, 2, 3})
	if med != 2.5 || lo != 1 || hi != 4 {
		t.Errorf("even: %v %v %v", med, lo, hi)
	}
	if med, _, _ := Median(nil); !math.IsNaN(med) {
		t.Errorf("empty: %v", med)
	}
}

func TestPayloadRoundTrip(t *testing.T) {
	b := appendEvent(nil, 7, 12345, 1732351234123456789, 100)
	if len(b) != 100 {
		t.Errorf("frame is %d bytes, want 100", len(b))
	}
	p, s, ts, ok := parseEvent(b[2:])
	if !ok || p != 7 || s != 12345 || ts != 1732351234123456789 {
		t.Errorf("parsed %d %d %d %v from %q", p, s, ts, ok, b)
	}
	if _, _, _, ok := parseEvent([]byte(`["m",{"a":1}]`)); ok {
		t.Error("an object parsed as a payload")
	}
}
