package conn

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"time"
)

// diagnose finds out why no connection could be made when the library
// only says "timeout": it loses the error of its first dial (the engine
// reports it before the manager listens), so a refused port or an
// untrusted certificate would read as a timeout. It tries, in 2 s: TCP,
// TLS for https/wss, then one Engine.IO handshake over HTTP.
func diagnose(u *url.URL, cfg *tls.Config) string {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	host := u.Host
	if u.Port() == "" {
		host = net.JoinHostPort(u.Hostname(), map[bool]string{true: "443", false: "80"}[secure(u)])
	}
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", host)
	if err != nil {
		return describe(err)
	}
	defer c.Close()
	if secure(u) {
		tc := tls.Client(c, tlsFor(u, cfg))
		if err := tc.HandshakeContext(ctx); err != nil {
			return "TLS: " + describe(err) + " (see --cacert, or --insecure)"
		}
	}
	base, _ := split(u)
	tr := &http.Transport{TLSClientConfig: tlsFor(u, cfg)}
	defer tr.CloseIdleConnections()
	req, _ := http.NewRequestWithContext(ctx, "GET", base+"/socket.io/?EIO=4&transport=polling", nil)
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return describe(err)
	}
	resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusServiceUnavailable:
		return fmt.Sprintf("the server is full or stopping (/socket.io/ answered %s)", resp.Status)
	default:
		return fmt.Sprintf("not a Socket.IO v4 server? /socket.io/ answered %s", resp.Status)
	}
	return ""
}

func secure(u *url.URL) bool { return u.Scheme == "https" || u.Scheme == "wss" }

func tlsFor(u *url.URL, cfg *tls.Config) *tls.Config {
	if cfg == nil {
		cfg = &tls.Config{}
	}
	cfg = cfg.Clone()
	if cfg.ServerName == "" {
		cfg.ServerName = u.Hostname()
	}
	return cfg
}

// describe drops the "dial tcp 127.0.0.1:1:" and URL prefixes of an error.
func describe(err error) string {
	for {
		switch e := err.(type) {
		case *net.OpError:
			err = e.Err
		case *url.Error:
			err = e.Err
		default:
			return err.Error()
		}
	}
}
