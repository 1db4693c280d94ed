package load

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

type tkey struct{ scenario, server, metric string }

type column struct {
	key, name string
	prec      int // decimals
}

// ratioBound names, for a figure, a 0/1 figure: where any run of either
// server has 1 the ratio cell says the load generator was the bound
// instead of a ratio. Only scale and nodeflow results carry gen_bound.
var ratioBound = map[string]string{
	"connects_per_s": "gen_bound", "deliveries_per_s": "gen_bound",
	"p50_ms": "gen_bound", "p99_ms": "gen_bound", "max_ms": "gen_bound",
}

// noRatio are figures of the machine or the generator, not the server.
var noRatio = map[string]bool{
	"gen_cpu_connect": true, "machine_busy_connect": true, "connected": true,
	"sub_cores": true, "pub_cores": true,
}

// The figures shown for each kind of scenario (label "kind").
var kinds = map[string][]column{
	"flow": {
		{"deliveries_per_s", "deliveries/s", 0},
		{"p50_ms", "latency p50 ms", 2},
		{"p99_ms", "latency p99 ms", 2},
		{"server_cpu_s", "server CPU s", 2},
		{"errors", "lost/dup/reordered (sum of runs)", 0},
	},
	"rate": {
		{"p50_ms", "latency p50 ms", 2},
		{"p99_ms", "latency p99 ms", 2},
		{"max_ms", "latency max ms", 2},
		{"server_cpu_s", "server CPU s", 2},
		{"errors", "lost/dup/reordered (sum of runs)", 0},
	},
	// scripts/peers/load.js: the Node client, subscribers and publishers
	// in one process each.
	"nodeflow": {
		{"deliveries_per_s", "deliveries/s", 0},
		{"p50_ms", "latency p50 ms", 2},
		{"p99_ms", "latency p99 ms", 2},
		{"max_ms", "latency max ms", 2},
		{"server_cpu_s", "server CPU s", 2},
		{"sub_cores", "generator CPU, subscribers (cores)", 2},
		{"pub_cores", "generator CPU, publishers (cores)", 2},
		{"errors", "lost/dup/reordered (sum of runs)", 0},
	},
	"idle": {
		{"rss_kb_per_conn", "server RSS KB/conn", 1},
		{"conns_lost", "connections lost", 0},
	},
	"pipeline": {
		{"seconds", "end-to-end s", 2},
		{"lines_per_s", "lines/s", 0},
		{"lost", "lines missing", 0},
	},
	"storm": {
		{"connect_p50_ms", "connect p50 ms", 1},
		{"connect_p99_ms", "connect p99 ms", 1},
		{"connect_max_ms", "connect max ms", 1},
		{"over_2s", "connects over 2 s", 0},
		{"failed", "failed connects", 0},
	},
	"scale": {
		{"connected", "connected", 0},
		{"connects_per_s", "connects/s", 0},
		{"connect_p99_ms", "connect p99 ms", 1},
		{"gen_cpu_connect", "generator CPU while connecting (cores)", 2},
		{"server_cpu_connect", "server CPU while connecting (cores)", 2},
		{"machine_busy_connect", "machine busy while connecting (of all cores)", 2},
		{"rss_idle_mb", "server RSS MB, idle", 1},
		{"rss_kb_per_conn", "server RSS KB/conn", 1},
		{"rss_peak_mb", "server RSS MB, peak (connects, hold)", 1},
		{"server_cpu_idle_pct", "server CPU idle, % of a core", 1},
		{"server_cpu_idle_max_pct", "server CPU idle, busiest 5 s, % of a core", 1},
		{"broadcast_all_ms", "broadcast reached all, ms", 1},
		{"broadcast_p50_ms", "broadcast p50 ms", 1},
		{"server_cpu_broadcast_s", "server CPU for the broadcast, s", 2},
		{"scale_errors", "failed connects/lost/missed (sum of runs)", 0},
	},
}

