// Package faultproxy is a TCP proxy for tests that injects the network
// faults users meet: a connection reset on both sides (Cut), a link that
// stops carrying bytes for a while without dropping any (Hold, Resume,
// Pause), and a peer that accepts and closes at once (Refuse).
//
// It listens on 127.0.0.1 and forwards every connection to one target.
// Close stops it and waits for every goroutine it started.
package faultproxy

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"time"
)

// Proxy forwards TCP connections to a target.
type Proxy struct {
	ln     net.Listener
	target string
	wg     sync.WaitGroup

	mu      sync.Mutex
	refuse  bool
	held    bool
	resume  chan struct{} // closed by Resume; a new one per Hold
	closed  bool
	closing chan struct{}
	ctx     context.Context // canceled by Close: ends dials under way
	cancel  context.CancelFunc
	pairs   map[*pair]struct{}
}

// pair is one proxied connection: the client's and the one to the target.
type pair struct {
	client, up *net.TCPConn
	cut        chan struct{} // closed when the pair is torn down
	once       sync.Once
}

// New starts a proxy on 127.0.0.1 with a free port that forwards to
// target (host:port).
func New(target string) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &Proxy{
		ln:      ln,
		target:  target,
		resume:  make(chan struct{}),
		closing: make(chan struct{}),
		pairs:   map[*pair]struct{}{},
	}
	close(p.resume) // not held
	p.ctx, p.cancel = context.WithCancel(context.Background())
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

// Addr is the proxy's host:port, for clients to dial.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Conns returns how many proxied connections are open.
func (p *Proxy) Conns() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.pairs)
}

// Cut resets every open connection on both sides: the client and the
// target each see a connection reset (SO_LINGER 0). New connections are
// served as before (see Refuse). Bytes the proxy was holding are dropped
// with their connection.
func (p *Proxy) Cut() {
	p.mu.Lock()
	pairs := make([]*pair, 0, len(p.pairs))
	for pr := range p.pairs {
		pairs = append(pairs, pr)
	}
	p.mu.Unlock()
	for _, pr := range pairs {
		pr.reset()
	}
}

// Refuse makes the proxy, while on is true, accept new connections and
// close them at once (a reset). Open connections are not touched.
func (p *Proxy) Refuse(on bool) {
	p.mu.Lock()
	p.refuse = on
	p.mu.Unlock()
}

// Hold stops forwarding in both directions on every connection, open or
// new, until Resume. Nothing is dropped: the proxy stops reading, so the
// senders' kernel buffers fill and they block, as on a stalled link.
// A read already under way when Hold is called is written on Resume.
func (p *Proxy) Hold() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.held {
		p.held = true
		p.resume = make(chan struct{})
	}
}

// Resume forwards again what Hold held, in order.
func (p *Proxy) Resume() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.held {
		p.held = false
		close(p.resume)
	}
}

// Pause holds every connection for d, then resumes; it returns when
// forwarding resumed (at once if the proxy is closed meanwhile).
func (p *Proxy) Pause(d time.Duration) {
	p.Hold()
	t := time.NewTimer(d)
	select {
	case <-t.C:
	case <-p.closing:
		t.Stop()
	}
	p.Resume()
}

// Close stops listening, resets every connection and waits for all the
// proxy's goroutines to end.
func (p *Proxy) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	close(p.closing)
	p.mu.Unlock()
	p.cancel()
	err := p.ln.Close()
	p.Cut()
	p.wg.Wait()
	return err
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// A transient accept error (too many files): keep going.
			select {
			case <-p.closing:
				return
			case <-time.After(10 * time.Millisecond):
			}
			continue
		}
		p.mu.Lock()
		refuse, closed := p.refuse, p.closed
		p.mu.Unlock()
		if refuse || closed {
			resetConn(c.(*net.TCPConn))
			continue
		}
		p.wg.Add(1)
		go p.serve(c.(*net.TCPConn))
	}
}

// serve dials the target for client c and copies both ways until either
// side ends or the pair is cut.
func (p *Proxy) serve(c *net.TCPConn) {
	defer p.wg.Done()
	d := net.Dialer{Timeout: 10 * time.Second}
	uc, err := d.DialContext(p.ctx, "tcp", p.target)
	if err != nil {
		resetConn(c)
		return
	}
	pr := &pair{client: c, up: uc.(*net.TCPConn), cut: make(chan struct{})}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		pr.reset()
		return
	}
	p.pairs[pr] = struct{}{}
	p.mu.Unlock()

	done := make(chan struct{})
	go func() {
		p.copy(pr, pr.up, pr.client)
		close(done)
	}()
	p.copy(pr, pr.client, pr.up)
	<-done
	pr.close()
	p.mu.Lock()
	delete(p.pairs, pr)
	p.mu.Unlock()
}

// copy forwards src to dst, waiting while the proxy is held. At the end
// of src it half-closes dst, so the other direction goes on; on an error
// it resets the pair.
func (p *Proxy) copy(pr *pair, dst, src *net.TCPConn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if !p.wait(pr) {
				return
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				pr.reset()
				return
			}
		}
		if err != nil {
			select {
			case <-pr.cut:
				return
			default:
			}
			if errors.Is(err, net.ErrClosed) {
				return
			}
			if errors.Is(err, io.EOF) {
				_ = dst.CloseWrite()
				return
			}
			pr.reset()
			return
		}
	}
}

// wait returns true once the proxy is not held, false when the pair was
// cut meanwhile.
func (p *Proxy) wait(pr *pair) bool {
	for {
		p.mu.Lock()
		held, resume := p.held, p.resume
		p.mu.Unlock()
		if !held {
			return true
		}
		select {
		case <-resume:
		case <-pr.cut:
			return false
		}
	}
}

// reset tears the pair down with a reset on both sides.
func (pr *pair) reset() {
	pr.once.Do(func() {
		close(pr.cut)
		resetConn(pr.client)
		resetConn(pr.up)
	})
}

// close tears the pair down normally, once both directions ended.
func (pr *pair) close() {
	pr.once.Do(func() {
		close(pr.cut)
		pr.client.Close()
		pr.up.Close()
	})
}

// resetConn closes c so that its peer sees a reset, not an end of stream.
func resetConn(c *net.TCPConn) {
	_ = c.SetLinger(0)
	_ = c.Close()
}
