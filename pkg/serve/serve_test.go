package serve_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sio-tools/sio/internal/leaktest"
	"github.com/sio-tools/sio/pkg/cli"
	"github.com/sio-tools/sio/pkg/conn"
	"github.com/sio-tools/sio/pkg/serve"
)

func TestMain(m *testing.M) { leaktest.Main(m) }

type syncBuf struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// runServer runs serve.Run with args and returns its URL, the function
// that stops it, and the channel Run's result comes on.
func runServer(t *testing.T, args ...string) (string, context.CancelFunc, chan error) {
	t.Helper()
	cfg, err := serve.ParseFlags(args, func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	stderr := &syncBuf{}
	done := make(chan error, 1)
	go func() { done <- serve.Run(ctx, cfg, cli.Stdio{Out: io.Discard, Err: stderr}) }()
	re := regexp.MustCompile(`listening on (http://\S+)\n`)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if m := re.FindStringSubmatch(stderr.String()); m != nil {
			return m[1], cancel, done
		}
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("no listening line: %s", stderr.String())
		}
	}
}

// Run serves until its context ends, then returns nil within
// cli.ShutdownTimeout (5 s) with no goroutine left behind (the leak check
// runs after the tests).
func TestRunStopsCleanly(t *testing.T) {
	base, cancel, done := runServer(t, "--port", "0", "-q")
	defer cancel()
	resp, err := http.Get(base + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "ok\n" {
		t.Errorf("/healthz: %q", body)
	}

	u, _ := url.Parse(base)
	states := make(chan conn.State, 16)
	c, err := conn.Dial(context.Background(), conn.Options{URL: u, OnState: func(s conn.State) { states <- s }})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Emit("x", []any{"y"}, nil); err != nil {
		t.Fatal(err)
	}

	start := time.Now()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(cli.ShutdownTimeout + 500*time.Millisecond): // a little for the scheduler
		t.Fatalf("Run did not return within %v", cli.ShutdownTimeout)
	}
	t.Logf("stopped in %v", time.Since(start).Round(time.Millisecond))
	told := time.After(5 * time.Second)
	for {
		select {
		case st := <-states:
			if st.Connected {
				continue
			}
			if st.Reason != "io server disconnect" {
				t.Errorf("client disconnected for %q, want the server's disconnect", st.Reason)
			}
		case <-told:
			t.Error("client not told of the shutdown")
		}
		break
	}
}