// Table reads JSON lines (sio-load results labelled with scenario, kind
// and server) and writes a markdown table: for each scenario and figure,
// the median of the runs with min..max per server, and the ratio of sio's
// median to each other server's.
func Table(r io.Reader, w io.Writer) error {
	var (
		scenarios []string
		kindOf    = map[string]string{}
		servers   []string
		runs      = map[[2]string]int{}
		values    = map[tkey][]float64{}
	)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for n := 1; sc.Scan(); n++ {
		if strings.TrimSpace(sc.Text()) == "" {
			continue
		}
		m := map[string]any{}
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			return fmt.Errorf("line %d: %v", n, err)
		}
		s, _ := m["scenario"].(string)
		srv, _ := m["server"].(string)
		kind, _ := m["kind"].(string)
		if s == "" || srv == "" || kinds[kind] == nil {
			continue
		}
		if _, ok := kindOf[s]; !ok {
			scenarios = append(scenarios, s)
			kindOf[s] = kind
		}
		if !contains(servers, srv) {
			servers = append(servers, srv)
		}
		runs[[2]string{s, srv}]++
		// scale: figures shown in other units than recorded.
		if f, ok := m["rss_peak_kb"].(float64); ok {
			m["rss_peak_mb"] = f / 1024
		}
		if f, ok := m["server_cpu_idle_max"].(float64); ok {
			m["server_cpu_idle_max_pct"] = 100 * f
		}
		for k, v := range m {
			if f, ok := v.(float64); ok {
				values[tkey{s, srv, k}] = append(values[tkey{s, srv, k}], f)
			}
		}
		errs := 0.0
		for _, k := range []string{"lost", "duplicates", "reordered", "invalid"} {
			if f, ok := m[k].(float64); ok {
				errs += f
			}
		}
		values[tkey{s, srv, "errors"}] = append(values[tkey{s, srv, "errors"}], errs)
		values[tkey{s, srv, "scale_errors"}] = append(values[tkey{s, srv, "scale_errors"}], 0)
	}
	if err := sc.Err(); err != nil {
		return err
	}
	// sio first, then the references in order of appearance.
	if i := indexOf(servers, "sio"); i > 0 {
		servers = append([]string{"sio"}, append(servers[:i:i], servers[i+1:]...)...)
	}
	refs := []string{}
	if len(servers) > 0 && servers[0] == "sio" {
		refs = servers[1:]
	}
	head := []string{"scenario", "figure"}
	for _, s := range servers {
		head = append(head, s+" median (min..max)")
	}
	for _, r := range refs {
		head = append(head, "sio/"+r)
	}
	fmt.Fprintf(w, "| %s |\n|%s\n", strings.Join(head, " | "), strings.Repeat(" --- |", len(head)))
	for _, s := range scenarios {
		for ci, c := range kinds[kindOf[s]] {
			row := []string{"", c.name}
			if ci == 0 {
				n := 0
				for _, srv := range servers {
					n = max(n, runs[[2]string{s, srv}])
				}
				row[0] = fmt.Sprintf("%s (%d runs)", s, n)
			}
			meds := map[string]float64{}
			for _, srv := range servers {
				v := values[tkey{s, srv, c.key}]
				switch {
				case len(v) == 0:
					row = append(row, "")
				case c.key == "errors":
					row = append(row, errorCell(values, s, srv))
				case c.key == "scale_errors":
					row = append(row, sumsCell(values, s, srv, "failed", "conns_lost", "broadcast_missed"))
				default:
					med, lo, hi := Median(append([]float64(nil), v...))
					meds[srv] = med
					row = append(row, fmt.Sprintf("%s (%s..%s)", num(med, c.prec), num(lo, c.prec), num(hi, c.prec)))
				}
			}
			for _, r := range refs {
				a, okA := meds["sio"]
				b, okB := meds[r]
				if bk := ratioBound[c.key]; bk != "" && (anyOne(values[tkey{s, "sio", bk}]) || anyOne(values[tkey{s, r, bk}])) {
					row = append(row, "load generator bound")
				} else if okA && okB && b != 0 && !noRatio[c.key] && c.key != "errors" && c.key != "scale_errors" {
					row = append(row, fmt.Sprintf("%.2f×", a/b))
				} else {
					row = append(row, "")
				}
			}
			fmt.Fprintf(w, "| %s |\n", strings.Join(row, " | "))
		}
	}
	return nil
}

// errorCell sums lost, duplicated and reordered events over the runs.
func errorCell(values map[tkey][]float64, s, srv string) string {
	sum := func(metric string) float64 {
		t := 0.0
		for _, x := range values[tkey{s, srv, metric}] {
			t += x
		}
		return t
	}
	return fmt.Sprintf("%s/%s/%s", num(sum("lost"), 0), num(sum("duplicates"), 0), num(sum("reordered"), 0))
}

// sumsCell sums each metric over the runs, joined by "/".
func sumsCell(values map[tkey][]float64, s, srv string, metrics ...string) string {
	cells := make([]string, len(metrics))
	for i, m := range metrics {
		t := 0.0
		for _, x := range values[tkey{s, srv, m}] {
			t += x
		}
		cells[i] = num(t, 0)
	}
	return strings.Join(cells, "/")
}

func anyOne(v []float64) bool {
	for _, x := range v {
		if x != 0 {
			return true
		}
	}
	return false
}

// num formats with prec decimals and thousands separators.
func num(f float64, prec int) string {
	if math.IsNaN(f) {
		return "NaN"
	}
	s := strconv.FormatFloat(f, 'f', prec, 64)
	intPart, frac, _ := strings.Cut(s, ".")
	neg := strings.HasPrefix(intPart, "-")
	intPart = strings.TrimPrefix(intPart, "-")
	var b strings.Builder
	for i, ch := range intPart {
		if i > 0 && (len(intPart)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(ch)
	}
	out := b.String()
	if neg {
		out = "-" + out
	}
	if frac != "" {
		out += "." + frac
	}
	return out
}

func contains(v []string, s string) bool { return indexOf(v, s) >= 0 }

func indexOf(v []string, s string) int {
	for i, x := range v {
		if x == s {
			return i
		}
	}
	return -1
}
