package load

import (
	"context"
	"net/url"
	"sync"
	"time"

	"github.com/sio-tools/sio/pkg/conn"
)

// Storm opens many connections and times each connect, until the
// namespace is joined. Client "conn" is the sio commands' own client
// (pkg/conn.Dial, with its retries); "raw" is the lean websocket client.
type Storm struct {
	URL      string
	Conns    int
	Parallel int // connects in flight at once
	Client   string
	Timeout  time.Duration // for one connect
}

// StormResult is what a Storm measured.
type StormResult struct {
	Client  string  `json:"client"`
	Conns   int     `json:"conns"`
	Failed  int     `json:"failed"`
	Over2s  int     `json:"over_2s"`
	P50ms   float64 `json:"connect_p50_ms"`
	P99ms   float64 `json:"connect_p99_ms"`
	Maxms   float64 `json:"connect_max_ms"`
	Seconds float64 `json:"seconds"`
}

// Run connects every client, keeps them all open until the last one
// joined, then closes them.
func (s Storm) Run(ctx context.Context) (StormResult, error) {
	res := StormResult{Client: s.Client, Conns: s.Conns}
	if s.Parallel <= 0 {
		s.Parallel = 100
	}
	if s.Timeout <= 0 {
		s.Timeout = 30 * time.Second
	}
	u, err := url.Parse(s.URL)
	if err != nil {
		return res, err
	}
	var (
		mu      sync.Mutex
		times   []time.Duration
		closers []func()
		wg      sync.WaitGroup
	)
	sem := make(chan struct{}, s.Parallel)
	start := time.Now()
	for range s.Conns {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			cctx, cancel := context.WithTimeout(ctx, s.Timeout)
			defer cancel()
			t0 := time.Now()
			var closer func()
			var err error
			if s.Client == "raw" {
				var c *Raw
				if c, err = DialRaw(cctx, s.URL, nil); err == nil {
					closer = c.Close
				}
			} else {
				var c *conn.Conn
				if c, err = conn.Dial(cctx, conn.Options{URL: u, ConnectTimeout: s.Timeout}); err == nil {
					closer = c.Close
				}
			}
			d := time.Since(t0)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				res.Failed++
				return
			}
			times = append(times, d)
			closers = append(closers, closer)
		}()
	}
	wg.Wait()
	res.Seconds = time.Since(start).Seconds()
	for _, d := range times {
		if d > 2*time.Second {
			res.Over2s++
		}
	}
	sum := Summarize(times)
	res.P50ms, res.P99ms, res.Maxms = ms(sum.P50), ms(sum.P99), ms(sum.Max)
	var cw sync.WaitGroup
	for _, c := range closers {
		cw.Add(1)
		go func() { defer cw.Done(); c() }()
	}
	cw.Wait()
	return res, nil
}
