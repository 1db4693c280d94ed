package redisadapter

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sio-tools/sio/pkg/conn"
	"github.com/sio-tools/sio/pkg/lines"
	"github.com/sio-tools/sio/pkg/relay"
)

// startRedis runs a redis-server of its own, on a unix socket (no port
// to pick), without persistence; it returns its URL.
func startRedis(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("redis-server")
	if err != nil {
		t.Skip("no redis-server")
	}
	sock := filepath.Join(t.TempDir(), "redis.sock")
	cmd := exec.Command(path, "--port", "0", "--unixsocket", sock, "--save", "", "--appendonly", "no")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan struct{})
	go func() {
		s := bufio.NewScanner(out)
		for s.Scan() {
			if strings.Contains(s.Text(), "eady to accept connections") {
				close(ready)
				break
			}
		}
		for s.Scan() { // keep it from blocking on a full pipe
		}
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	select {
	case <-ready:
	case <-time.After(20 * time.Second):
		t.Fatal("redis-server did not start")
	}
	return "unix://" + sock
}

// openCluster joins the Redis at u.
func openCluster(t *testing.T, u string) *Cluster {
	t.Helper()
	c, err := Open(context.Background(), u, 5*time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// startRelay runs sio-serve's relay over c on a test HTTP server and
// returns its address.
func startRelay(t *testing.T, c *Cluster) string {
	t.Helper()
	r := relay.New(relay.Options{Adapter: c.Adapter()})
	mux := http.NewServeMux()
	mux.Handle("/socket.io/", r)
	ts := httptest.NewServer(mux)
	t.Cleanup(func() {
		r.Close(time.Second)
		ts.Close()
	})
	return strings.TrimPrefix(ts.URL, "http://")
}

// client is a connection to one namespace (and rooms) that keeps the
// first argument of every event it receives.
type client struct {
	*conn.Conn
	mu   sync.Mutex
	got  []string
	note chan struct{}
}

// dial connects to namespace nsp at host, a name the URL is not parsed
// from (it may hold "#").
func dial(t *testing.T, host, nsp string, rooms ...string) *client {
	t.Helper()
	c := &client{note: make(chan struct{}, 1)}
	var err error
	c.Conn, err = conn.Dial(context.Background(), conn.Options{
		URL:   &url.URL{Scheme: "http", Host: host, Path: nsp},
		Rooms: rooms,
		OnEvent: func(_ string, args []any) {
			var s string
			raw, _ := args[0].(json.RawMessage)
			if json.Unmarshal(raw, &s) != nil {
				s = fmt.Sprintf("%#v", args[0])
			}
			c.mu.Lock()
			c.got = append(c.got, s)
			c.mu.Unlock()
			select {
			case c.note <- struct{}{}:
			default:
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// emit sends events with the given texts and waits until the server
// relayed them.
func (c *client) emit(t *testing.T, texts ...string) {
	t.Helper()
	for _, s := range texts {
		body, err := lines.EncodeArray(nil, "ev", []any{s})
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Send(body, nil); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Flush(ctx); err != nil {
		t.Fatal(err)
	}
}

// until returns what c received up to and with last, or after 10 s all
// it received.
func (c *client) until(last string) []string {
	deadline := time.After(10 * time.Second)
	for {
		c.mu.Lock()
		got := append([]string(nil), c.got...)
		c.mu.Unlock()
		for i, s := range got {
			if s == last {
				return got[:i+1]
			}
		}
		select {
		case <-c.note:
		case <-deadline:
			return got
		}
	}
}

func numbered(prefix string, n int) []string {
	l := make([]string, n)
	for i := range l {
		l[i] = fmt.Sprintf("%s%d", prefix, i+1)
	}
	return l
}

// Channels are "socket.io#NSP#" and "socket.io#NSP#ROOM#": with the
// namespaces /a and /a#b, "socket.io#/a#b#" is /a's room "b" or all of
// /a#b, and "socket.io#/a#b#x#" /a's room "b#x" or /a#b's room "x". Each
// message must reach exactly the clients of its own namespace and rooms
// on the other server.
func TestChannelsOfNamespacesWithHash(t *testing.T) {
	u := startRedis(t)
	a := startRelay(t, openCluster(t, u))
	b := startRelay(t, openCluster(t, u))

	// The receivers, on b.
	inA := dial(t, b, "/a")
	inAB := dial(t, b, "/a#b")
	inARoom := dial(t, b, "/a", "b#x")
	inABRoom := dial(t, b, "/a#b", "x")

	// The senders, on a, one after the other; the ends last, so that
	// each receiver has all it will get once it has its end.
	const n = 20
	toA, toAB, toARoom := numbered("a", n), numbered("ab", n), numbered("a-room-b#x", n)
	dial(t, a, "/a").emit(t, toA...)
	dial(t, a, "/a#b").emit(t, toAB...)
	dial(t, a, "/a", "b#x").emit(t, toARoom...)
	dial(t, a, "/a").emit(t, "end /a")
	dial(t, a, "/a#b").emit(t, "end /a#b")

	for _, c := range []struct {
		name string
		c    *client
		end  string
		want []string
	}{
		{"/a", inA, "end /a", toA},
		{"/a#b", inAB, "end /a#b", toAB},
		{"/a, room b#x", inARoom, "end /a", append(append([]string(nil), toA...), toARoom...)},
		{"/a#b, room x", inABRoom, "end /a#b", toAB},
	} {
		want := append(append([]string(nil), c.want...), c.end)
		if got := c.c.until(c.end); !reflect.DeepEqual(got, want) {
			t.Errorf("%s received %q,\nwant %q", c.name, got, want)
		}
	}
}
