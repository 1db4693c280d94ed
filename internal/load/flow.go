package load

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// Flow describes a run of events from publishers to subscribers, all
// connected to the main namespace of one server (or the subscribers to
// another node of the same cluster).
type Flow struct {
	URL    string
	SubURL string  // subscribers' server when not URL (another node of a cluster)
	Pubs   int     // publishers
	Subs   int     // subscribers
	Events int     // events each publisher sends
	Window int     // events a publisher may have in flight: sent, not yet received by every subscriber
	Rate   float64 // events per second per publisher; 0: as fast as the window allows
	Size   int     // bytes per event frame
	PID    int     // server process, for its CPU time; 0: not measured
	// Stall ends the run when no subscriber received anything for this long.
	Stall time.Duration
	// Auth is the JSON auth every client sends with its CONNECT, or "".
	Auth string
}

// FlowResult is what a Flow measured. Deliveries count events received by
// subscribers only (publishers also hear each other; they discard that).
type FlowResult struct {
	Expected   int     `json:"expected"`
	Deliveries int     `json:"deliveries"`
	Seconds    float64 `json:"seconds"`
	PerSec     float64 `json:"deliveries_per_s"`
	P50ms      float64 `json:"p50_ms"`
	P99ms      float64 `json:"p99_ms"`
	Maxms      float64 `json:"max_ms"`
	CPUs       float64 `json:"server_cpu_s"`
	Lost       int     `json:"lost"`
	Duplicates int     `json:"duplicates"`
	Reordered  int     `json:"reordered"`
	Invalid    int     `json:"invalid"`
	Stalled    bool    `json:"stalled"`
}

type subscriber struct {
	seqs []*Sequence // per publisher
	lat  []time.Duration
	mu   sync.Mutex // guards seqs and lat against the final read
}

