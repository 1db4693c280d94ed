package soak

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

const usage = `Usage: sio-soak [options]

Run the pipelines users build with sio-serve, sio-pub and sio-sub, run
after run, while injecting faults, and check every line. Each run starts
a fresh sio-serve on 127.0.0.1 (port 0), feeds each sio-pub the lines
"P:1" to "P:N" and checks what every sio-sub printed: lines missing (and
whether anybody reported them), printed twice, out of order; exit codes;
what each reported on stderr. A run fails when the promise table of
internal/soak (Promises) does not allow what it saw, on a silent loss,
and when it takes longer than --run-timeout (a hang).

Options:
      --bin DIR          where sio-serve, sio-pub, sio-sub are (default ./bin)
  -d, --duration D       start no run after D (e.g. 10m)
  -n, --runs N           at most N runs; with neither, one run of each mode
                         and fault
  -l, --lines N          lines per publisher per run (default 200000)
  -s, --seed S           seed of the first run; run i uses S+i (default:
                         the time; printed, so a run can be repeated)
  -m, --modes LIST       comma list of: plain, ack, fanout, multipub,
                         bridge (default all)
  -f, --faults LIST      comma list of: none, kill, stop-server, stop-sub,
                         cut-sub, away, cut-pub, pause, burn, storm
                         (default all)
      --serve-args ARGS  extra arguments for every sio-serve, split at
                         spaces (e.g. "--recover 30s")
      --keep DIR         keep the logs and outputs of failed runs in DIR
  -o, --out FILE         also write the table and the failures to FILE
                         (markdown)
      --run-timeout D    a run still going after D is a hang (default 3m)
      --settle D         a subscriber that printed nothing new for D after
                         the publishers ended is done (default 5s)
      --storm N          idle subscribers of the storm fault (default 300)
  -v, --verbose          print every run and every fault injected
  -h, --help             show this help

Modes: plain (sio-pub -> sio-serve -> sio-sub), ack (sio-pub --ack), fanout
(3 sio-sub), multipub (3 sio-pub at once), bridge (sio-pub -> A -> sio-sub
-f envelope | sio-pub -f envelope -> B -> sio-sub).

Faults, at random points of the stream: kill (SIGKILL sio-serve, restart
it on its port 1-3 s later), stop-server and stop-sub (SIGSTOP for 1-5 s),
cut-sub and cut-pub (reset the subscribers' or publishers' connections,
2-3 times), away (cut the subscribers and keep them out 2-4 s, 1-2 times:
they come back to a backlog), pause (hold the subscribers' connections
1-5 s), burn (2 CPU burners for the whole run), storm (idle subscribers
connecting at once).

Failures are printed on stderr as they happen, with the command that
repeats the run; the table goes to stdout at the end, one row per mode
and fault. Its loss columns count runs and (lines); "client closed at
2s" counts subscribers' connections that the client closed 1.5-2.5 s
after sio-serve logged their connect, "ping timeouts" sio-serve's
disconnects for a ping timeout (both from sio-serve's log); "faults" the
injections applied; "max sio-pub time" the longest a sio-pub ran.

Exit status:
  0  every run passed
  1  a run failed
  2  usage error

Examples:
  go build -o bin/ ./cmd/... && sio-soak --duration 10m
  sio-soak --bin /tmp/old-bin --modes plain,fanout --faults burn,storm -n 20
  sio-soak --serve-args "--recover 30s" --faults cut-sub --keep /tmp/soak
`

// Main runs sio-soak with args (without the program name) and returns the
// exit code.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("sio-soak", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var (
		c                 Config
		modes, faults     string
		serveArgs, out    string
		help              bool
		lines, runs, size int
		seed              int64
		dur               time.Duration
	)
	str := func(p *string, def string, names ...string) {
		for _, n := range names {
			fs.StringVar(p, n, def, "")
		}
	}
	num := func(p *int, def int, names ...string) {
		for _, n := range names {
			fs.IntVar(p, n, def, "")
		}
	}
	str(&c.Bin, "bin", "bin")
	str(&modes, "", "m", "modes")
	str(&faults, "", "f", "faults")
	str(&serveArgs, "", "serve-args")
	str(&c.Keep, "", "keep")
	str(&out, "", "o", "out")
	num(&lines, 200000, "l", "lines")
	num(&runs, 0, "n", "runs")
	num(&size, 300, "storm")
	for _, n := range []string{"d", "duration"} {
		fs.DurationVar(&dur, n, 0, "")
	}
	for _, n := range []string{"s", "seed"} {
		fs.Int64Var(&seed, n, 0, "")
	}
	fs.DurationVar(&c.RunTimeout, "run-timeout", 3*time.Minute, "")
	fs.DurationVar(&c.Settle, "settle", 5*time.Second, "")
	for _, n := range []string{"v", "verbose"} {
		fs.BoolVar(&c.Verbose, n, false, "")
	}
	for _, n := range []string{"h", "help"} {
		fs.BoolVar(&help, n, false, "")
	}
	bad := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "sio-soak: "+format+"\nsio-soak: hint: try sio-soak -h\n", a...)
		return 2
	}
	if err := fs.Parse(args); err != nil {
		return bad("%v", err)
	}
	if help {
		fmt.Fprint(stdout, usage)
		return 0
	}
	if fs.NArg() > 0 {
		return bad("unexpected argument %q", fs.Arg(0))
	}
	switch {
	case lines < 1:
		return bad("--lines must be at least 1")
	case runs < 0:
		return bad("--runs must not be negative")
	case dur < 0:
		return bad("--duration must not be negative")
	case size < 1:
		return bad("--storm must be at least 1")
	case c.RunTimeout <= 0 || c.Settle <= 0:
		return bad("--run-timeout and --settle must be positive")
	}
	seedSet := false
	fs.Visit(func(f *flag.Flag) {
		if f.Name == "s" || f.Name == "seed" {
			seedSet = true
		}
	})
	if !seedSet {
		seed = time.Now().UnixNano() % 1_000_000_000
	}
	c.Lines, c.Runs, c.Duration, c.Seed, c.StormSize = lines, runs, dur, seed, size
	c.Modes, c.Faults = splitList(modes), splitList(faults)
	c.ServeArgs = strings.Fields(serveArgs)
	c.Log = stderr

	sum, err := Run(ctx, c)
	if err != nil {
		if errors.Is(err, ErrUsage) {
			return bad("%s", strings.TrimPrefix(err.Error(), ErrUsage.Error()+": "))
		}
		fmt.Fprintf(stderr, "sio-soak: error: %v\n", err)
		return 1
	}
	c.defaults()
	if err := sum.Table(stdout); err != nil {
		fmt.Fprintf(stderr, "sio-soak: error: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "\n%d run(s), %d failed, seed %d, %v\n", sum.Runs, sum.Failed, sum.Seed, sum.Elapsed.Round(time.Second))
	if out != "" {
		if err := writeOut(out, sum, c); err != nil {
			fmt.Fprintf(stderr, "sio-soak: error: %v\n", err)
			return 1
		}
	}
	if sum.Failed > 0 {
		return 1
	}
	return 0
}

func writeOut(path string, sum *Summary, c Config) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := sum.Markdown(f, c); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func splitList(s string) []string {
	var l []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			l = append(l, p)
		}
	}
	return l
}
