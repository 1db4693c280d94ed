package load

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gorilla/websocket"
)

// Scale holds many idle connections to one server, spread over several
// loopback source addresses (127.0.0.2 and up: each gives about 28,000
// ephemeral ports), then has one more client emit one event, which the
// server relays to all of them, and times it until every client got it.
//
// Each connection costs the generator one goroutine (its reader), a 512
// byte read buffer and a write buffer borrowed from a pool only while a
// frame is written.
type Scale struct {
	URL       string
	Conns     int
	Parallel  int           // connects in flight at once
	PerSource int           // connections per source address
	Hold      time.Duration // how long the connections stay idle
	PID       int           // server process
	Timeout   time.Duration // for one connect
	MaxFailed int           // stop connecting after this many failures
	Wait      time.Duration // for the broadcast to reach every client
}

// ScaleResult is what a Scale run measured. CPU figures are in cores (1 is
// one core busy all the time); "connect" figures cover the connect phase,
// "idle" ones the hold.
type ScaleResult struct {
	Conns      int            `json:"conns"`
	Sources    int            `json:"source_addrs"`
	GenNoFile  int64          `json:"gen_nofile"`
	SrvNoFile  int64          `json:"server_nofile"`
	Connected  int            `json:"connected"`
	Failed     int            `json:"failed"`
	Stopped    bool           `json:"connects_stopped"` // MaxFailed reached: the rest not tried
	FailedWhy  map[string]int `json:"failed_why,omitempty"`
	FirstError string         `json:"first_error,omitempty"`

	ConnectSeconds float64 `json:"connect_s"`
	ConnectsPerSec float64 `json:"connects_per_s"`
	ConnectP50ms   float64 `json:"connect_p50_ms"`
	ConnectP99ms   float64 `json:"connect_p99_ms"`
	ConnectMaxms   float64 `json:"connect_max_ms"`
	GenCPUConnect  float64 `json:"gen_cpu_connect"`
	SrvCPUConnect  float64 `json:"server_cpu_connect"`
	BusyConnect    float64 `json:"machine_busy_connect"` // fraction of all cores
	GenBound       int     `json:"gen_bound"`            // 1: the generator, not the server, bounded the connect rate

	RSSBeforeKB int64   `json:"rss_before_kb"`
	RSSIdleKB   int64   `json:"rss_idle_kb"` // at the end of the hold
	RSSPeakKB   int64   `json:"rss_peak_kb"` // largest sample, connects and hold
	KBPerConn   float64 `json:"rss_kb_per_conn"`
	RSSIdleMB   float64 `json:"rss_idle_mb"`
	GenRSSKB    int64   `json:"gen_rss_kb"`
	GenKBPer    float64 `json:"gen_kb_per_conn"`
	IdleCPU     float64 `json:"server_cpu_idle"`     // mean over the hold
	IdleCPUMax  float64 `json:"server_cpu_idle_max"` // busiest 5 s of the hold
	IdleCPUPct  float64 `json:"server_cpu_idle_pct"` // IdleCPU in % of one core

	Lost       int     `json:"conns_lost"` // connected, then closed before the broadcast
	LostWhy    string  `json:"lost_first_error,omitempty"`
	Received   int     `json:"broadcast_received"`
	Missed     int     `json:"broadcast_missed"` // open when it was sent, never got it
	AllMs      float64 `json:"broadcast_all_ms"` // from the emit until the last client got it
	BcastP50ms float64 `json:"broadcast_p50_ms"`
	BcastP99ms float64 `json:"broadcast_p99_ms"`
	SrvCPUBc   float64 `json:"server_cpu_broadcast_s"`
	LostTotal  int     `json:"lost"` // failed connects + lost + missed: one figure for the table
}

