package load

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"time"
)

const usage = `Usage: sio-load MODE [options]

Load generator for scripts/bench.sh: drives a Socket.IO v4 server (sio-serve
or any other) on its main namespace and prints one JSON line of results.

Modes:
  flow    publishers send numbered events, subscribers check them:
          deliveries/s, latency, loss, duplicates, reordering, server CPU
  idle    hold idle connections: server RSS per connection, connections lost
  storm   open many connections: connect time (-client conn|raw)
  scale   hold very many idle connections from several loopback source
          addresses, then time one broadcast to all of them: connects/s,
          server RSS and CPU while idle, time until all got it, losses
  table   read JSON lines on stdin, print the comparison table (markdown)
  port    print a free TCP port on 127.0.0.1

Common options:
  -url URL        server (default http://127.0.0.1:31979)
  -pid PID        server process, for CPU time and RSS
  -label K=V      add K to the JSON line (repeatable): scenario, server, run

flow:   -pubs N -subs N -events N (per publisher) -window N -rate R (per
        publisher per second, 0 = as fast as the window allows) -size BYTES
        -sub-url URL (subscribers on another node of a cluster)
        -auth JSON (sent with every CONNECT, e.g. '{"sio_offsets":true}'
        to have sio-serve number the events for recovery, as for sio-sub)
idle:   -conns N -hold D -parallel N
storm:  -conns N -parallel N -client conn|raw -timeout D
scale:  -conns N -parallel N (200) -per-source N (connections per source
        address 127.0.0.2, .3, ...; 5000) -hold D -timeout D (one connect)
        -max-failed N (stop connecting after N failures; 500) -wait D (for
        the broadcast to reach all; 60s). Needs a limit on open files above
        N for the generator and the server alike (ulimit -n)

Exit status: 0 ok, 1 run failed, 2 usage.
`

type labels map[string]string

func (l labels) String() string { return fmt.Sprint(map[string]string(l)) }
func (l labels) Set(s string) error {
	for i := 0; i < len(s); i++ {
		if s[i] == '=' {
			l[s[:i]] = s[i+1:]
			return nil
		}
	}
	return fmt.Errorf("want K=V, got %q", s)
}

// Main runs sio-load with args (without the program name) and returns the
// exit code.
func Main(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stdout, usage)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	mode := args[0]
	fs := flag.NewFlagSet("sio-load "+mode, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	lab := labels{}
	var (
		url      = fs.String("url", "http://127.0.0.1:31979", "")
		subURL   = fs.String("sub-url", "", "")
		auth     = fs.String("auth", "", "")
		pid      = fs.Int("pid", 0, "")
		pubs     = fs.Int("pubs", 1, "")
		subs     = fs.Int("subs", 1, "")
		events   = fs.Int("events", 1000, "")
		window   = fs.Int("window", 1000, "")
		rate     = fs.Float64("rate", 0, "")
		size     = fs.Int("size", 100, "")
		conns    = fs.Int("conns", 100, "")
		hold     = fs.Duration("hold", 30*time.Second, "")
		parallel = fs.Int("parallel", 0, "")
		client   = fs.String("client", "conn", "")
		timeout  = fs.Duration("timeout", 30*time.Second, "")
		perSrc   = fs.Int("per-source", 5000, "")
		maxFail  = fs.Int("max-failed", 500, "")
		wait     = fs.Duration("wait", 60*time.Second, "")
	)
	fs.Var(lab, "label", "")
	if err := fs.Parse(args[1:]); err != nil {
		fmt.Fprintf(stderr, "sio-load: %v\nsio-load: hint: try sio-load -h\n", err)
		return 2
	}
	var (
		res any
		err error
	)
	switch mode {
	case "flow":
		res, err = Flow{URL: *url, SubURL: *subURL, Pubs: *pubs, Subs: *subs, Events: *events, Window: *window,
			Rate: *rate, Size: *size, PID: *pid, Auth: *auth}.Run(ctx)
	case "idle":
		res, err = Idle{URL: *url, Conns: *conns, Hold: *hold, PID: *pid, Parallel: *parallel}.Run(ctx)
	case "storm":
		if *client != "conn" && *client != "raw" {
			fmt.Fprintf(stderr, "sio-load: -client must be conn or raw, not %q\n", *client)
			return 2
		}
		res, err = Storm{URL: *url, Conns: *conns, Parallel: *parallel, Client: *client, Timeout: *timeout}.Run(ctx)
	case "scale":
		res, err = Scale{URL: *url, Conns: *conns, Parallel: *parallel, PerSource: *perSrc, Hold: *hold, PID: *pid,
			Timeout: *timeout, MaxFailed: *maxFail, Wait: *wait}.Run(ctx)
	case "table":
		err = Table(stdin, stdout)
		if err != nil {
			fmt.Fprintf(stderr, "sio-load: error: %v\n", err)
			return 1
		}
		return 0
	case "port":
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			fmt.Fprintf(stderr, "sio-load: error: %v\n", err)
			return 1
		}
		fmt.Fprintln(stdout, ln.Addr().(*net.TCPAddr).Port)
		ln.Close()
		return 0
	default:
		fmt.Fprintf(stderr, "sio-load: unknown mode %q\nsio-load: hint: try sio-load -h\n", mode)
		return 2
	}
	if err != nil {
		fmt.Fprintf(stderr, "sio-load: error: %s: %v\n", mode, err)
		return 1
	}
	line, err := record(res, lab)
	if err != nil {
		fmt.Fprintf(stderr, "sio-load: error: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "%s\n", line)
	return 0
}

// record is res as a JSON object with the labels added; numeric labels
// stay numbers.
func record(res any, lab labels) ([]byte, error) {
	b, err := json.Marshal(res)
	if err != nil {
		return nil, err
	}
	m := map[string]any{}
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	for k, v := range lab {
		if n, err := strconv.ParseFloat(v, 64); err == nil {
			m[k] = n
		} else {
			m[k] = v
		}
	}
	if _, ok := m["time"]; !ok {
		m["time"] = time.Now().UTC().Format(time.RFC3339)
	}
	if h, err := os.Hostname(); err == nil {
		m["host"] = h
	}
	return json.Marshal(m)
}
