package serve

import (
	"io"
	"log/slog"
	"net/http"

	"github.com/sio-tools/sio/pkg/relay"
	"github.com/sio-tools/sio/pkg/viewer"
)

// newHandler routes the requests: the Socket.IO endpoint, the viewer, the
// --static files, /healthz and /metrics. cluster is nil without --redis,
// st without --static.
func newHandler(c Config, r *relay.Relay, st *static, cluster cluster, log *slog.Logger) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/socket.io/", socketIOHandler(c, r, log))
	// The viewer at / (or only at /_sio/ with --static); the client files
	// win over "/socket.io/".
	viewer.Register(mux, c.Static == "", c.Msgpack)
	if st != nil {
		mux.Handle("/", st)
	}
	mux.HandleFunc("/healthz", healthzHandler(cluster))
	mux.HandleFunc("/metrics", metricsHandler(r, cluster))
	return mux
}

// socketIOHandler is the relay behind the origin policy and, with
// --max-conns, the limit on connections.
func socketIOHandler(c Config, r *relay.Relay, log *slog.Logger) http.Handler {
	origins := newOriginPolicy(c.Origins)
	var h http.Handler = origins.wrap(r, func(origin string) {
		r.Refused("origin")
		log.Warn("refused: origin not allowed", "origin", origin)
	})
	if c.MaxConns > 0 {
		h = limitConns(h, r, c.MaxConns, log)
	}
	return h
}

// limitConns answers 503 to a new Engine.IO connection (a request without
// a session id) while max clients are connected.
func limitConns(next http.Handler, r *relay.Relay, max int, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.URL.Query().Get("sid") == "" && r.EngineClients() >= max {
			r.Refused("max_conns")
			log.Warn("refused: --max-conns reached", "max", max, "addr", req.RemoteAddr)
			http.Error(w, "too many connections", http.StatusServiceUnavailable)
			return
		}
		next.ServeHTTP(w, req)
	})
}

// healthzHandler says "ok" while serving, and with --redis or
// --redis-streams whether Redis is up.
func healthzHandler(cluster cluster) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "ok\n")
		if cluster != nil {
			if cluster.Up() {
				io.WriteString(w, "redis: up\n")
			} else {
				io.WriteString(w, "redis: down\n")
			}
		}
	}
}

// metricsHandler writes the relay's, the Redis adapter's and the process's
// metrics in the Prometheus text format.
func metricsHandler(r *relay.Relay, cluster cluster) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		r.WriteMetrics(w)
		if cluster != nil {
			cluster.WriteMetrics(w)
		}
		writeProcessMetrics(w)
	}
}