// scaleDialers gives one websocket dialer per source address
// 127.0.0.2, 127.0.0.3, ...
func scaleDialers(n int) ([]*websocket.Dialer, error) {
	if n > 250 {
		return nil, fmt.Errorf("%d source addresses: at most 250 (127.0.0.2 to 127.0.0.251)", n)
	}
	pool := &sync.Pool{}
	ds := make([]*websocket.Dialer, n)
	for i := range ds {
		nd := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(2+i))}}
		ds[i] = &websocket.Dialer{
			NetDialContext:   nd.DialContext,
			HandshakeTimeout: 10 * time.Second,
			ReadBufferSize:   512,
			WriteBufferSize:  512,
			WriteBufferPool:  pool,
		}
	}
	return ds, nil
}

// Run connects, holds, broadcasts, closes.
func (s Scale) Run(ctx context.Context) (ScaleResult, error) {
	if s.Parallel <= 0 {
		s.Parallel = 200
	}
	if s.PerSource <= 0 {
		s.PerSource = 5000
	}
	if s.Timeout <= 0 {
		s.Timeout = 15 * time.Second
	}
	if s.MaxFailed <= 0 {
		s.MaxFailed = 500
	}
	if s.Wait <= 0 {
		s.Wait = 60 * time.Second
	}
	res := ScaleResult{Conns: s.Conns, Sources: (s.Conns + s.PerSource - 1) / s.PerSource, FailedWhy: map[string]int{}}
	res.Sources = max(res.Sources, 1)
	res.GenNoFile = openFilesLimit()
	if s.PID != 0 {
		res.SrvNoFile = procNoFile(s.PID)
	}
	dialers, err := scaleDialers(res.Sources)
	if err != nil {
		return res, err
	}
	before, err := RSSKB(s.PID)
	if err != nil {
		return res, err
	}
	res.RSSBeforeKB, res.RSSPeakKB = before, before
	genBefore, _ := RSSKB(os.Getpid())

	var (
		clients  = make([]*Raw, s.Conns)
		arrived  = make([]int64, s.Conns) // UnixNano the broadcast reached client i
		received atomic.Int64
		mu       sync.Mutex
		times    = make([]time.Duration, 0, s.Conns)
		failed   atomic.Int64
	)
	defer func() {
		var wg sync.WaitGroup
		for i := 0; i < len(clients); i += 1000 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for _, c := range clients[i:min(i+1000, len(clients))] {
					if c != nil {
						c.Close()
					}
				}
			}()
		}
		wg.Wait()
	}()

	// The server's RSS is sampled every second from here to the broadcast.
	sampleCtx, stopSampling := context.WithCancel(ctx)
	var sampler sync.WaitGroup
	var peak atomic.Int64
	peak.Store(before)
	sampler.Add(1)
	go func() {
		defer sampler.Done()
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-sampleCtx.Done():
				return
			case <-t.C:
				if kb, err := RSSKB(s.PID); err == nil && kb > peak.Load() {
					peak.Store(kb)
				}
			}
		}
	}()
	defer func() { stopSampling(); sampler.Wait() }()

	// One more client, from 127.0.0.1, will emit the event that the server
	// sends to every other client of "/". It connects first, so that it
	// has its place when the server is full.
	sender, err := dialTimeout(ctx, s.URL, "", nil)
	if err != nil {
		return res, fmt.Errorf("broadcast sender: %w", err)
	}
	defer sender.Close()

	genCPU0, _ := CPUSeconds(os.Getpid())
	srvCPU0, _ := CPUSeconds(s.PID)
	busy0, total0 := machineCPU()
	start := time.Now()
	connCtx, stopConnecting := context.WithCancel(ctx)
	defer stopConnecting()
	var wg sync.WaitGroup
	sem := make(chan struct{}, s.Parallel)
