package redisadapter

import (
	"context"
	"sync"
	"testing"
	"time"
)

// Close may be called more than once, also at the same time (a deferred
// Close and a shutdown path), and each call returns once the cluster has
// stopped: its goroutines ended, its Redis client closed.
func TestCloseTwice(t *testing.T) {
	u := startRedis(t)
	for range 300 {
		c, err := Open(context.Background(), u, 5*time.Second, nil)
		if err != nil {
			t.Fatal(err)
		}
		start := make(chan struct{})
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				<-start
				c.Close()
				if err := c.rdb.Ping(context.Background()).Err(); err == nil {
					t.Error("Close returned before the Redis client was closed")
				}
			})
		}
		close(start)
		wg.Wait()
		c.Close()
	}
}
