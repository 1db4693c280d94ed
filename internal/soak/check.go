package soak

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// tracker checks the lines one subscriber printed: each is "P:N", the
// N-th line (from 1) of the publisher with prefix P.
type tracker struct {
	lines int // per publisher

	mu       sync.Mutex
	pubs     map[string]*pubTrack
	total    int // lines printed
	unique   int
	bad      int // lines that are not P:N of a known publisher
	badFirst string
	last     time.Time // when the last line arrived
	keep     *strings.Builder
}

// pubTrack is what one subscriber got from one publisher.
type pubTrack struct {
	seen     []uint16 // times line N was printed, index N-1
	max      int      // highest N seen
	dups     int
	reorders int
	reorder1 string // the first order violation
}

// newTracker tracks the lines of the publishers with these prefixes, n
// each. With keep, it also keeps every line as printed.
func newTracker(prefixes []string, n int, keep bool) *tracker {
	t := &tracker{lines: n, pubs: map[string]*pubTrack{}}
	for _, p := range prefixes {
		t.pubs[p] = &pubTrack{seen: make([]uint16, n)}
	}
	if keep {
		t.keep = &strings.Builder{}
	}
	return t
}

// add records one line, without its newline.
func (t *tracker) add(line string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.total++
	t.last = time.Now()
	if t.keep != nil {
		t.keep.WriteString(line)
		t.keep.WriteByte('\n')
	}
	prefix, num, ok := strings.Cut(line, ":")
	pt := t.pubs[prefix]
	n, err := strconv.Atoi(num)
	if !ok || pt == nil || err != nil || n < 1 || n > t.lines {
		t.bad++
		if t.badFirst == "" {
			t.badFirst = line
		}
		return
	}
	if pt.seen[n-1] > 0 {
		pt.dups++ // an exact duplicate is not an order violation
	} else {
		t.unique++
		if n < pt.max {
			pt.reorders++
			if pt.reorder1 == "" {
				pt.reorder1 = fmt.Sprintf("%s:%d after %s:%d", prefix, n, prefix, pt.max)
			}
		}
	}
	if pt.seen[n-1] < 0xffff {
		pt.seen[n-1]++
	}
	pt.max = max(pt.max, n)
}

// progress returns the distinct lines printed and when the last line
// arrived.
func (t *tracker) progress() (unique int, last time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.unique, t.last
}

// missing returns the lines of publisher prefix never printed, as ranges.
func (t *tracker) missing(prefix string) (n int, ranges []span) {
	t.mu.Lock()
	defer t.mu.Unlock()
	pt := t.pubs[prefix]
	for i := 0; i < len(pt.seen); i++ {
		if pt.seen[i] != 0 {
			continue
		}
		j := i
		for j+1 < len(pt.seen) && pt.seen[j+1] == 0 {
			j++
		}
		ranges = append(ranges, span{i + 1, j + 1})
		n += j - i + 1
		i = j
	}
	return n, ranges
}

// span is the lines from to to, both included.
type span struct{ from, to int }

// formatSpans writes ranges as "P:a-b, P:c", at most limit of them.
func formatSpans(prefix string, spans []span, limit int) string {
	var b strings.Builder
	for i, s := range spans {
		if i == limit {
			fmt.Fprintf(&b, ", ... %d more", len(spans)-limit)
			break
		}
		if i > 0 {
			b.WriteString(", ")
		}
		if s.from == s.to {
			fmt.Fprintf(&b, "%s:%d", prefix, s.from)
		} else {
			fmt.Fprintf(&b, "%s:%d-%d (%d)", prefix, s.from, s.to, s.to-s.from+1)
		}
	}
	return b.String()
}

// What the binaries say on stderr.
var (
	// sio-pub: "N line(s) may not have been delivered", "N line(s) were
	// in flight when the connection was lost", and with --ack "N line(s)
	// were not delivered to every receiver" (the server's ack said a
	// receiver's connection was lost before it got them).
	reUndelivered = regexp.MustCompile(`(\d+) line\(s\) (?:may not have been delivered|were in flight|were not delivered to every receiver)`)
	// sio-pub --ack: "N line(s) were sent again after a reconnect".
	reResent = regexp.MustCompile(`(\d+) line\(s\) were sent again`)
	// sio-sub: "connection to URL lost (...), reconnecting", "reconnected
	// to URL".
	reReconnect = regexp.MustCompile(`lost|reconnect`)
)

// pubReport is what a sio-pub said on stderr.
type pubReport struct {
	undelivered int // lines it said may not have been delivered (the sum of its counts)
	resent      int // lines it said it sent again
}

func parsePubStderr(s string) pubReport {
	var r pubReport
	for _, l := range strings.Split(s, "\n") {
		if m := reUndelivered.FindStringSubmatch(l); m != nil {
			n, _ := strconv.Atoi(m[1])
			r.undelivered += n
		}
		if m := reResent.FindStringSubmatch(l); m != nil {
			n, _ := strconv.Atoi(m[1])
			r.resent += n
		}
	}
	return r
}

// subReport is what a sio-sub said on stderr.
type subReport struct {
	gaps       int // lines that report a gap ("sio-sub: gap: ...", or any with "gap")
	reconnects int // lines about a lost connection or a reconnect
}

