package load

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// Idle holds many connections that send nothing and measures what they
// cost the server.
type Idle struct {
	URL      string
	Conns    int
	Hold     time.Duration
	PID      int // server process: its RSS before and after
	Parallel int // connects in flight at once
}

// IdleResult is what an Idle run measured. A connection is lost when the
// server closed it during the hold, or it could not be opened.
type IdleResult struct {
	Conns          int     `json:"conns"`
	Failed         int     `json:"failed"`
	Lost           int     `json:"conns_lost"`
	ConnectSeconds float64 `json:"connect_s"`
	RSSBeforeKB    int64   `json:"rss_before_kb"`
	RSSAfterKB     int64   `json:"rss_after_kb"`
	KBPerConn      float64 `json:"rss_kb_per_conn"`
}

// Run connects, holds, measures, closes.
func (d Idle) Run(ctx context.Context) (IdleResult, error) {
	res := IdleResult{Conns: d.Conns}
	if d.Parallel <= 0 {
		d.Parallel = 50
	}
	before, err := RSSKB(d.PID)
	if err != nil {
		return res, err
	}
	res.RSSBeforeKB = before
	clients := make([]*Raw, d.Conns)
	var wg sync.WaitGroup
	sem := make(chan struct{}, d.Parallel)
	start := time.Now()
	for i := range clients {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			c, err := dialTimeout(ctx, d.URL, "", nil)
			if err == nil {
				clients[i] = c
			}
		}()
	}
	wg.Wait()
	res.ConnectSeconds = time.Since(start).Seconds()
	defer func() {
		for _, c := range clients {
			if c != nil {
				c.Close()
			}
		}
	}()
	select {
	case <-time.After(d.Hold):
	case <-ctx.Done():
		return res, ctx.Err()
	}
	after, err := RSSKB(d.PID)
	if err != nil {
		return res, fmt.Errorf("server gone after the hold: %w", err)
	}
	res.RSSAfterKB = after
	for _, c := range clients {
		if c == nil {
			res.Failed++
			res.Lost++
			continue
		}
		select {
		case <-c.Done():
			res.Lost++
		default:
		}
	}
	if n := d.Conns - res.Lost; n > 0 {
		res.KBPerConn = float64(after-before) / float64(n)
	}
	return res, nil
}
