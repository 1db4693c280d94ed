package e2e

import (
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// cutProxy forwards TCP to a target and can cut every connection and
// refuse new ones for a while: a network drop.
type cutProxy struct {
	ln     net.Listener
	target string

	mu    sync.Mutex
	down  bool
	conns []net.Conn
}

func newCutProxy(t *testing.T, target string) *cutProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{ln: ln, target: target}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				p.serve(c)
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		p.cut(false)
		wg.Wait()
	})
	return p
}

func (p *cutProxy) addr() string { return p.ln.Addr().String() }

func (p *cutProxy) serve(c net.Conn) {
	p.mu.Lock()
	if p.down {
		p.mu.Unlock()
		c.Close()
		return
	}
	up, err := net.Dial("tcp", p.target)
	if err != nil {
		p.mu.Unlock()
		c.Close()
		return
	}
	p.conns = append(p.conns, c, up)
	p.mu.Unlock()
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(up, c); done <- struct{}{} }()
	go func() { _, _ = io.Copy(c, up); done <- struct{}{} }()
	<-done
	c.Close()
	up.Close()
	<-done
}

// cut closes every connection; with down, new ones are refused until up.
func (p *cutProxy) cut(down bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = down
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

func (p *cutProxy) up() {
	p.mu.Lock()
	p.down = false
	p.mu.Unlock()
}

// sio-serve --recover D: a sio-sub whose connection drops for less than D
// misses no event and prints no extra argument.
func TestRecoverAfterConnectionDrop(t *testing.T) {
	srv := serve(t, "--recover", "30s")
	proxy := newCutProxy(t, strings.TrimPrefix(srv.URL, "http://"))
	sub := start(t, procOpts{}, "sio-sub", "--url", "http://"+proxy.addr())
	srv.waitClients(t, 1)
	pub := func(lines string) {
		t.Helper()
		if code, _, stderr := runCmd(t, []byte(lines), time.Minute, "sio-pub", "--url", srv.URL); code != 0 {
			t.Fatalf("sio-pub exit %d: %s", code, stderr)
		}
	}
	pub("1\n2\n3\n")
	sub.stdout.waitLines(t, 3, 20*time.Second)

	proxy.cut(true)
	srv.waitClients(t, 0) // the server noticed; it keeps the session
	for srv.clients(t) != 0 {
		time.Sleep(20 * time.Millisecond)
	}
	pub("4\n5\n6\n") // while sio-sub is away
	proxy.up()
	srv.stderr.waitFor(t, regexpMust(`recovered=true`), 20*time.Second)
	pub("7\n")
	got := sub.stdout.waitLines(t, 7, 20*time.Second)
	if strings.Join(got, " ") != "1 2 3 4 5 6 7" {
		t.Errorf("sio-sub printed %q, want 1 to 7, each as it was sent", got)
	}
}
