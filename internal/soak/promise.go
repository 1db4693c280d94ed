package soak

import (
	"strings"
	"time"
)

// Modes are the pipelines a run can build, in the order runs cycle
// through them.
var Modes = []string{"plain", "ack", "fanout", "multipub", "bridge"}

// Faults are the faults a run can inject, in the order runs cycle through
// them.
var Faults = []string{"none", "kill", "stop-server", "stop-sub", "cut-sub", "away", "cut-pub", "pause", "burn", "storm"}

// Lost says when a subscriber may miss lines.
type Lost int

const (
	// LostNever: every line reaches every subscriber, reported or not.
	LostNever Lost = iota
	// LostIfSubGap: only lines the subscriber said it missed (a "gap"
	// line on its stderr).
	LostIfSubGap
	// LostIfReported: only lines the subscriber said it missed, or that
	// sio-pub counted as maybe not delivered (exit 1 and a count at least
	// as large as what is missing).
	LostIfReported
)

// Dup says when a subscriber may print a line twice.
type Dup int

const (
	// DupNever: no line twice.
	DupNever Dup = iota
	// DupIfResent: only when sio-pub said it sent lines again.
	DupIfResent
)

// PubExit says which exit codes of sio-pub are right.
type PubExit int

const (
	// Exit0: sio-pub exits 0.
	Exit0 PubExit = iota
	// Exit0Or1IfReported: 0, or 1 when it printed how many lines may not
	// have been delivered.
	Exit0Or1IfReported
)

// Promise is what a run of one mode and fault may show. Whatever the
// promise, a run fails on a silent loss (a line missing that neither
// sio-pub nor the subscriber reported), on sio-pub exiting 0 while a
// subscriber that reported no gap misses lines, on a subscriber not
// exiting 0 on SIGTERM, on a race or panic, and on a hang.
type Promise struct {
	Lost    Lost
	Dup     Dup
	PubExit PubExit
	Reorder bool // lines of one publisher may arrive out of order
}

// Server says which servers a rule is for.
type Server int

const (
	// Any server.
	Any Server = iota
	// Recovering: sio-serve keeps a lost subscriber's session and
	// replays what it missed (its default for sio-sub).
	Recovering
	// NotRecovering: sio-serve --recover 0 (or --redis), where a lost
	// subscriber connection may miss events and must say so.
	NotRecovering
)

// PromiseRule gives the promise for a mode and a fault, on a kind of
// server; "*" matches any mode or fault.
type PromiseRule struct {
	Mode, Fault string
	Server      Server
	Promise
}

// Promises is the promise table: the first rule that matches a mode, a
// fault and the server applies. Change it as the product's promises
// change; docs/DELIVERY.md states the same table.
var Promises = []PromiseRule{
	// mode     fault     server          lost            duplicated    sio-pub exit        reorder
	//
	// Without a fault nothing is lost or printed twice.
	{"*", "none", Any, Promise{LostNever, DupNever, Exit0, false}},
	//
	// --ack: nothing lost, ever; a line twice only when sio-pub said it
	// sent lines again. Without recovery, a subscriber whose own
	// connection is cut loses what was on the wire to it: that subscriber
	// did not stay, and must say so; and the server's acks of the lines
	// on the wire to it say so, so sio-pub exits 1 with their count.
	{"ack", "cut-sub", NotRecovering, Promise{LostIfSubGap, DupIfResent, Exit0Or1IfReported, false}},
	{"ack", "away", NotRecovering, Promise{LostIfSubGap, DupIfResent, Exit0Or1IfReported, false}},
	{"ack", "*", Any, Promise{LostNever, DupIfResent, Exit0, false}},
	//
	// Without --ack, a server killed or a publisher's connection cut may
	// lose what was in flight: sio-pub says how many (exit 1), or the
	// subscriber says it has a gap (a restarted server has no sessions).
	{"*", "kill", Any, Promise{LostIfReported, DupNever, Exit0Or1IfReported, false}},
	{"*", "cut-pub", Any, Promise{LostIfReported, DupNever, Exit0Or1IfReported, false}},
	//
	// Faults on the subscribers' side, or a slow or stopped server: the
	// publisher delivered everything (exit 0). A recovering server gives
	// a subscriber that lost its connection what it missed, once; without
	// recovery it may miss lines only when it says it has a gap.
	{"*", "*", Recovering, Promise{LostNever, DupNever, Exit0, false}},
	{"*", "*", NotRecovering, Promise{LostIfSubGap, DupNever, Exit0, false}},
}

// PromiseFor returns the promise for a mode and fault on a server that
// recovers sessions or not, and false when no rule matches.
func PromiseFor(mode, fault string, recovering bool) (Promise, bool) {
	for _, r := range Promises {
		if (r.Mode == "*" || r.Mode == mode) && (r.Fault == "*" || r.Fault == fault) &&
			(r.Server == Any || (r.Server == Recovering) == recovering) {
			return r.Promise, true
		}
	}
	return Promise{}, false
}

// Recovers tells whether sio-serve run with these extra arguments keeps
// sio-sub's sessions: it does unless told --recover 0, or --redis.
func Recovers(serveArgs []string) bool {
	for i, a := range serveArgs {
		switch {
		case a == "--redis" || strings.HasPrefix(a, "--redis="):
			return false
		case a == "--recover" && i+1 < len(serveArgs):
			if d, err := time.ParseDuration(serveArgs[i+1]); serveArgs[i+1] == "0" || (err == nil && d == 0) {
				return false
			}
		case a == "--recover=0" || a == "--recover=0s":
			return false
		}
	}
	return true
}

func (l Lost) String() string {
	switch l {
	case LostNever:
		return "none"
	case LostIfSubGap:
		return "only if the subscriber reports a gap"
	case LostIfReported:
		return "only if reported (sio-pub count or subscriber gap)"
	}
	return "?"
}

func (d Dup) String() string {
	switch d {
	case DupNever:
		return "none"
	case DupIfResent:
		return "only if sio-pub resent"
	}
	return "?"
}

func (e PubExit) String() string {
	switch e {
	case Exit0:
		return "0"
	case Exit0Or1IfReported:
		return "0, or 1 with a count"
	}
	return "?"
}
