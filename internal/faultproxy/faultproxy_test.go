package faultproxy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// echoServer echoes every connection back; stop closes it and waits.
type echoServer struct {
	ln    net.Listener
	wg    sync.WaitGroup
	mu    sync.Mutex
	conns []net.Conn
	errs  chan error // the error each connection ended with (nil: EOF)
}

func newEcho(t *testing.T) *echoServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e := &echoServer{ln: ln, errs: make(chan error, 100)}
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			e.mu.Lock()
			e.conns = append(e.conns, c)
			e.mu.Unlock()
			e.wg.Add(1)
			go func() {
				defer e.wg.Done()
				_, err := io.Copy(c, c)
				e.errs <- err
				c.Close()
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		e.mu.Lock()
		for _, c := range e.conns {
			c.Close()
		}
		e.mu.Unlock()
		e.wg.Wait()
	})
	return e
}

func newProxy(t *testing.T, target string) *Proxy {
	t.Helper()
	p, err := New(target)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func dial(t *testing.T, addr string) *net.TCPConn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c.(*net.TCPConn)
}

// roundTrip writes msg and reads it back within a generous limit.
func roundTrip(t *testing.T, c net.Conn, msg []byte) {
	t.Helper()
	if _, err := c.Write(msg); err != nil {
		t.Fatalf("write: %v", err)
	}
	got := make([]byte, len(msg))
	_ = c.SetReadDeadline(time.Now().Add(20 * time.Second))
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatalf("read: %v", err)
	}
	_ = c.SetReadDeadline(time.Time{})
	if !bytes.Equal(got, msg) {
		t.Fatalf("got %q, want %q", got, msg)
	}
}

// waitConns waits until the proxy has n open connections.
func waitConns(t *testing.T, p *Proxy, n int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for p.Conns() != n {
		if time.Now().After(deadline) {
			t.Fatalf("proxy has %d connections, want %d", p.Conns(), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// pattern is n bytes that show where a byte went missing or moved.
func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i/251)
	}
	return b
}

func TestForwards(t *testing.T) {
	e := newEcho(t)
	p := newProxy(t, e.ln.Addr().String())
	c := dial(t, p.Addr())
	roundTrip(t, c, []byte("hello"))
	// A large transfer both ways, written while read.
	msg := pattern(4 << 20)
	go func() { _, _ = c.Write(msg) }()
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, msg) {
		t.Fatal("4 MiB came back changed")
	}
	if n := p.Conns(); n != 1 {
		t.Errorf("Conns() = %d, want 1", n)
	}
}

// An end of stream is passed on as a half close: the other direction
// still carries what the target answers.
func TestHalfClose(t *testing.T) {
	e := newEcho(t)
	p := newProxy(t, e.ln.Addr().String())
	c := dial(t, p.Addr())
	if _, err := c.Write([]byte("last words")); err != nil {
		t.Fatal(err)
	}
	if err := c.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(20 * time.Second))
	got, err := io.ReadAll(c)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != "last words" {
		t.Errorf("got %q after the half close", got)
	}
	waitConns(t, p, 0)
}

func TestCutResetsBothSides(t *testing.T) {
	e := newEcho(t)
	p := newProxy(t, e.ln.Addr().String())
	c1 := dial(t, p.Addr())
	c2 := dial(t, p.Addr())
	roundTrip(t, c1, []byte("a"))
	roundTrip(t, c2, []byte("b"))
	waitConns(t, p, 2)

	p.Cut()
	for _, c := range []net.Conn{c1, c2} {
		_ = c.SetReadDeadline(time.Now().Add(20 * time.Second))
		_, err := c.Read(make([]byte, 1))
		if !errors.Is(err, syscall.ECONNRESET) {
			t.Errorf("client read after Cut: %v, want a connection reset", err)
		}
	}
	for range 2 {
		select {
		case err := <-e.errs:
			if !errors.Is(err, syscall.ECONNRESET) {
				t.Errorf("target's connection ended with %v, want a connection reset", err)
			}
		case <-time.After(20 * time.Second):
			t.Fatal("the target did not see its connections end")
		}
	}
	waitConns(t, p, 0)

	// New connections are served as before.
	roundTrip(t, dial(t, p.Addr()), []byte("again"))
}