dial:
	for i := range clients {
		select {
		case sem <- struct{}{}:
		case <-connCtx.Done():
			break dial
		}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			dctx, cancel := context.WithTimeout(connCtx, s.Timeout)
			defer cancel()
			t0 := time.Now()
			c, err := dialRawWith(dctx, dialers[i%len(dialers)], s.URL, "", func(_ []byte, at time.Time) {
				if atomic.CompareAndSwapInt64(&arrived[i], 0, at.UnixNano()) {
					received.Add(1)
				}
			})
			d := time.Since(t0)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if connCtx.Err() != nil && ctx.Err() == nil {
					return // not tried: connects were stopped
				}
				if res.FirstError == "" {
					res.FirstError = err.Error()
				}
				res.FailedWhy[dialFailure(err)]++
				if failed.Add(1) >= int64(s.MaxFailed) && !res.Stopped {
					res.Stopped = true
					stopConnecting()
				}
				return
			}
			clients[i] = c
			times = append(times, d)
		}()
	}
	wg.Wait()
	connectEnd := time.Now()
	if err := ctx.Err(); err != nil {
		return res, err
	}
	res.ConnectSeconds = connectEnd.Sub(start).Seconds()
	res.Connected = len(times)
	res.Failed = int(failed.Load())
	if res.ConnectSeconds > 0 {
		res.ConnectsPerSec = float64(res.Connected) / res.ConnectSeconds
		genCPU1, _ := CPUSeconds(os.Getpid())
		srvCPU1, _ := CPUSeconds(s.PID)
		busy1, total1 := machineCPU()
		res.GenCPUConnect = (genCPU1 - genCPU0) / res.ConnectSeconds
		res.SrvCPUConnect = (srvCPU1 - srvCPU0) / res.ConnectSeconds
		if total1 > total0 {
			res.BusyConnect = float64(busy1-busy0) / float64(total1-total0)
		}
	}
	// The generator bounded the connect rate when the machine was busy and
	// the generator took more of it than the server did.
	if res.BusyConnect >= 0.9 && res.GenCPUConnect > res.SrvCPUConnect {
		res.GenBound = 1
	}
	sum := Summarize(times)
	res.ConnectP50ms, res.ConnectP99ms, res.ConnectMaxms = ms(sum.P50), ms(sum.P99), ms(sum.Max)
	if kb, err := RSSKB(os.Getpid()); err == nil {
		res.GenRSSKB = kb
		if res.Connected > 0 {
			res.GenKBPer = float64(kb-genBefore) / float64(res.Connected)
		}
	}

	// Hold: the server's CPU over the whole hold and its busiest 5 s.
	holdCPU0, err := CPUSeconds(s.PID)
	if err != nil {
		return res, fmt.Errorf("server gone after the connects: %w", err)
	}
	holdStart := time.Now()
	last, lastAt := holdCPU0, holdStart
	tick := time.NewTicker(5 * time.Second)
	deadline := time.NewTimer(s.Hold)
hold:
	for {
		select {
		case <-ctx.Done():
			tick.Stop()
			return res, ctx.Err()
		case <-deadline.C:
			break hold
		case now := <-tick.C:
			if c, err := CPUSeconds(s.PID); err == nil {
				res.IdleCPUMax = max(res.IdleCPUMax, (c-last)/now.Sub(lastAt).Seconds())
				last, lastAt = c, now
			}
		}
	}
	tick.Stop()
	holdCPU1, err := CPUSeconds(s.PID)
	if err != nil {
		return res, fmt.Errorf("server gone during the hold: %w", err)
	}
	if d := time.Since(holdStart).Seconds(); d > 0 {
		res.IdleCPU = (holdCPU1 - holdCPU0) / d
		res.IdleCPUPct = 100 * res.IdleCPU
	}
	res.RSSIdleKB, _ = RSSKB(s.PID)
	res.RSSIdleMB = float64(res.RSSIdleKB) / 1024
	stopSampling()
	sampler.Wait()
	res.RSSPeakKB = max(peak.Load(), res.RSSIdleKB)

	alive := 0
	lost := make([]bool, len(clients))
	for i, c := range clients {
		if c == nil {
			continue
		}
		select {
		case <-c.Done():
			lost[i] = true
			res.Lost++
			if res.LostWhy == "" && c.Err() != nil {
				res.LostWhy = c.Err().Error()
			}
		default:
			alive++
		}
	}
	if alive > 0 {
		res.KBPerConn = float64(res.RSSIdleKB-res.RSSBeforeKB) / float64(alive)
	}

	received.Store(0) // nothing was sent before
	for i := range arrived {
		atomic.StoreInt64(&arrived[i], 0)
	}
	bcCPU0, _ := CPUSeconds(s.PID)
	sent := time.Now()
	frame := appendEvent(nil, 0, 0, sent.UnixNano(), 100)
	select {
	case <-sender.Done():
		return res, fmt.Errorf("broadcast sender lost during the hold: %v", sender.Err())
	default:
	}
	if err := sender.Send(frame); err != nil {
		return res, fmt.Errorf("broadcast: %w", err)
	}
	// Done when every open client got it or closed.
	settled := func() bool {
		if int(received.Load()) >= alive {
			return true
		}
		n := 0
		for i, c := range clients {
			if c == nil || lost[i] {
				continue
			}
			if atomic.LoadInt64(&arrived[i]) != 0 {
				n++
				continue
			}
			select {
			case <-c.Done():
				n++
			default:
				return false
			}
		}
		return n >= alive
	}
	poll := time.NewTicker(10 * time.Millisecond)
	defer poll.Stop()
	waitEnd := time.NewTimer(s.Wait)
	defer waitEnd.Stop()
