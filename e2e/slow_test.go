package e2e

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// One client that stops reading, among 50 that read: the others get every
// event, the stalled one is disconnected once --max-queue bytes wait for
// it, with a logged reason, and the server's memory stays bounded.
func TestSlowConsumerIsDisconnected(t *testing.T) {
	const (
		readers  = 50
		events   = 10000
		maxQueue = 2 << 20
	)
	srv := serve(t, "--max-queue", strconv.Itoa(maxQueue))

	// Readers are bare websocket clients, so that 50 of them keep up
	// under the race detector.
	host := strings.TrimPrefix(srv.URL, "http://")
	var mu sync.Mutex
	got := make([]int, readers)
	bad := 0
	done := make(chan int, readers)
	for i := 0; i < readers; i++ {
		ws := wsJoin(t, host)
		t.Cleanup(func() { ws.Close() })
		go func(i int) {
			_ = ws.SetReadDeadline(time.Time{})
			for {
				_, m, err := ws.ReadMessage()
				if err != nil {
					return
				}
				const prefix = `42["message","`
				if !bytes.HasPrefix(m, []byte(prefix)) {
					continue
				}
				rest := m[len(prefix):]
				n, _ := strconv.Atoi(string(rest[:bytes.IndexByte(rest, ' ')]))
				mu.Lock()
				if n != got[i]+1 {
					bad++
				}
				got[i] = n
				mu.Unlock()
				if n == events {
					done <- i
					return
				}
			}
		}(i)
	}
	stalled := wsJoin(t, host)
	defer stalled.Close()
	srv.waitClients(t, readers+1)
	rssStart := rssKB(t, srv.cmd.Process.Pid)

	var in bytes.Buffer
	pad := strings.Repeat("x", 1000)
	for i := 1; i <= events; i++ {
		fmt.Fprintf(&in, "%d %s\n", i, pad)
	}
	start := time.Now()
	if c, _, errOut := runCmd(t, in.Bytes(), 2*time.Minute, "sio-pub", "--url", srv.URL); c != 0 {
		t.Fatalf("sio-pub exit %d: %s", c, errOut)
	}
	deadline := time.After(2 * time.Minute)
	for finished := 0; finished < readers; finished++ {
		select {
		case <-done:
		case <-deadline:
			mu.Lock()
			t.Fatalf("after 2 min %d readers finished; counts %v", finished, got)
		}
	}
	took := time.Since(start)
	mu.Lock()
	if bad != 0 {
		t.Errorf("%d events arrived out of order or twice", bad)
	}
	mu.Unlock()
	// The stalled client's queue stopped at the bound.
	slow := srv.stderr.waitFor(t, regexpMust(`disconnect slow consumer.*queued_bytes=(\d+)`), 10*time.Second)
	if q, _ := strconv.Atoi(slow[1]); q <= maxQueue || q > 16*maxQueue {
		t.Errorf("disconnected with %d bytes queued, want over %d and at most 16 times it", q, maxQueue)
	}
	m, err := srv.metrics()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(m, "sio_slow_consumer_disconnects_total 1\n") {
		t.Errorf("metrics:\n%s", m)
	}
	rssEnd := rssKB(t, srv.cmd.Process.Pid)
	t.Logf("%d readers got %d events of 1 KB each in %v (%.0f deliveries/s); sio-serve RSS %d KB before, %d KB after (race detector build; the readers' queues dominate)",
		readers, events, took.Round(time.Millisecond), float64(readers*events)/took.Seconds(), rssStart, rssEnd)
}