func TestHoldDelaysAndDropsNothing(t *testing.T) {
	e := newEcho(t)
	p := newProxy(t, e.ln.Addr().String())
	c := dial(t, p.Addr())
	roundTrip(t, c, []byte("before"))

	p.Hold()
	// More than the kernel buffers hold, so the writer blocks.
	msg := pattern(8 << 20)
	wrote := make(chan error, 1)
	go func() {
		_, err := c.Write(msg)
		wrote <- err
	}()
	_ = c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	if n, err := c.Read(make([]byte, 1)); n != 0 || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read while held: %d bytes, %v; want nothing", n, err)
	}
	// A connection made while held is held too.
	c2 := dial(t, p.Addr())
	if _, err := c2.Write([]byte("new")); err != nil {
		t.Fatal(err)
	}
	_ = c2.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	if n, _ := c2.Read(make([]byte, 1)); n != 0 {
		t.Fatal("a connection made while held got bytes")
	}

	p.Resume()
	_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatalf("read after Resume: %v", err)
	}
	if !bytes.Equal(got, msg) {
		t.Fatal("the bytes held came back changed")
	}
	if err := <-wrote; err != nil {
		t.Fatal(err)
	}
	_ = c2.SetReadDeadline(time.Now().Add(20 * time.Second))
	got2 := make([]byte, 3)
	if _, err := io.ReadFull(c2, got2); err != nil || string(got2) != "new" {
		t.Fatalf("second connection after Resume: %q, %v", got2, err)
	}
}

func TestPause(t *testing.T) {
	e := newEcho(t)
	p := newProxy(t, e.ln.Addr().String())
	c := dial(t, p.Addr())
	roundTrip(t, c, []byte("x"))
	done := make(chan struct{})
	go func() {
		p.Pause(50 * time.Millisecond)
		close(done)
	}()
	<-done
	roundTrip(t, c, []byte("after the pause"))
}

// A cut while held drops the held connections and frees their goroutines.
func TestCutWhileHeld(t *testing.T) {
	e := newEcho(t)
	p := newProxy(t, e.ln.Addr().String())
	c := dial(t, p.Addr())
	roundTrip(t, c, []byte("x"))
	p.Hold()
	if _, err := c.Write([]byte("held")); err != nil {
		t.Fatal(err)
	}
	p.Cut()
	waitConns(t, p, 0)
	p.Resume()
	roundTrip(t, dial(t, p.Addr()), []byte("fresh"))
}

func TestRefuse(t *testing.T) {
	e := newEcho(t)
	p := newProxy(t, e.ln.Addr().String())
	open := dial(t, p.Addr())
	roundTrip(t, open, []byte("x"))

	p.Refuse(true)
	if err := closedAtOnce(p.Addr()); err != nil {
		t.Fatalf("a connection while refusing: %v", err)
	}
	roundTrip(t, open, []byte("open ones are untouched"))

	p.Refuse(false)
	roundTrip(t, dial(t, p.Addr()), []byte("served again"))
}

func TestTargetDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	target := ln.Addr().String()
	ln.Close()
	p := newProxy(t, target)
	if err := closedAtOnce(p.Addr()); err != nil {
		t.Fatalf("a connection with the target down: %v", err)
	}
}

// closedAtOnce dials addr and returns nil when the connection is closed
// by the other side: a reset during the dial, or an end or reset on read.
func closedAtOnce(addr string) error {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		if errors.Is(err, syscall.ECONNRESET) {
			return nil
		}
		return err
	}
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(20 * time.Second))
	n, err := c.Read(make([]byte, 1))
	if n == 0 && (errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET)) {
		return nil
	}
	return fmt.Errorf("read %d bytes, %v; want it closed", n, err)
}

// Close ends every connection, also held ones, and leaves no goroutine
// (TestMain checks).
func TestClose(t *testing.T) {
	e := newEcho(t)
	p, err := New(e.ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	c := dial(t, p.Addr())
	roundTrip(t, c, []byte("x"))
	p.Hold()
	_, _ = c.Write([]byte("held"))
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if n := p.Conns(); n != 0 {
		t.Errorf("Conns() after Close = %d", n)
	}
	_ = c.SetReadDeadline(time.Now().Add(20 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("read after Close: %v, want the connection closed", err)
	}
	if c, err := net.DialTimeout("tcp", p.Addr(), 5*time.Second); err == nil {
		c.Close()
		t.Error("dial after Close succeeded")
	}
	p.Close() // twice is fine
}