wait:
	for {
		select {
		case <-ctx.Done():
			return res, ctx.Err()
		case <-waitEnd.C:
			break wait
		case <-poll.C:
			if settled() {
				break wait
			}
		}
	}
	if c, err := CPUSeconds(s.PID); err == nil {
		res.SrvCPUBc = c - bcCPU0
	}
	var lat []time.Duration
	for i, c := range clients {
		if c == nil || lost[i] {
			continue
		}
		if at := atomic.LoadInt64(&arrived[i]); at != 0 {
			lat = append(lat, time.Duration(at-sent.UnixNano()))
		} else {
			res.Missed++ // closed while waiting, or still waiting
		}
	}
	res.Received = len(lat)
	bs := Summarize(lat)
	res.AllMs, res.BcastP50ms, res.BcastP99ms = ms(bs.Max), ms(bs.P50), ms(bs.P99)
	res.LostTotal = res.Failed + res.Lost + res.Missed
	if res.Stopped {
		res.LostTotal += s.Conns - res.Connected - res.Failed
	}
	return res, nil
}

// dialFailure names the cause of a failed connect for the counts: the
// generator's own limits (files, ephemeral ports) apart from the server's
// answers.
func dialFailure(err error) string {
	switch {
	case errors.Is(err, syscall.EMFILE), errors.Is(err, syscall.ENFILE):
		return "generator: too many open files"
	case errors.Is(err, syscall.EADDRNOTAVAIL), errors.Is(err, syscall.EADDRINUSE):
		return "generator: no ephemeral port left"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return "connection reset"
	case errors.Is(err, websocket.ErrBadHandshake):
		return "handshake refused (HTTP status)"
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded):
		return "timeout"
	case strings.Contains(err.Error(), "closed before joining"), strings.Contains(err.Error(), "EOF"):
		return "closed by the server"
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return "timeout"
	}
	return "other"
}

// machineCPU returns the busy and total jiffies of all cores (/proc/stat).
func machineCPU() (busy, total int64) {
	f, err := os.Open("/proc/stat")
	if err != nil {
		return 0, 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	if !sc.Scan() {
		return 0, 0
	}
	fields := strings.Fields(sc.Text())
	if len(fields) < 5 || fields[0] != "cpu" {
		return 0, 0
	}
	for i, v := range fields[1:] {
		n, _ := strconv.ParseInt(v, 10, 64)
		if i >= 8 { // guest time is already in user
			break
		}
		total += n
		if i != 3 && i != 4 { // idle, iowait
			busy += n
		}
	}
	return busy, total
}

// procNoFile reads the soft "Max open files" of process pid, or -1.
func procNoFile(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/limits", pid))
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "Max open files"); ok {
			f := strings.Fields(rest)
			if len(f) > 0 {
				if n, err := strconv.ParseInt(f[0], 10, 64); err == nil {
					return n
				}
			}
		}
	}
	return -1
}

// openFilesLimit is this process's soft limit on open files, or -1.
func openFilesLimit() int64 { return procNoFile(os.Getpid()) }
