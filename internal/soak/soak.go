// Package soak runs the pipelines users build with sio-serve, sio-pub and
// sio-sub, again and again, while it injects the faults users meet: a
// server killed and restarted, processes stopped, connections cut or
// held, CPU starvation, a storm of connections. It checks every line the
// subscribers print against what the publishers read, and classifies each
// run against the promise table (Promises): a line lost without anybody
// saying so, a line printed twice or out of order, a wrong exit code or a
// hang fails the run.
//
// internal/cmd/sio-soak is the command; e2e's TestSoakShort runs a few
// short runs in-process.
package soak

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Config is one soak.
type Config struct {
	Bin      string        // holds sio-serve, sio-pub, sio-sub
	Duration time.Duration // start no run after this (0: no limit)
	Runs     int           // at most this many runs (0: no limit; with no Duration either, one run per combination)
	Lines    int           // lines per publisher per run
	Seed     int64         // run i (from 0) uses Seed+i
	Modes    []string      // default Modes
	Faults   []string      // default Faults
	// Combos, when set, are the runs' mode and fault in turn, instead of
	// every mode with every fault.
	Combos     []Combo
	ServeArgs  []string      // extra arguments for every sio-serve
	Keep       string        // write the logs of failed runs under this directory
	RunTimeout time.Duration // a run still going after this is a hang (default 3m)
	Settle     time.Duration // a subscriber that printed nothing for this long is done (default 5s)
	StormSize  int           // idle subscribers of the storm fault (default 300)
	Verbose    bool
	Log        io.Writer // progress and failures, as they happen (default os.Stderr)
}

// Combo is a mode and a fault.
type Combo struct{ Mode, Fault string }

// Summary is the outcome of a soak.
type Summary struct {
	Seed        int64
	Runs        int
	Failed      int
	Interrupted bool
	Rows        []Row     // one per combination that ran, in the order of the combinations
	Failures    []Failure // in the order they happened
	Elapsed     time.Duration
}

// Row sums the runs of one combination.
type Row struct {
	Mode, Fault   string
	Runs          int
	Passed        int
	Failed        int
	SilentRuns    int // runs with a line lost and nothing reported
	SilentLines   int
	ReportedRuns  int // runs with lines lost that sio-pub or the subscriber reported
	ReportedLines int
	DupRuns       int // runs with a line printed twice
	DupLines      int
	ReorderRuns   int
	BadExits      int // processes whose exit code the promise does not allow
	Hangs         int
	EarlyCloses   int           // connections the client closed 1.5-2.5 s after connecting (sio-serve's log)
	PingTimeouts  int           // disconnects for "ping timeout" (sio-serve's log)
	Resumed       int           // sessions resumed (sio-serve's log: recovered=true)
	MaxReplayed   int           // the most events one resumed session was sent
	Faults        int           // fault injections applied
	MaxPubTime    time.Duration // the longest a sio-pub took, start to exit
	MaxTime       time.Duration // the longest run
}

// Failure is one failed run.
type Failure struct {
	Run         int
	Seed        int64
	Mode, Fault string
	Reasons     []string
	Missing     []string // the missing lines, per subscriber and publisher, as ranges
	Early       []string // subscribers' connections the client closed 1.5-2.5 s after connecting
	Repeat      string   // the command that repeats the run
}

func (c *Config) defaults() {
	if c.Lines <= 0 {
		c.Lines = 200000
	}
	if c.RunTimeout <= 0 {
		c.RunTimeout = 3 * time.Minute
	}
	if c.Settle <= 0 {
		c.Settle = 5 * time.Second
	}
	if c.StormSize <= 0 {
		c.StormSize = 300
	}
	if c.Log == nil {
		c.Log = os.Stderr
	}
	if len(c.Modes) == 0 {
		c.Modes = Modes
	}
	if len(c.Faults) == 0 {
		c.Faults = Faults
	}
}

// ErrUsage wraps the errors of a bad Config.
var ErrUsage = errors.New("usage")

func (c *Config) check() error {
	for _, b := range []string{"sio-serve", "sio-pub", "sio-sub"} {
		fi, err := os.Stat(filepath.Join(c.Bin, b))
		if err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
			return fmt.Errorf("%w: no executable %s in %s (build them: go build -o %s/ ./cmd/...)", ErrUsage, b, c.Bin, c.Bin)
		}
	}
	for _, m := range c.Modes {
		if _, ok := topologies[m]; !ok {
			return fmt.Errorf("%w: unknown mode %q (modes: %s)", ErrUsage, m, strings.Join(Modes, ","))
		}
	}
	for _, f := range c.Faults {
		if !slices.Contains(Faults, f) {
			return fmt.Errorf("%w: unknown fault %q (faults: %s)", ErrUsage, f, strings.Join(Faults, ","))
		}
	}
	for _, cb := range c.combos() {
		if _, ok := topologies[cb.Mode]; !ok || !slices.Contains(Faults, cb.Fault) {
			return fmt.Errorf("%w: unknown combination %s/%s", ErrUsage, cb.Mode, cb.Fault)
		}
		if _, ok := PromiseFor(cb.Mode, cb.Fault, Recovers(c.ServeArgs)); !ok {
			return fmt.Errorf("%w: no promise for %s/%s in the promise table", ErrUsage, cb.Mode, cb.Fault)
		}
	}
	return nil
}

func (c *Config) combos() []Combo {
	if len(c.Combos) > 0 {
		return c.Combos
	}
	var cs []Combo
	for _, m := range c.Modes {
		for _, f := range c.Faults {
			cs = append(cs, Combo{m, f})
		}
	}
	return cs
}

