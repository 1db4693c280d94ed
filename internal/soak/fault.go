package soak

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"syscall"
	"time"
)

// injection is one fault of a run's plan.
type injection struct {
	at     float64       // where in the stream: a fraction of the lines the most advanced subscriber printed
	dur    time.Duration // how long it lasts: stopped, held, or down before the restart
	target int           // which server (kill, stop-server) or subscriber (stop-sub)
}

// planFaults draws the injections of one run: how many, where, how long
// and on what. servers and subs are how many there are to choose from.
func planFaults(fault string, rng *rand.Rand, servers, subs int) []injection {
	var n int
	dmin, dmax := time.Duration(0), time.Duration(0)
	switch fault {
	case "kill":
		n, dmin, dmax = 1+rng.IntN(2), time.Second, 3*time.Second
	case "stop-server", "stop-sub", "pause":
		n, dmin, dmax = 1+rng.IntN(2), time.Second, 5*time.Second
	case "away":
		n, dmin, dmax = 1+rng.IntN(2), 2*time.Second, 4*time.Second
	case "cut-sub", "cut-pub":
		n = 2 + rng.IntN(2)
	case "storm":
		n, dmin, dmax = 1, time.Second, 5*time.Second
	default: // none; burn lasts the whole run
		return nil
	}
	plan := make([]injection, n)
	for i := range plan {
		in := injection{at: 0.05 + 0.8*rng.Float64()}
		if dmax > dmin {
			in.dur = dmin + time.Duration(rng.Int64N(int64(dmax-dmin)+1))
		}
		switch fault {
		case "kill", "stop-server":
			in.target = rng.IntN(servers)
		case "stop-sub":
			in.target = rng.IntN(subs)
		}
		plan[i] = in
	}
	slices.SortFunc(plan, func(a, b injection) int {
		switch {
		case a.at < b.at:
			return -1
		case a.at > b.at:
			return 1
		}
		return 0
	})
	return plan
}

// inject applies the plan, each injection once the stream got that far.
// Injections not reached when the publishers are done are skipped: the
// faults hit a stream, not the settling after it.
func (r *run) inject(ctx context.Context, plan []injection) {
	for i, in := range plan {
		if got, ok := r.waitProgress(ctx, in.at); !ok {
			if ctx.Err() == nil {
				r.logf("%d of %d %s not applied: the publishers were done with the subscribers at %.0f%%, before %.0f%%",
					len(plan)-i, len(plan), r.spec.fault, 100*got, 100*in.at)
			}
			return
		}
		r.mu.Lock()
		r.applied++
		r.mu.Unlock()
		r.logf("%s at %.0f%% (%v)", r.spec.fault, 100*in.at, in.dur)
		switch r.spec.fault {
		case "kill":
			s := r.servers[in.target]
			s.current().kill()
			// Its log ends here: it logs no disconnect.
			if !sleepCtx(ctx, in.dur) {
				return
			}
			if err := s.start(ctx); err != nil {
				r.note("restarting sio-serve %s: %v", s.name, err)
				return
			}
		case "stop-server":
			p := r.servers[in.target].current()
			p.signal(syscall.SIGSTOP)
			sleepCtx(ctx, in.dur)
			p.signal(syscall.SIGCONT)
		case "stop-sub":
			p := r.allSubs()[in.target]
			p.signal(syscall.SIGSTOP)
			sleepCtx(ctx, in.dur)
			p.signal(syscall.SIGCONT)
		case "cut-sub":
			for _, s := range r.servers {
				s.expect("sub", time.Now().Add(time.Second))
				sp, _ := s.proxies()
				sp.Cut()
			}
		case "cut-pub":
			for _, s := range r.servers {
				_, pp := s.proxies()
				pp.Cut()
			}
		case "away":
			// Cut, and no way back for 2-4 s: the stream goes on without
			// the subscribers, which then resume with a backlog (at full
			// speed, 100,000 lines or more).
			for _, s := range r.servers {
				s.expect("sub", time.Now().Add(in.dur+time.Second))
				sp, _ := s.proxies()
				sp.Refuse(true)
				sp.Cut()
			}
			sleepCtx(ctx, in.dur)
			for _, s := range r.servers {
				sp, _ := s.proxies()
				sp.Refuse(false)
			}
		case "pause":
			for _, s := range r.servers {
				sp, _ := s.proxies()
				sp.Hold()
			}
			sleepCtx(ctx, in.dur)
			for _, s := range r.servers {
				sp, _ := s.proxies()
				sp.Resume()
			}
		case "storm":
			r.storm(ctx, in.dur)
		}
		if ctx.Err() != nil {
			return
		}
	}
}

// waitProgress waits until the most advanced subscriber printed the
// fraction at of all lines. The stream goes on at the subscribers after
// the publishers are done (the server still holds lines for them), so it
// gives up only when the publishers are done and no subscriber printed
// anything for Settle. It returns the fraction reached.
func (r *run) waitProgress(ctx context.Context, at float64) (float64, bool) {
	want := int(at * float64(r.expected()))
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	var pubsDoneAt time.Time
	for {
		best := 0
		var last time.Time
		for _, s := range r.subs {
			u, l := s.t.progress()
			best = max(best, u)
			if l.After(last) {
				last = l
			}
		}
		got := float64(best) / float64(r.expected())
		if best >= want {
			return got, true
		}
		if !pubsDoneAt.IsZero() && time.Since(pubsDoneAt) >= r.cfg.Settle && time.Since(last) >= r.cfg.Settle {
			return got, false
		}
		select {
		case <-r.pubsDone:
			if pubsDoneAt.IsZero() {
				pubsDoneAt = time.Now()
			}
		case <-ctx.Done():
			return got, false
		case <-tick.C:
		}
	}
}

// storm starts StormSize idle sio-sub at once on namespace /storm of the
// subscribers' server, waits until they are connected, holds them for
// hold, and stops them.
func (r *run) storm(ctx context.Context, hold time.Duration) {
	s := r.servers[len(r.servers)-1]
	var ps []*proc
	for i := 0; i < r.cfg.StormSize && ctx.Err() == nil; i++ {
		p, err := r.start(procSpec{
			name: fmt.Sprintf("storm sio-sub %d", i+1), path: filepath.Join(r.cfg.Bin, "sio-sub"),
			args: []string{"-e", "s", "--url", s.url() + "/storm"}, discardStderr: true,
		})
		if err != nil {
			r.note("storm: starting sio-sub %d: %v", i+1, err)
			break
		}
		ps = append(ps, p)
	}
	if got := s.waitLive(ctx, "/storm", len(ps), 60*time.Second); got < len(ps) {
		r.note("storm: %d of %d idle subscribers connected within 60s", got, len(ps))
	}
	sleepCtx(ctx, hold)
	s.expect("storm", time.Now().Add(time.Hour))
	for _, p := range ps {
		p.signal(syscall.SIGTERM)
	}
	early := 0
	for _, p := range ps {
		if !p.waitFor(10 * time.Second) {
			p.kill()
		}
		if p.code != 0 {
			early++
		}
	}
	if early > 0 {
		r.note("storm: %d of %d idle subscribers did not exit 0", early, len(ps))
	}
}

// sleepCtx sleeps for d; false when ctx ended first.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
