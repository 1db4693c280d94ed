package pub

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sio-tools/sio/internal/leaktest"
	"github.com/sio-tools/sio/pkg/conn"
	"github.com/sio-tools/sio/pkg/relay"
)

func TestMain(m *testing.M) { leaktest.Main(m) }

// startRelay runs sio-serve's relay on a test HTTP server and returns its
// URL.
func startRelay(t *testing.T) string {
	t.Helper()
	r := relay.New(relay.Options{})
	mux := http.NewServeMux()
	mux.Handle("/socket.io/", r)
	ts := httptest.NewServer(mux)
	t.Cleanup(func() {
		r.Close(time.Second)
		ts.Close()
	})
	return ts.URL
}

// subscribe connects a client to base's main namespace; it returns the
// arguments of the events it receives, in order, each the raw JSON.
func subscribe(t *testing.T, base string) <-chan string {
	t.Helper()
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan string, 1000)
	c, err := conn.Dial(context.Background(), conn.Options{URL: u, OnEvent: func(_ string, args []any) {
		for _, a := range args {
			raw, _ := a.(json.RawMessage)
			got <- string(raw)
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return got
}

// config is sio-pub's configuration for args against base.
func config(t *testing.T, base string, args ...string) Config {
	t.Helper()
	c, err := ParseFlags(append([]string{"-u", base}, args...), func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// lockedWriter is stderr for a Run whose goroutines may still write to it
// while the test reads it.
type lockedWriter struct {
	mu sync.Mutex
	b  strings.Builder
}

func (w *lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *lockedWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}
