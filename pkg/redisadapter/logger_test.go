package redisadapter

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// logSink is a log sink for the Redis library's logger and for slog.
type logSink struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *logSink) Printf(_ context.Context, format string, v ...any) {
	l.Write([]byte(fmt.Sprintf(format, v...) + "\n"))
}

func (l *logSink) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logSink) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// setRedisLogger sets the Redis library's process-wide logger for the
// test; there is no reading the one before, so it ends as one that
// drops everything.
func setRedisLogger(t *testing.T, l *logSink) {
	redis.SetLogger(l)
	t.Cleanup(func() { UseLogger(slog.New(slog.DiscardHandler)) })
}

// redisLine is what the Redis library logs when it truncates a duration
// under a millisecond (redisLogs).
const redisLine = "minimal supported value is 1ms"

// redisLogs makes the Redis library log redisLine.
func redisLogs(t *testing.T, u string) {
	t.Helper()
	opts, err := redis.ParseURL(u)
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opts)
	defer rdb.Close()
	if err := rdb.Set(context.Background(), "k", "v", time.Microsecond).Err(); err != nil {
		t.Fatal(err)
	}
}

// Open leaves the Redis library's logger, which is the whole process's,
// as the program set it.
func TestOpenLeavesTheRedisLoggerAlone(t *testing.T) {
	u := startRedis(t)
	var programs logSink
	setRedisLogger(t, &programs)
	var clusters logSink
	c, err := Open(context.Background(), u, 5*time.Second, slog.New(slog.NewTextHandler(&clusters, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	redisLogs(t, u)
	if !strings.Contains(programs.String(), redisLine) {
		t.Errorf("the Redis library's line went to the cluster's log %q, not to the program's logger %q", clusters.String(), programs.String())
	}
}

// UseLogger sends the Redis library's lines to a slog.Logger, at debug
// level.
func TestUseLogger(t *testing.T) {
	u := startRedis(t)
	var programs logSink
	setRedisLogger(t, &programs)
	var logs logSink
	UseLogger(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	redisLogs(t, u)
	if got := logs.String(); !strings.Contains(got, "level=DEBUG") || !strings.Contains(got, redisLine) {
		t.Errorf("logged %q, want the Redis library's line at debug level", got)
	}
}
