package relay

import (
	"net"
	"net/http"
	"sync"
)

// perAddress bounds what one client address may hold, so that one
// address cannot take every --max-conns slot: its connections, and among
// them the handshakes that have not joined a namespace yet (a flood of
// bare handshakes). A new connection past either is answered 503.
//
// A connection is counted from its handshake request (so that requests
// that arrive together cannot all pass) until it closes.
type perAddress struct {
	maxConns   int // connections per address; 0: no limit
	maxPending int // of them not joined yet; 0: no limit
	exempt     func(net.IP) bool

	mu     sync.Mutex
	byAddr map[string]*addrCount
}

type addrCount struct {
	requests int // handshake requests being served, that opened no connection yet
	opened   int // requests being served that opened one (counted in conns)
	conns    int // connections open
	pending  int // of them, not joined to a namespace yet
}

func newPerAddress(maxConns, maxPending int, exempt func(net.IP) bool) *perAddress {
	if maxConns <= 0 && maxPending <= 0 {
		return nil
	}
	return &perAddress{maxConns: maxConns, maxPending: maxPending, exempt: exempt,
		byAddr: map[string]*addrCount{}}
}

// host returns the address part of a "host:port" remote address.
func host(remote string) string {
	if h, _, err := net.SplitHostPort(remote); err == nil {
		return h
	}
	return remote
}

// exempted tells whether the address h is free of the limits.
func (p *perAddress) exempted(h string) bool {
	ip := net.ParseIP(h)
	return p.exempt != nil && ip != nil && p.exempt(ip)
}

// admit is called for a handshake request from remote. It returns "" and
// a function to call when the request was served, or why it is refused.
func (p *perAddress) admit(remote string) (reason string, done func()) {
	h := host(remote)
	if p.exempted(h) {
		return "", func() {}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	c := p.byAddr[h]
	if c == nil {
		c = &addrCount{}
		p.byAddr[h] = c
	}
	switch {
	case p.maxConns > 0 && c.conns+c.requests >= p.maxConns:
		reason = "max_conns_per_ip"
	case p.maxPending > 0 && c.pending+c.requests >= p.maxPending:
		reason = "handshakes_per_ip"
	}
	if reason != "" {
		p.forget(h, c)
		return reason, nil
	}
	c.requests++
	return "", func() {
		p.mu.Lock()
		defer p.mu.Unlock()
		if c.opened > 0 {
			c.opened--
		} else {
			c.requests--
		}
		p.forget(h, c)
	}
}

// opened counts a new connection from remote, not joined yet. It returns
// the functions to call when it joins (once) and when it closes.
func (p *perAddress) opened(remote string) (joined, closed func()) {
	h := host(remote)
	if p.exempted(h) {
		return func() {}, func() {}
	}
	p.mu.Lock()
	c := p.byAddr[h]
	if c == nil {
		c = &addrCount{}
		p.byAddr[h] = c
	}
	c.conns++
	c.pending++
	// The request that opened it no longer counts besides it: a client
	// told it joined may come again before that request was done with,
	// and was refused as one too many (TestRelayLimitsPerAddress).
	if c.requests > 0 {
		c.requests--
		c.opened++
	}
	p.mu.Unlock()
	var once sync.Once
	joined = func() {
		once.Do(func() {
			p.mu.Lock()
			defer p.mu.Unlock()
			c.pending--
		})
	}
	closed = func() {
		joined() // not pending any more, in any case
		p.mu.Lock()
		defer p.mu.Unlock()
		c.conns--
		p.forget(h, c)
	}
	return joined, closed
}

// forget drops the count of an address that holds nothing; p.mu is held.
func (p *perAddress) forget(h string, c *addrCount) {
	if c.requests == 0 && c.opened == 0 && c.conns == 0 && c.pending == 0 {
		delete(p.byAddr, h)
	}
}

// refuse answers a handshake refused by a limit.
func refuse(w http.ResponseWriter) {
	w.Header().Set("Retry-After", "5")
	http.Error(w, "too many connections from your address", http.StatusServiceUnavailable)
}
