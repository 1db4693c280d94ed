package conn

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sio-tools/sio/pkg/relay"
)

// requests counts what reaches a server: long-polling GETs and POSTs,
// websocket handshakes. noWebsocket refuses websockets, as a proxy that
// passes none does.
type requests struct {
	gets, posts, websockets atomic.Int64
	noWebsocket             bool
	next                    http.Handler
}

func (rq *requests) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.Header.Get("Upgrade") != "":
		if rq.noWebsocket {
			http.Error(w, "no websocket here", http.StatusBadGateway)
			return
		}
		rq.websockets.Add(1)
	case r.Method == http.MethodGet:
		rq.gets.Add(1)
	case r.Method == http.MethodPost:
		rq.posts.Add(1)
	}
	rq.next.ServeHTTP(w, r)
}

// With Upgrade, a connection opens over long-polling and moves to a
// websocket before it sends anything: one GET (the handshake), one
// websocket, no POST, and events flow both ways. Where no websocket
// passes, it stays on long-polling and events flow all the same.
func TestUpgrade(t *testing.T) {
	for _, noWS := range []bool{false, true} {
		name := "websocket"
		if noWS {
			name = "no-websocket"
		}
		t.Run(name, func(t *testing.T) {
			r := relay.New(relay.Options{})
			defer r.Close(time.Second)
			rq := &requests{next: r, noWebsocket: noWS}
			srv := httptest.NewServer(rq)
			defer srv.Close()
			u, _ := url.Parse(srv.URL + "/")

			got := make(chan string, 10)
			sub, err := Dial(context.Background(), Options{URL: u, Upgrade: true, OnEvent: func(ev string, args []any) { got <- ev }})
			if err != nil {
				t.Fatal(err)
			}
			defer sub.Close()
			pub, err := Dial(context.Background(), Options{URL: u, Upgrade: true})
			if err != nil {
				t.Fatal(err)
			}
			defer pub.Close()
			for _, ev := range []string{"a", "b", "c"} {
				if err := pub.Emit(ev, []any{1}, nil); err != nil {
					t.Fatal(err)
				}
			}
			for _, want := range []string{"a", "b", "c"} {
				select {
				case ev := <-got:
					if ev != want {
						t.Fatalf("got event %q, want %q", ev, want)
					}
				case <-time.After(10 * time.Second):
					t.Fatalf("event %q not delivered", want)
				}
			}
			gets, posts, wss := rq.gets.Load(), rq.posts.Load(), rq.websockets.Load()
			if noWS {
				if wss != 0 || posts < 3 {
					t.Errorf("without websockets: %d websockets, %d POSTs, want 0 and at least 3", wss, posts)
				}
				return
			}
			if gets != 2 || posts != 0 || wss != 2 {
				t.Errorf("two upgraded clients made %d GETs, %d POSTs, %d websockets; want 2, 0, 2", gets, posts, wss)
			}
		})
	}
}

// Many clients upgrading at once all end on a websocket, joined: a
// websocket that comes right behind the handshake's answer finds the
// session ready (run it with -count and a CPU burner).
func TestUpgradeMany(t *testing.T) {
	r := relay.New(relay.Options{})
	defer r.Close(time.Second)
	rq := &requests{next: r}
	srv := httptest.NewServer(rq)
	defer srv.Close()
	u, _ := url.Parse(srv.URL + "/")
	const n = 40
	conns := make(chan *Conn, n)
	errs := make(chan error, n)
	for range n {
		go func() {
			c, err := Dial(context.Background(), Options{URL: u, Upgrade: true, ConnectTimeout: 20 * time.Second})
			if err != nil {
				errs <- err
				return
			}
			conns <- c
		}()
	}
	start := time.Now()
	for range n {
		select {
		case c := <-conns:
			defer c.Close()
		case err := <-errs:
			t.Error(err)
		}
	}
	if wss, posts := rq.websockets.Load(), rq.posts.Load(); wss != n || posts != 0 {
		t.Errorf("%d clients: %d websockets, %d POSTs; want %d and 0", n, wss, posts, n)
	}
	if d := time.Since(start); d > 4*time.Second {
		t.Logf("joining took %v: a first packet waited for a timeout?", d)
	}
}

// Behind a load balancer without sticky sessions the upgrade's websocket
// reaches another server, which does not know the session (400): the
// connection is then made anew over a websocket, which needs no other
// request, rather than left on long-polling, whose next request would
// reach another server too.
func TestUpgradeToAnotherServer(t *testing.T) {
	a := relay.New(relay.Options{})
	defer a.Close(time.Second)
	b := relay.New(relay.Options{})
	defer b.Close(time.Second)
	var polls, websockets atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") != "" {
			websockets.Add(1)
			b.ServeHTTP(w, r)
			return
		}
		polls.Add(1)
		a.ServeHTTP(w, r)
	}))
	defer srv.Close()
	u, _ := url.Parse(srv.URL + "/")
	got := make(chan string, 10)
	sub, err := Dial(context.Background(), Options{URL: u, Upgrade: true, OnEvent: func(ev string, args []any) { got <- ev }})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	pub, err := Dial(context.Background(), Options{URL: u, Upgrade: true})
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	if err := pub.Emit("a", []any{1}, nil); err != nil {
		t.Fatal(err)
	}
	select {
	case ev := <-got:
		if ev != "a" {
			t.Fatalf("got %q", ev)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("event not delivered")
	}
	if b.Clients() != 2 || a.Clients() != 0 {
		t.Errorf("clients: %d on the websocket server, %d on the polling one; want 2 and 0", b.Clients(), a.Clients())
	}
	if p, w := polls.Load(), websockets.Load(); p != 2 || w != 4 {
		t.Errorf("%d polling requests and %d websockets, want 2 (the handshakes) and 4 (2 refused probes, 2 connections)", p, w)
	}
}
