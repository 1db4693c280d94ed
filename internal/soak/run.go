package soak

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// topology is what a mode runs: publishers (by line prefix) into one
// server, subscribers on it, or on a second server behind a bridge.
type topology struct {
	prefixes []string // one sio-pub per prefix; its lines are "PREFIX:N"
	ack      bool     // sio-pub --ack
	subs     int      // checked sio-sub
	bridge   bool     // sio-pub -> A -> sio-sub -f envelope | sio-pub -f envelope -> B -> sio-sub
}

var topologies = map[string]topology{
	"plain":    {prefixes: []string{"a"}, subs: 1},
	"ack":      {prefixes: []string{"a"}, ack: true, subs: 1},
	"fanout":   {prefixes: []string{"a"}, subs: 3},
	"multipub": {prefixes: []string{"a", "b", "c"}, subs: 1},
	"bridge":   {prefixes: []string{"a"}, subs: 1, bridge: true},
}

// runSpec names one run.
type runSpec struct {
	n           int   // from 1
	seed        int64 // everything random in the run derives from it
	mode, fault string
}

// Grace periods and waits within a run. The run's deadline bounds them
// all.
const (
	connectWait = 30 * time.Second // for the subscribers to connect before publishing
	stopGrace   = 10 * time.Second // between SIGTERM and SIGKILL
)

// run is one run: its processes, proxies and what they did.
type run struct {
	cfg  *Config
	spec runSpec
	topo topology

	servers   []*server
	pubs      []*pubProc
	subs      []*subProc // checked
	bridgeSub *subProc
	bridgePub *pubProc
	pipes     []*os.File
	pubsDone  chan struct{}

	mu      sync.Mutex
	procs   []*proc        // every process started, to stop what is left
	roles   map[int]string // "sub" or "pub" by PID, for clientRole
	applied int            // fault injections applied
	planned int
	notes   []string
	phase   string
	// faultsDone is closed when the fault injector is done; closed says
	// the run is being cleaned up: no process starts any more.
	faultsDone chan struct{}
	closed     bool
}

type pubProc struct {
	*proc
	prefix string
	fed    atomic.Int64 // lines written to its stdin
}

type subProc struct {
	*proc
	t *tracker // nil for the bridge's sio-sub
}

func newRun(cfg *Config, spec runSpec) *run {
	return &run{cfg: cfg, spec: spec, topo: topologies[spec.mode], pubsDone: make(chan struct{})}
}

func (r *run) expected() int { return r.cfg.Lines * len(r.topo.prefixes) }

func (r *run) start(s procSpec) (*proc, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil, errors.New("the run is over")
	}
	p, err := startProc(s)
	if err != nil {
		return nil, err
	}
	r.procs = append(r.procs, p)
	if s.role != "" {
		if r.roles == nil {
			r.roles = map[int]string{}
		}
		r.roles[p.cmd.Process.Pid] = s.role
	}
	return p, nil
}

func (r *run) note(format string, a ...any) {
	msg := fmt.Sprintf(format, a...)
	r.mu.Lock()
	r.notes = append(r.notes, msg)
	r.mu.Unlock()
	r.logf("note: %s", msg)
}

func (r *run) logf(format string, a ...any) {
	if r.cfg.Verbose {
		fmt.Fprintf(r.cfg.Log, "sio-soak: run %d: %s\n", r.spec.n, fmt.Sprintf(format, a...))
	}
}

func (r *run) setPhase(p string) {
	r.mu.Lock()
	r.phase = p
	r.mu.Unlock()
}

func (r *run) getPhase() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.phase
}

// allSubs are the subscribers a stop-sub fault may pick: the checked
// ones and the bridge's.
func (r *run) allSubs() []*proc {
	var ps []*proc
	for _, s := range r.subs {
		ps = append(ps, s.proc)
	}
	if r.bridgeSub != nil {
		ps = append(ps, r.bridgeSub.proc)
	}
	return ps
}

