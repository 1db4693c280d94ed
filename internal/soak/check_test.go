package soak

import (
	"math/rand/v2"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

func track(lines int, prefixes []string, got ...string) *tracker {
	t := newTracker(prefixes, lines, false)
	for _, l := range got {
		t.add(l)
	}
	return t
}

func TestTracker(t *testing.T) {
	tr := track(10, []string{"a", "b"},
		"a:1", "a:2", "b:1", "a:4", "a:3", // a:3 late: one order violation
		"a:4",        // an exact duplicate: not an order violation
		"a:6", "a:5", // another late one
		"b:3", "b:3", // b:2 missing, b:3 twice
		"x:1", "a:11", "garbage", // not a line of ours
	)
	if n, spans := tr.missing("a"); n != 4 || !reflect.DeepEqual(spans, []span{{7, 10}}) {
		t.Errorf("a missing %d %v, want 4 [7-10]", n, spans)
	}
	if n, spans := tr.missing("b"); n != 8 || !reflect.DeepEqual(spans, []span{{2, 2}, {4, 10}}) {
		t.Errorf("b missing %d %v, want 8 [2, 4-10]", n, spans)
	}
	a, b := tr.pubs["a"], tr.pubs["b"]
	if a.dups != 1 || a.reorders != 2 || a.reorder1 != "a:3 after a:4" {
		t.Errorf("a: %d dups, %d reorders (first %q), want 1, 2 (a:3 after a:4)", a.dups, a.reorders, a.reorder1)
	}
	if b.dups != 1 || b.reorders != 0 {
		t.Errorf("b: %d dups, %d reorders, want 1, 0", b.dups, b.reorders)
	}
	if tr.bad != 3 || tr.badFirst != "x:1" {
		t.Errorf("bad %d (first %q), want 3 (x:1)", tr.bad, tr.badFirst)
	}
	if u, _ := tr.progress(); u != 8 {
		t.Errorf("%d distinct lines, want 8", u)
	}
}

func TestFormatSpans(t *testing.T) {
	spans := []span{{1, 1}, {3, 7}, {9, 9}, {20, 30}}
	if got, want := formatSpans("a", spans, 10), "a:1, a:3-7 (5), a:9, a:20-30 (11)"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if got, want := formatSpans("a", spans, 2), "a:1, a:3-7 (5), ... 2 more"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestParseStderr(t *testing.T) {
	pub := parsePubStderr("sio-pub: error: connection to http://x lost and not back within 30s: 120 line(s) may not have been delivered (20 not sent, 100 sent but not confirmed by the server)\n")
	if pub.undelivered != 120 {
		t.Errorf("undelivered %d, want 120", pub.undelivered)
	}
	pub = parsePubStderr("sio-pub: error: 37 line(s) were in flight when the connection was lost and may not have been delivered\nsio-pub: hint: the lines after them were delivered\n")
	if pub.undelivered != 37 {
		t.Errorf("undelivered %d, want 37", pub.undelivered)
	}
	pub = parsePubStderr("sio-pub: error: 41 line(s) were not delivered to every receiver, the first line 7: not delivered to 1 of 2 receivers\n")
	if pub.undelivered != 41 {
		t.Errorf("not delivered to every receiver: %+v", pub)
	}
	pub = parsePubStderr("sio-pub: 312 line(s) were sent again after a reconnect; receivers may have seen them twice\n")
	if pub.resent != 312 || pub.undelivered != 0 {
		t.Errorf("resent %d undelivered %d, want 312 0", pub.resent, pub.undelivered)
	}
	sub := parseSubStderr("sio-sub: connection to http://x lost (transport close), reconnecting\nsio-sub: reconnected to http://x\nsio-sub: gap: 40 event(s) missed\n")
	if sub.gaps != 1 || sub.reconnects != 2 {
		t.Errorf("gaps %d reconnects %d, want 1 2", sub.gaps, sub.reconnects)
	}
}

func TestRaceOrPanic(t *testing.T) {
	for s, want := range map[string]bool{
		"":                              false,
		"panic: boom":                   true,
		"WARNING: DATA RACE\nfoo.bar\n": true,
	} {
		if got := raceOrPanic(s); got != want {
			t.Errorf("raceOrPanic(%q) = %v", s, got)
		}
	}
}

func TestParseLogfmt(t *testing.T) {
	got := parseLogfmt(`time=2026-11-29T20:57:23.891Z level=INFO msg=disconnect id=wWNW nsp=/ reason="transport close" x="a \"q\""`)
	want := map[string]string{"time": "2026-11-29T20:57:23.891Z", "level": "INFO", "msg": "disconnect",
		"id": "wWNW", "nsp": "/", "reason": "transport close", "x": `a "q"`}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v\nwant %v", got, want)
	}
}

// The server's log: early closes of subscribers and ping timeouts are
// counted; a publisher that leaves after 2 s, and closes the harness
// expected, are not.
func TestServerLog(t *testing.T) {
	s := newServer("A", "", nil)
	roles := map[string]string{"127.0.0.1:1": "sub", "127.0.0.1:2": "pub", "127.0.0.1:3": "sub", "127.0.0.1:4": "sub"}
	s.roleOf = func(addr string) string { return roles[addr] }
	for _, l := range []string{
		`time=2026-11-29T20:00:00.000Z level=INFO msg=connect id=s1 nsp=/ addr=127.0.0.1:1 rooms=[] recovered=false`,
		`time=2026-11-29T20:00:00.000Z level=INFO msg=connect id=p1 nsp=/ addr=127.0.0.1:2 rooms=[] recovered=false`,
		`time=2026-11-29T20:00:00.100Z level=INFO msg=connect id=s2 nsp=/ addr=127.0.0.1:3 rooms=[] recovered=true`,
		`time=2026-11-29T20:00:00.100Z level=INFO msg=connect id=st nsp=/storm addr=127.0.0.1:9 rooms=[] recovered=false`,
		`time=2026-11-29T20:00:01.000Z level=INFO msg=connect id=s3 nsp=/ addr=127.0.0.1:4 rooms=[] recovered=false`,
		`time=2026-11-29T20:00:02.010Z level=INFO msg=disconnect id=s1 nsp=/ reason="transport close"`,
		`time=2026-11-29T20:00:02.020Z level=INFO msg=disconnect id=p1 nsp=/ reason="transport close"`,
		`time=2026-11-29T20:00:02.200Z level=INFO msg=disconnect id=st nsp=/storm reason="client namespace disconnect"`,
		`time=2026-11-29T20:00:30.000Z level=INFO msg=disconnect id=s2 nsp=/ reason="ping timeout"`,
	} {
		s.onLog(l)
	}
	if n := s.liveIn("/"); n != 1 {
		t.Errorf("%d live in /, want 1", n)
	}
	s.expect("sub", time.Date(2026, 11, 29, 21, 0, 0, 0, time.UTC))
	s.onLog(`time=2026-11-29T20:00:03.000Z level=INFO msg=disconnect id=s3 nsp=/ reason="client namespace disconnect"`)
	st := s.snapshot()
	want := serverStats{connects: 5, recovered: 1, earlyCloses: 2, pingTimeouts: 1}
	if st != want {
		t.Errorf("stats %+v, want %+v", st, want)
	}
}

func TestPromisesCoverEveryCombination(t *testing.T) {
	for _, m := range Modes {
		if _, ok := topologies[m]; !ok {
			t.Errorf("mode %s has no topology", m)
		}
		for _, f := range Faults {
			for _, rec := range []bool{true, false} {
				if _, ok := PromiseFor(m, f, rec); !ok {
					t.Errorf("no promise for %s/%s (recovering %v)", m, f, rec)
				}
			}
		}
	}
	if p, _ := PromiseFor("ack", "kill", true); p.Lost != LostNever || p.Dup != DupIfResent || p.PubExit != Exit0 {
		t.Errorf("ack/kill: %+v", p)
	}
	if p, _ := PromiseFor("plain", "kill", true); p.Lost != LostIfReported || p.PubExit != Exit0Or1IfReported {
		t.Errorf("plain/kill: %+v", p)
	}
	if p, _ := PromiseFor("fanout", "none", true); p.Lost != LostNever || p.Dup != DupNever {
		t.Errorf("fanout/none: %+v", p)
	}
	if p, _ := PromiseFor("plain", "cut-sub", true); p.Lost != LostNever || p.Dup != DupNever {
		t.Errorf("plain/cut-sub, recovering: %+v", p)
	}
	if p, _ := PromiseFor("plain", "cut-sub", false); p.Lost != LostIfSubGap {
		t.Errorf("plain/cut-sub, not recovering: %+v", p)
	}
	for args, want := range map[string]bool{"": true, "--recover 30s": true, "--recover 0": false, "--recover=0": false, "--recover 0s": false, "--redis redis://x": false} {
		if got := Recovers(strings.Fields(args)); got != want {
			t.Errorf("Recovers(%q) = %v", args, got)
		}
	}
}

func TestPlanFaults(t *testing.T) {
	for _, f := range Faults {
		a := planFaults(f, rand.New(rand.NewPCG(7, 1)), 2, 3)
		b := planFaults(f, rand.New(rand.NewPCG(7, 1)), 2, 3)
		if !reflect.DeepEqual(a, b) {
			t.Errorf("%s: the same seed planned %v and %v", f, a, b)
		}
		count := map[string][2]int{"kill": {1, 2}, "stop-server": {1, 2}, "stop-sub": {1, 2}, "pause": {1, 2}, "away": {1, 2},
			"cut-sub": {2, 3}, "cut-pub": {2, 3}, "storm": {1, 1}}[f] // none and burn: {0, 0}
		if lo, hi := count[0], count[1]; len(a) < lo || len(a) > hi {
			t.Errorf("%s: %d injections, want %d to %d", f, len(a), count[0], count[1])
		}
		for i, in := range a {
			if in.at < 0.05 || in.at > 0.85 || (i > 0 && in.at < a[i-1].at) {
				t.Errorf("%s: injection at %v (not in order, or out of 5%%-85%%)", f, in.at)
			}
			if f == "kill" && (in.dur < time.Second || in.dur > 3*time.Second) {
				t.Errorf("kill: restart after %v", in.dur)
			}
			if (f == "stop-sub" || f == "pause") && (in.dur < time.Second || in.dur > 5*time.Second) {
				t.Errorf("%s for %v", f, in.dur)
			}
			if f == "stop-sub" && (in.target < 0 || in.target > 2) {
				t.Errorf("stop-sub of subscriber %d", in.target)
			}
		}
	}
}

func outcome(t *tracker) []subOutcome {
	return []subOutcome{{name: "sio-sub 1", t: t}}
}

func TestClassify(t *testing.T) {
	lines := func(prefix string, from, to int) []string {
		var l []string
		for i := from; i <= to; i++ {
			l = append(l, prefix+":"+strconv.Itoa(i))
		}
		return l
	}
	all := lines("a", 1, 10)
	gapped := append(lines("a", 1, 4), lines("a", 8, 10)...) // a:5-7 missing
	pub := func(code, undelivered, resent int) []pubOutcome {
		return []pubOutcome{{name: "sio-pub a", prefix: "a", code: code, report: pubReport{undelivered, resent}}}
	}
	withGap := func(t *tracker) []subOutcome {
		o := outcome(t)
		o[0].report.gaps = 1
		return o
	}
	plain, _ := PromiseFor("plain", "kill", true)
	strict, _ := PromiseFor("plain", "none", true)
	ack, _ := PromiseFor("ack", "kill", true)
	subSide, _ := PromiseFor("plain", "cut-sub", false)

	for _, c := range []struct {
		name     string
		p        Promise
		pubs     []pubOutcome
		subs     []subOutcome
		fails    []string // substrings of the failures, in order; none: it passes
		silent   int
		reported int
	}{
		{name: "everything", p: strict, pubs: pub(0, 0, 0), subs: outcome(track(10, []string{"a"}, all...))},
		{name: "silent loss", p: plain, pubs: pub(0, 0, 0), subs: outcome(track(10, []string{"a"}, gapped...)),
			fails: []string{"silent loss: sio-sub 1 misses 3 of sio-pub a: a:5-7 (3)"}, silent: 3},
		{name: "loss reported by sio-pub", p: plain, pubs: pub(1, 3, 0), subs: outcome(track(10, []string{"a"}, gapped...)), reported: 3},
		{name: "sio-pub counts too few", p: plain, pubs: pub(1, 2, 0), subs: outcome(track(10, []string{"a"}, gapped...)),
			fails: []string{"but sio-pub counted only 2"}, silent: 1, reported: 2},
		{name: "loss reported by the subscriber", p: subSide, pubs: pub(0, 0, 0), subs: withGap(track(10, []string{"a"}, gapped...)), reported: 3},
		{name: "sub-side fault, only sio-pub counted", p: subSide, pubs: pub(1, 3, 0), subs: outcome(track(10, []string{"a"}, gapped...)),
			fails: []string{"sio-pub a exit 1", "no gap from the subscriber"}, reported: 3},
		{name: "no loss allowed", p: strict, pubs: pub(0, 0, 0), subs: withGap(track(10, []string{"a"}, gapped...)),
			fails: []string{"where none may be lost"}, reported: 3},
		{name: "exit 1 without a count", p: plain, pubs: pub(1, 0, 0), subs: outcome(track(10, []string{"a"}, all...)),
			fails: []string{"sio-pub a exit 1"}},
		{name: "duplicates not allowed", p: strict, pubs: pub(0, 0, 0), subs: outcome(track(10, []string{"a"}, append(all, "a:3")...)),
			fails: []string{"printed 1 line(s) of sio-pub a twice, where none may be"}},
		{name: "duplicates after a resend", p: ack, pubs: pub(0, 0, 5), subs: outcome(track(10, []string{"a"}, append(all, "a:3")...))},
		{name: "duplicates without a resend", p: ack, pubs: pub(0, 0, 0), subs: outcome(track(10, []string{"a"}, append(all, "a:3")...)),
			fails: []string{"sio-pub said it resent none"}},
		{name: "reorder", p: plain, pubs: pub(0, 0, 0), subs: outcome(track(3, []string{"a"}, "a:1", "a:3", "a:2")),
			fails: []string{"out of order, the first a:2 after a:3"}},
		{name: "subscriber exit", p: strict, pubs: pub(0, 0, 0), subs: func() []subOutcome {
			o := outcome(track(10, []string{"a"}, all...))
			o[0].code = 137
			return o
		}(), fails: []string{"sio-sub 1 exit 137 on SIGTERM"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			v := classify(c.p, c.pubs, nil, c.subs, nil)
			if len(v.failures) != len(c.fails) {
				t.Fatalf("failures %q, want %d matching %q", v.failures, len(c.fails), c.fails)
			}
			for i, f := range c.fails {
				if !strings.Contains(v.failures[i], f) {
					t.Errorf("failure %d: %q, want it to contain %q", i, v.failures[i], f)
				}
			}
			if v.silentLines != c.silent || v.reportedLines != c.reported {
				t.Errorf("silent %d reported %d, want %d %d", v.silentLines, v.reportedLines, c.silent, c.reported)
			}
		})
	}
}

// In bridge mode, a gap the bridge's sio-sub reports, and a count from
// the bridge's sio-pub, cover what the last subscriber misses.
func TestClassifyBridge(t *testing.T) {
	gapped := []string{"a:1", "a:2", "a:5"}
	p, _ := PromiseFor("bridge", "kill", true)
	pubs := []pubOutcome{{name: "sio-pub a", prefix: "a"}}
	bridgePub := &pubOutcome{name: "bridge sio-pub", code: 1, report: pubReport{undelivered: 2}}
	v := classify(p, pubs, bridgePub, outcome(track(5, []string{"a"}, gapped...)), nil)
	if len(v.failures) != 0 || v.reportedLines != 2 {
		t.Errorf("a count from the bridge's sio-pub: %q, %d reported", v.failures, v.reportedLines)
	}
	subs := outcome(track(5, []string{"a"}, gapped...))
	subs[0].upstream = &subReport{gaps: 1}
	v = classify(p, pubs, nil, subs, []subOutcome{{name: "bridge sio-sub"}})
	if len(v.failures) != 0 || v.reportedLines != 2 {
		t.Errorf("a gap from the bridge's sio-sub: %q, %d reported", v.failures, v.reportedLines)
	}
}
