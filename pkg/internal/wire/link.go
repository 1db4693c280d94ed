package wire

import (
	"io"
	"log/slog"
	"sync/atomic"

	"github.com/VictoriaMetrics/metrics"
)

// Link is what both adapters keep of a server's link to Redis: whether
// Redis answered lately, the lines logged when that changes, and the
// counters of /metrics (sio_redis_up and sio_redis_*_total).
type Link struct {
	Log     *slog.Logger
	Metrics *metrics.Set

	Published, Received, Dropped, Malformed *metrics.Counter

	up   atomic.Bool
	down string // logged when Redis goes away: what the server does meanwhile
}

// NewLink makes a link's log and counters; down says what the server
// does while Redis is away, in its log line.
func NewLink(log *slog.Logger, down string) *Link {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	l := &Link{Log: log, Metrics: metrics.NewSet(), down: down}
	l.Published = l.Metrics.NewCounter("sio_redis_published_total")
	l.Received = l.Metrics.NewCounter("sio_redis_received_total")
	l.Dropped = l.Metrics.NewCounter("sio_redis_dropped_total")
	l.Malformed = l.Metrics.NewCounter("sio_redis_malformed_total")
	l.Metrics.NewGauge("sio_redis_up", func() float64 {
		if l.up.Load() {
			return 1
		}
		return 0
	})
	return l
}

// Started takes note that Redis answered at start (no log line).
func (l *Link) Started() { l.up.Store(true) }

// Up tells whether Redis answered lately.
func (l *Link) Up() bool { return l.up.Load() }

// SetUp takes note of whether Redis answers, and logs when that changes.
func (l *Link) SetUp(up bool, err error) {
	if l.up.Swap(up) == up {
		return
	}
	if up {
		l.Log.Info("redis is back")
	} else {
		l.Log.Warn("redis unreachable; "+l.down, "err", err)
	}
}

// WriteMetrics writes the link's metrics in the Prometheus text format.
func (l *Link) WriteMetrics(w io.Writer) { l.Metrics.WritePrometheus(w) }