// errSetup marks a run that could not be set up.
type errSetup struct{ err error }

func (e errSetup) Error() string { return "setup: " + e.err.Error() }

func setupErr(format string, a ...any) error { return errSetup{fmt.Errorf(format, a...)} }

// execute runs the pipeline with its faults, from the first process to
// the last exit. The caller stops whatever is left.
func (r *run) execute(ctx context.Context) error {
	rng := rand.New(rand.NewPCG(uint64(r.spec.seed), 0x50a4))
	fault := r.spec.fault
	sub := filepath.Join(r.cfg.Bin, "sio-sub")
	pub := filepath.Join(r.cfg.Bin, "sio-pub")

	r.setPhase("starting")
	if fault == "burn" {
		for i := range 2 {
			if _, err := r.start(procSpec{name: fmt.Sprintf("burner %d", i+1), path: "/bin/sh",
				args: []string{"-c", "while :; do :; done"}, discardStderr: true}); err != nil {
				return setupErr("starting a CPU burner: %v", err)
			}
		}
	}
	nServers := 1
	if r.topo.bridge {
		nServers = 2
	}
	for i := range nServers {
		s := newServer(string(rune('A'+i)), r.cfg.Bin, r.cfg.ServeArgs)
		s.startProc = r.start
		s.roleOf = func(addr string) string { return r.clientRole(s, addr) }
		s.logf = r.logf
		r.servers = append(r.servers, s)
		if err := s.start(ctx); err != nil {
			return setupErr("%v", err)
		}
		if err := s.addProxies(fault == "cut-sub" || fault == "away" || fault == "pause", fault == "cut-pub"); err != nil {
			return setupErr("proxy: %v", err)
		}
	}
	last := r.servers[len(r.servers)-1]

	for i := range r.topo.subs {
		t := newTracker(r.topo.prefixes, r.cfg.Lines, r.cfg.Keep != "")
		p, err := r.start(procSpec{
			name: fmt.Sprintf("sio-sub %d", i+1), path: sub, role: "sub",
			args:   []string{"-e", "s", "--url", last.subURL()},
			stdout: &lineWriter{onLine: t.add},
		})
		if err != nil {
			return setupErr("%v", err)
		}
		r.subs = append(r.subs, &subProc{proc: p, t: t})
	}
	if r.topo.bridge {
		pr, pw, err := os.Pipe()
		if err != nil {
			return setupErr("%v", err)
		}
		bs, err := r.start(procSpec{name: "bridge sio-sub", path: sub, role: "sub",
			args: []string{"-f", "envelope", "--url", r.servers[0].subURL()}, stdout: pw})
		if err == nil {
			var bp *proc
			bp, err = r.start(procSpec{name: "bridge sio-pub", path: pub, role: "pub",
				args: []string{"-f", "envelope", "--url", last.pubURL()}, stdin: pr})
			if err == nil {
				r.bridgeSub = &subProc{proc: bs}
				r.bridgePub = &pubProc{proc: bp}
			}
		}
		pr.Close()
		pw.Close()
		if err != nil {
			return setupErr("%v", err)
		}
	}

	r.setPhase("waiting for the subscribers to connect")
	want := r.topo.subs
	if r.topo.bridge {
		want++ // the bridge's sio-pub
		if got := r.servers[0].waitLive(ctx, "/", 1, connectWait); got < 1 {
			return setupErr("the bridge's sio-sub did not connect to A within %v", connectWait)
		}
	}
	if got := last.waitLive(ctx, "/", want, connectWait); got < want {
		return setupErr("%d of %d clients connected within %v", got, want, connectWait)
	}

	plan := planFaults(fault, rng, nServers, len(r.allSubs()))
	r.planned = len(plan)
	faultsDone := make(chan struct{})
	r.mu.Lock()
	r.faultsDone = faultsDone
	r.mu.Unlock()
	go func() {
		defer close(faultsDone)
		r.inject(ctx, plan)
	}()

	for _, prefix := range r.topo.prefixes {
		args := []string{"-e", "s", "--url", r.servers[0].pubURL()}
		if r.topo.ack {
			args = append(args, "--ack")
		}
		pr, pw, err := os.Pipe()
		if err != nil {
			return setupErr("%v", err)
		}
		p, err := r.start(procSpec{name: "sio-pub " + prefix, path: pub, role: "pub", args: args, stdin: pr})
		pr.Close()
		if err != nil {
			pw.Close()
			return setupErr("%v", err)
		}
		pp := &pubProc{proc: p, prefix: prefix}
		r.pubs = append(r.pubs, pp)
		r.mu.Lock()
		r.pipes = append(r.pipes, pw)
		r.mu.Unlock()
		go feed(pw, prefix, r.cfg.Lines, &pp.fed)
	}

	r.setPhase("waiting for sio-pub to exit")
	for _, p := range r.pubs {
		if err := p.wait(ctx); err != nil {
			return err
		}
	}
	close(r.pubsDone)
	r.setPhase("waiting for the faults to end")
	select {
	case <-faultsDone:
	case <-ctx.Done():
		return ctx.Err()
	}

	r.setPhase("waiting for the subscribers to settle")
	if err := r.settle(ctx); err != nil {
		return err
	}
	if r.topo.bridge {
		r.setPhase("waiting for the bridge's sio-pub to exit")
		r.servers[0].expect("sub", time.Now().Add(time.Hour))
		r.bridgeSub.stop(stopGrace)
		if err := r.bridgePub.wait(ctx); err != nil {
			return err
		}
		r.setPhase("waiting for the subscribers to settle after the bridge")
		if err := r.settle(ctx); err != nil {
			return err
		}
	}
	r.setPhase("stopping")
	last.expect("sub", time.Now().Add(time.Hour))
	for _, s := range r.subs {
		s.signal(syscall.SIGTERM)
	}
	for _, s := range r.subs {
		if !s.waitFor(stopGrace) {
			r.note("%s still running %v after SIGTERM", s.name, stopGrace)
			s.kill()
		}
	}
	for _, s := range r.servers {
		if p := s.current(); p != nil && !p.stop(stopGrace) {
			r.note("sio-serve %s still running %v after SIGTERM", s.name, stopGrace)
		}
	}
	return nil
}