// Run connects every client, sends, and waits until every subscriber got
// every event or nothing arrived for Stall.
func (f Flow) Run(ctx context.Context) (FlowResult, error) {
	if f.Window <= 0 {
		f.Window = 1000
	}
	if f.Size <= 0 {
		f.Size = 100
	}
	if f.Stall <= 0 {
		f.Stall = 10 * time.Second
	}
	var (
		res      FlowResult
		total    = int64(f.Pubs) * int64(f.Events) * int64(f.Subs)
		received atomic.Int64
		last     atomic.Int64 // UnixNano of the latest delivery
		allIn    = make(chan struct{})
		allOnce  sync.Once
	)
	res.Expected = int(total)
	// counts[p][s]: subscribers that got event s of publisher p. The last
	// one frees a place in the publisher's window.
	counts := make([][]atomic.Int32, f.Pubs)
	windows := make([]chan struct{}, f.Pubs)
	for p := range counts {
		counts[p] = make([]atomic.Int32, f.Events)
		windows[p] = make(chan struct{}, f.Window)
	}

	var clients []*Raw
	defer func() {
		for _, c := range clients {
			c.Close()
		}
	}()
	subs := make([]*subscriber, f.Subs)
	for i := range subs {
		sb := &subscriber{seqs: make([]*Sequence, f.Pubs), lat: make([]time.Duration, 0, f.Pubs*f.Events)}
		for p := range sb.seqs {
			sb.seqs[p] = NewSequence(f.Events)
		}
		subs[i] = sb
		subURL := f.URL
		if f.SubURL != "" {
			subURL = f.SubURL
		}
		c, err := dialTimeout(ctx, subURL, f.Auth, func(data []byte, at time.Time) {
			p, s, ts, ok := parseEvent(data)
			sb.mu.Lock()
			if !ok || p < 0 || p >= f.Pubs {
				sb.mu.Unlock()
				return
			}
			sb.seqs[p].Add(s)
			sb.lat = append(sb.lat, at.Sub(time.Unix(0, ts)))
			sb.mu.Unlock()
			if s >= 0 && s < f.Events && counts[p][s].Add(1) == int32(f.Subs) {
				<-windows[p]
			}
			last.Store(at.UnixNano())
			if received.Add(1) == total {
				allOnce.Do(func() { close(allIn) })
			}
		})
		if err != nil {
			return res, fmt.Errorf("subscriber %d: %w", i, err)
		}
		clients = append(clients, c)
	}
	pubs := make([]*Raw, f.Pubs)
	for i := range pubs {
		c, err := dialTimeout(ctx, f.URL, f.Auth, nil)
		if err != nil {
			return res, fmt.Errorf("publisher %d: %w", i, err)
		}
		pubs[i] = c
		clients = append(clients, c)
	}

	cpu0, cpuErr := f.cpu()
	start := time.Now()
	sendCtx, stop := context.WithCancel(ctx)
	defer stop()
	var wg sync.WaitGroup
	sendErr := make(chan error, f.Pubs)
	for p, c := range pubs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f.publish(sendCtx, p, c, windows[p], start); err != nil {
				sendErr <- fmt.Errorf("publisher %d: %w", p, err)
			}
		}()
	}

	// Wait for every delivery, or a stall.
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	progress, progressAt := int64(-1), time.Now()
wait:
	for {
		select {
		case <-allIn:
			break wait
		case <-ctx.Done():
			stop()
			wg.Wait()
			return res, ctx.Err()
		case err := <-sendErr:
			stop()
			wg.Wait()
			return res, err
		case now := <-tick.C:
			if n := received.Load(); n != progress {
				progress, progressAt = n, now
			} else if now.Sub(progressAt) > f.Stall {
				res.Stalled = true
				break wait
			}
		}
	}
	stop()
	wg.Wait()
	end := time.Unix(0, last.Load())
	if cpuErr == nil {
		if cpu1, err := f.cpu(); err == nil {
			res.CPUs = cpu1 - cpu0
		}
	}
	var lat []time.Duration
	for _, sb := range subs {
		sb.mu.Lock()
		for _, s := range sb.seqs {
			res.Deliveries += s.Unique()
			res.Lost += s.Lost(f.Events)
			res.Duplicates += s.Duplicates
			res.Reordered += s.Reordered
			res.Invalid += s.Invalid
		}
		lat = append(lat, sb.lat...)
		sb.mu.Unlock()
	}
	res.Seconds = end.Sub(start).Seconds()
	if res.Seconds > 0 {
		res.PerSec = float64(res.Deliveries) / res.Seconds
	}
	sum := Summarize(lat)
	res.P50ms, res.P99ms, res.Maxms = ms(sum.P50), ms(sum.P99), ms(sum.Max)
	return res, nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func (f Flow) cpu() (float64, error) {
	if f.PID == 0 {
		return 0, errors.New("no pid")
	}
	return CPUSeconds(f.PID)
}

// publish sends the events of publisher p. At a fixed rate each event
// carries the time it was due, not the time it went out, so that a server
// that holds the sender back shows it in the latency (no coordinated
// omission).
func (f Flow) publish(ctx context.Context, p int, c *Raw, window chan struct{}, start time.Time) error {
	buf := make([]byte, 0, f.Size+32)
	var interval time.Duration
	if f.Rate > 0 {
		interval = time.Duration(float64(time.Second) / f.Rate)
	}
	for s := 0; s < f.Events; s++ {
		select {
		case window <- struct{}{}:
		case <-ctx.Done():
			return nil
		case <-c.Done():
			return fmt.Errorf("connection lost: %v", c.Err())
		}
		ts := time.Now()
		if interval > 0 {
			due := start.Add(time.Duration(s) * interval)
			if d := time.Until(due); d > 0 {
				select {
				case <-time.After(d):
				case <-ctx.Done():
					return nil
				}
			}
			ts = due
		}
		buf = appendEvent(buf[:0], p, s, ts.UnixNano(), f.Size)
		if err := c.Send(buf); err != nil {
			return err
		}
	}
	return nil
}

func dialTimeout(ctx context.Context, url, auth string, onEvent func([]byte, time.Time)) (*Raw, error) {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	return DialRawAuth(ctx, url, auth, onEvent)
}