// repeatCommand is the sio-soak command that runs spec again.
func (c *Config) repeatCommand(spec runSpec) string {
	cmd := fmt.Sprintf("sio-soak --bin %s --seed %d --modes %s --faults %s --runs 1 --lines %d",
		c.Bin, spec.seed, spec.mode, spec.fault, c.Lines)
	if len(c.ServeArgs) > 0 {
		cmd += fmt.Sprintf(" --serve-args %q", strings.Join(c.ServeArgs, " "))
	}
	if c.StormSize != 300 {
		cmd += fmt.Sprintf(" --storm %d", c.StormSize)
	}
	return cmd
}

// Run runs the soak: the combinations in turn, run after run, until Runs
// or Duration is reached or ctx is done (the run under way is then
// dropped). It returns an error only for a bad Config (wrapping
// ErrUsage); failed runs are in the Summary.
func Run(ctx context.Context, c Config) (*Summary, error) {
	c.defaults()
	if err := c.check(); err != nil {
		return nil, err
	}
	combos := c.combos()
	runs := c.Runs
	if runs <= 0 && c.Duration <= 0 {
		runs = len(combos)
	}
	sum := &Summary{Seed: c.Seed}
	rows := map[Combo]*Row{}
	fmt.Fprintf(c.Log, "sio-soak: seed %d, %d line(s) per publisher, %d combination(s), bin %s\n",
		c.Seed, c.Lines, len(combos), c.Bin)
	start := time.Now()
	for i := 0; ; i++ {
		if runs > 0 && i >= runs {
			break
		}
		if c.Duration > 0 && time.Since(start) >= c.Duration {
			break
		}
		if ctx.Err() != nil {
			break
		}
		cb := combos[i%len(combos)]
		spec := runSpec{n: i + 1, seed: c.Seed + int64(i), mode: cb.Mode, fault: cb.Fault}
		res := runOne(ctx, &c, spec)
		if res.interrupted {
			sum.Interrupted = true
			break
		}
		row := rows[cb]
		if row == nil {
			row = &Row{Mode: cb.Mode, Fault: cb.Fault}
			rows[cb] = row
		}
		row.add(res)
		sum.Runs++
		if res.failed() {
			sum.Failed++
			f := Failure{Run: spec.n, Seed: spec.seed, Mode: spec.mode, Fault: spec.fault,
				Reasons: res.v.failures, Missing: res.v.missingDetails, Early: res.early, Repeat: c.repeatCommand(spec)}
			sum.Failures = append(sum.Failures, f)
			fmt.Fprint(c.Log, f.String())
			if c.Verbose {
				for _, s := range res.subReports {
					fmt.Fprintf(c.Log, "    %s\n", s)
				}
				for _, n := range res.notes {
					fmt.Fprintf(c.Log, "    note: %s\n", n)
				}
			}
		}
		if c.Verbose {
			status := "ok"
			if res.failed() {
				status = "FAIL"
			}
			fmt.Fprintf(c.Log, "sio-soak: run %d %s/%s seed %d: %s in %v (sio-pub %v), faults %d/%d, early closes %d, ping timeouts %d, reported loss %d, dups %d\n",
				spec.n, spec.mode, spec.fault, spec.seed, status, res.dur.Round(10*time.Millisecond), res.pubTime.Round(10*time.Millisecond),
				res.applied, res.planned, res.stats.earlyCloses, res.stats.pingTimeouts, res.v.reportedLines, res.v.dupLines)
		}
	}
	sum.Elapsed = time.Since(start)
	for _, cb := range combos {
		if r := rows[cb]; r != nil {
			sum.Rows = append(sum.Rows, *r)
			delete(rows, cb) // a combination listed twice gets one row
		}
	}
	return sum, nil
}

func (r *Row) add(res *result) {
	r.Runs++
	if res.failed() {
		r.Failed++
	} else {
		r.Passed++
	}
	if res.v.silentLines > 0 {
		r.SilentRuns++
		r.SilentLines += res.v.silentLines
	}
	if res.v.reportedLines > 0 {
		r.ReportedRuns++
		r.ReportedLines += res.v.reportedLines
	}
	if res.v.dupLines > 0 {
		r.DupRuns++
		r.DupLines += res.v.dupLines
	}
	if res.v.reorders > 0 {
		r.ReorderRuns++
	}
	r.BadExits += res.v.badExits
	if res.hang {
		r.Hangs++
	}
	r.EarlyCloses += res.stats.earlyCloses
	r.PingTimeouts += res.stats.pingTimeouts
	r.Resumed += res.stats.recovered
	r.MaxReplayed = max(r.MaxReplayed, res.stats.maxReplayed)
	r.Faults += res.applied
	r.MaxPubTime = max(r.MaxPubTime, res.pubTime)
	r.MaxTime = max(r.MaxTime, res.dur)
}

// String is the failure as printed when it happens.
func (f Failure) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "FAIL run %d (seed %d, %s/%s):\n", f.Run, f.Seed, f.Mode, f.Fault)
	for _, r := range f.Reasons {
		fmt.Fprintf(&b, "    %s\n", r)
	}
	for _, m := range f.Missing {
		if !slices.ContainsFunc(f.Reasons, func(r string) bool { return strings.Contains(r, m) }) {
			fmt.Fprintf(&b, "    (%s)\n", m)
		}
	}
	for _, e := range f.Early {
		fmt.Fprintf(&b, "    (%s)\n", e)
	}
	fmt.Fprintf(&b, "    repeat: %s\n", f.Repeat)
	return b.String()
}