// settle waits until every checked subscriber printed every line, or
// printed nothing new for Settle.
func (r *run) settle(ctx context.Context) error {
	since := time.Now()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		done := true
		for _, s := range r.subs {
			u, last := s.t.progress()
			if u >= r.expected() {
				continue
			}
			if last.Before(since) {
				last = since
			}
			if time.Since(last) < r.cfg.Settle {
				done = false
			}
		}
		if done {
			return nil
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// feed writes lines "PREFIX:1" to "PREFIX:n" to w and closes it; it stops
// when the reader is gone.
func feed(w *os.File, prefix string, n int, fed *atomic.Int64) {
	defer w.Close()
	buf := make([]byte, 0, 64<<10)
	for i := 1; i <= n; i++ {
		buf = append(buf, prefix...)
		buf = append(buf, ':')
		buf = strconv.AppendInt(buf, int64(i), 10)
		buf = append(buf, '\n')
		if len(buf) >= 60<<10 || i == n {
			if _, err := w.Write(buf); err != nil {
				return
			}
			fed.Store(int64(i))
			buf = buf[:0]
		}
	}
}

// cleanup waits for the fault injector (its context is done), then
// stops every process still running (SIGCONT, SIGKILL, each by its PID),
// closes the proxies and the pipes.
func (r *run) cleanup() {
	r.mu.Lock()
	faultsDone := r.faultsDone
	r.mu.Unlock()
	if faultsDone != nil {
		<-faultsDone
	}
	r.mu.Lock()
	r.closed = true
	procs := append([]*proc(nil), r.procs...)
	pipes := r.pipes
	r.mu.Unlock()
	for _, p := range procs {
		if !p.exited() {
			p.signal(syscall.SIGCONT)
			p.signal(syscall.SIGKILL)
		}
	}
	for _, p := range procs {
		<-p.done
	}
	for _, f := range pipes {
		f.Close()
	}
	for _, s := range r.servers {
		sp, pp := s.proxies()
		if sp != nil {
			sp.Close()
		}
		if pp != nil {
			pp.Close()
		}
	}
}

// result is one finished run.
type result struct {
	spec        runSpec
	dur         time.Duration
	hang        bool
	interrupted bool
	v           verdict
	stats       serverStats // summed over the servers
	applied     int
	planned     int
	pubTime     time.Duration // the longest a publisher of the run took, from start to exit
	early       []string      // the checked subscribers' early closes, described
	notes       []string
	subReports  []string // per checked subscriber: lines, reconnects, gaps
}

func (res *result) failed() bool { return len(res.v.failures) > 0 }

// runOne runs one spec within the per-run deadline and classifies it.
func runOne(ctx context.Context, cfg *Config, spec runSpec) *result {
	rctx, cancel := context.WithTimeout(ctx, cfg.RunTimeout)
	defer cancel()
	r := newRun(cfg, spec)
	start := time.Now()
	err := r.execute(rctx)
	phase := r.getPhase()
	cancel() // ends the fault injector, should it still run
	r.cleanup()
	res := &result{spec: spec, dur: time.Since(start), applied: r.applied, planned: r.planned, notes: r.notes}
	for _, s := range r.servers {
		res.early = append(res.early, s.earlyCloses()...)
		st := s.snapshot()
		res.stats.connects += st.connects
		res.stats.recovered += st.recovered
		res.stats.maxReplayed = max(res.stats.maxReplayed, st.maxReplayed)
		res.stats.earlyCloses += st.earlyCloses
		res.stats.pingTimeouts += st.pingTimeouts
		res.stats.starts += st.starts
		res.stats.unkept += st.unkept
	}
	for _, p := range r.pubs {
		if p.exited() {
			res.pubTime = max(res.pubTime, p.ended.Sub(p.began))
		}
	}
	promise, _ := PromiseFor(spec.mode, spec.fault, Recovers(r.cfg.ServeArgs))
	if res.stats.unkept > 0 && promise.Lost == LostNever {
		// The server could not resume a session: the events it missed
		// were dropped (--recover-bytes, --recover), as docs/DELIVERY.md
		// allows. The subscriber must say so (a gap).
		promise.Lost = LostIfSubGap
		res.notes = append(res.notes, fmt.Sprintf("%d session(s) not resumed: the events they missed were no longer kept", res.stats.unkept))
	}
	pubs, bridgePub, subs, others := r.outcomes()
	res.v = classify(promise, pubs, bridgePub, subs, others)
	for _, s := range subs {
		u, _ := s.t.progress()
		res.subReports = append(res.subReports, fmt.Sprintf("%s: %d of %d distinct lines, %d reconnect line(s), %d gap line(s), exit %d",
			s.name, u, r.expected(), s.report.reconnects, s.report.gaps, s.code))
	}
	switch {
	case err == nil:
	case ctx.Err() != nil:
		res.interrupted = true
	case errors.Is(err, context.DeadlineExceeded):
		// A hang is the failure; what the processes killed then exited
		// with, or missed, is not.
		res.hang = true
		res.v = verdict{missingDetails: res.v.missingDetails}
		res.v.fail("hang: still %s after %v", phase, cfg.RunTimeout)
	default:
		res.v = verdict{missingDetails: res.v.missingDetails}
		res.v.fail("%v", err)
	}
	for _, p := range r.allProcs() {
		if raceOrPanic(p.stderrString()) {
			res.v.fail("%s: a data race or a panic on stderr", p.name)
		}
	}
	if res.failed() && cfg.Keep != "" && !res.interrupted {
		if err := r.keep(res); err != nil {
			res.notes = append(res.notes, "keeping the logs: "+err.Error())
		}
	}
	return res
}

func (r *run) allProcs() []*proc {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*proc(nil), r.procs...)
}

// outcomes gathers exit codes and reports once every process ended.
func (r *run) outcomes() (pubs []pubOutcome, bridgePub *pubOutcome, subs []subOutcome, others []subOutcome) {
	for _, p := range r.pubs {
		pubs = append(pubs, pubOutcome{name: p.name, prefix: p.prefix, code: p.code, report: parsePubStderr(p.stderrString())})
	}
	var upstream *subReport
	if r.bridgePub != nil {
		bridgePub = &pubOutcome{name: r.bridgePub.name, code: r.bridgePub.code, report: parsePubStderr(r.bridgePub.stderrString())}
		rep := parseSubStderr(r.bridgeSub.stderrString())
		upstream = &rep
		others = append(others, subOutcome{name: r.bridgeSub.name, code: r.bridgeSub.code, report: rep})
	}
	for _, s := range r.subs {
		subs = append(subs, subOutcome{name: s.name, code: s.code, report: parseSubStderr(s.stderrString()), t: s.t, upstream: upstream})
	}
	return pubs, bridgePub, subs, others
}

// keep writes a failed run's logs and outputs to a directory of Keep.
func (r *run) keep(res *result) error {
	dir := filepath.Join(r.cfg.Keep, fmt.Sprintf("run-%03d-%s-%s-seed%d", r.spec.n, r.spec.mode, r.spec.fault, r.spec.seed))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "run %d, seed %d, mode %s, fault %s, %v\n", r.spec.n, r.spec.seed, r.spec.mode, r.spec.fault, res.dur.Round(time.Millisecond))
	fmt.Fprintf(&b, "repeat: %s\n\nfailures:\n", r.cfg.repeatCommand(r.spec))
	for _, f := range res.v.failures {
		fmt.Fprintf(&b, "  %s\n", f)
	}
	b.WriteString("\nmissing:\n")
	for _, m := range res.v.missingDetails {
		fmt.Fprintf(&b, "  %s\n", m)
	}
	b.WriteString("\nsubscribers:\n")
	for _, s := range res.subReports {
		fmt.Fprintf(&b, "  %s\n", s)
	}
	for _, e := range res.early {
		fmt.Fprintf(&b, "  %s\n", e)
	}
	fmt.Fprintf(&b, "\nfaults applied: %d of %d planned\n", res.applied, res.planned)
	for _, n := range res.notes {
		fmt.Fprintf(&b, "note: %s\n", n)
	}
	b.WriteString("\nprocesses:\n")
	for _, p := range r.allProcs() {
		if p.stderr == nil {
			continue
		}
		fmt.Fprintf(&b, "  %s: %s: exit %d\n", p.name, strings.Join(p.args, " "), p.code)
	}
	files := map[string]string{"summary.txt": b.String()}
	for _, s := range r.servers {
		for i, l := range s.logs() {
			files[fmt.Sprintf("sio-serve-%s-%d.log", s.name, i+1)] = l
		}
	}
	name := func(p *proc) string { return strings.ReplaceAll(p.name, " ", "-") }
	for _, p := range r.pubs {
		files[name(p.proc)+".stderr"] = p.stderrString()
	}
	if r.bridgePub != nil {
		files[name(r.bridgePub.proc)+".stderr"] = r.bridgePub.stderrString()
		files[name(r.bridgeSub.proc)+".stderr"] = r.bridgeSub.stderrString()
	}
	for _, s := range r.subs {
		files[name(s.proc)+".stderr"] = s.stderrString()
		s.t.mu.Lock()
		if s.t.keep != nil {
			files[name(s.proc)+".out"] = s.t.keep.String()
		}
		s.t.mu.Unlock()
	}
	for f, data := range files {
		if err := os.WriteFile(filepath.Join(dir, f), []byte(data), 0o644); err != nil {
			return err
		}
	}
	return nil
}