func parseSubStderr(s string) subReport {
	var r subReport
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, "gap") {
			r.gaps++
		} else if reReconnect.MatchString(l) {
			r.reconnects++
		}
	}
	return r
}

// raceOrPanic says whether a process's stderr shows a data race or a
// panic.
func raceOrPanic(s string) bool {
	return strings.Contains(s, "panic:") || strings.Contains(s, "WARNING: DATA RACE")
}

// pubOutcome is one publisher at the end of a run.
type pubOutcome struct {
	name   string // "sio-pub a"
	prefix string // "" for the bridge's sio-pub
	code   int
	report pubReport
}

// subOutcome is one checked subscriber at the end of a run.
type subOutcome struct {
	name   string
	code   int
	report subReport
	t      *tracker
	// upstream: in bridge mode, the bridge's sio-sub: a gap it reports
	// covers what this subscriber misses.
	upstream *subReport
}

// verdict is the classification of one run.
type verdict struct {
	failures       []string
	silentLines    int
	reportedLines  int
	dupLines       int
	reorders       int
	badExits       int
	missingDetails []string // per subscriber and publisher: the ranges
}

func (v *verdict) fail(format string, a ...any) {
	v.failures = append(v.failures, fmt.Sprintf(format, a...))
}

// classify checks a finished run against its promise. bridgePub is the
// bridge's sio-pub (nil outside bridge mode); its count covers every
// publisher's lines.
func classify(p Promise, pubs []pubOutcome, bridgePub *pubOutcome, subs []subOutcome, otherSubs []subOutcome) verdict {
	var v verdict
	checkPubExit := func(po pubOutcome) {
		ok := po.code == 0 || (p.PubExit == Exit0Or1IfReported && po.code == 1 && po.report.undelivered > 0)
		if !ok {
			v.badExits++
			v.fail("%s exit %d (allowed: %s; it reported %d undelivered)", po.name, po.code, p.PubExit, po.report.undelivered)
		}
	}
	for _, po := range pubs {
		checkPubExit(po)
	}
	if bridgePub != nil {
		checkPubExit(*bridgePub)
	}
	for _, so := range append(append([]subOutcome(nil), subs...), otherSubs...) {
		if so.code != 0 {
			v.badExits++
			v.fail("%s exit %d on SIGTERM, want 0", so.name, so.code)
		}
	}

	for _, so := range subs {
		gap := so.report.gaps > 0 || (so.upstream != nil && so.upstream.gaps > 0)
		so.t.mu.Lock()
		bad, badFirst := so.t.bad, so.t.badFirst
		so.t.mu.Unlock()
		if bad > 0 {
			v.fail("%s printed %d line(s) that are no publisher's, the first %q", so.name, bad, badFirst)
		}
		for _, po := range pubs {
			n, spans := so.t.missing(po.prefix)
			so.t.mu.Lock()
			pt := so.t.pubs[po.prefix]
			dups, reorders, reorder1 := pt.dups, pt.reorders, pt.reorder1
			so.t.mu.Unlock()

			if n > 0 {
				counted := po.report.undelivered
				if bridgePub != nil {
					counted += bridgePub.report.undelivered
				}
				detail := fmt.Sprintf("%s misses %d of %s: %s", so.name, n, po.name, formatSpans(po.prefix, spans, 12))
				v.missingDetails = append(v.missingDetails, detail)
				switch {
				case gap:
					v.reportedLines += n
				case counted == 0:
					v.silentLines += n
					v.fail("silent loss: %s (nothing reported: %s exit %d, no gap from the subscriber)", detail, po.name, po.code)
				case counted < n:
					v.reportedLines += counted
					v.silentLines += n - counted
					v.fail("silent loss: %s, but sio-pub counted only %d (no gap from the subscriber)", detail, counted)
				default:
					v.reportedLines += n
				}
				if !gap && counted > 0 && po.code == 0 && (bridgePub == nil || bridgePub.code == 0) {
					v.fail("%s exit 0 while %s misses %d of its lines and reported no gap", po.name, so.name, n)
				}
				switch p.Lost {
				case LostNever:
					v.fail("lost %d line(s) where none may be lost: %s", n, detail)
				case LostIfSubGap:
					if !gap && counted > 0 {
						v.fail("lost %d line(s) with no gap from the subscriber (sio-pub's count does not cover this fault): %s", n, detail)
					}
				}
			}
			if dups > 0 {
				v.dupLines += dups
				resent := po.report.resent
				if bridgePub != nil {
					resent += bridgePub.report.resent
				}
				switch {
				case p.Dup == DupNever:
					v.fail("%s printed %d line(s) of %s twice, where none may be", so.name, dups, po.name)
				case resent == 0:
					v.fail("%s printed %d line(s) of %s twice, and sio-pub said it resent none", so.name, dups, po.name)
				}
			}
			if reorders > 0 {
				v.reorders += reorders
				if !p.Reorder {
					v.fail("%s printed %d line(s) of %s out of order, the first %s", so.name, reorders, po.name, reorder1)
				}
			}
		}
	}
	return v
}
