package serve

import (
	"net"
	"net/http"
	"net/url"
	"strings"
)

// originPolicy decides which web pages may connect. A websocket upgrade is
// not covered by CORS (the browser sends it from any page), so the check
// runs on every Socket.IO request, polling and websocket alike. Requests
// without an Origin header come from programs, not pages, and pass.
type originPolicy struct {
	any     bool
	allowed map[string]bool // "scheme://host[:port]", lower case
}

func newOriginPolicy(list []string) *originPolicy {
	p := &originPolicy{allowed: map[string]bool{}}
	for _, o := range list {
		if o == "*" {
			p.any = true
			continue
		}
		p.allowed[strings.ToLower(strings.TrimSuffix(o, "/"))] = true
	}
	return p
}

// allow reports whether a request with this Origin may go on: same origin
// as the request's Host, a page on a loopback address, or one listed.
func (p *originPolicy) allow(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" || p.any {
		return true
	}
	if p.allowed[strings.ToLower(origin)] {
		return true
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false
	}
	if strings.EqualFold(u.Host, r.Host) {
		return true
	}
	host := u.Hostname()
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// wrap refuses pages of other origins with 403 and answers CORS for the
// allowed ones (polling from another allowed origin needs it).
func (p *originPolicy) wrap(next http.Handler, refused func(origin string)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !p.allow(r) {
			refused(r.Header.Get("Origin"))
			http.Error(w, "origin not allowed", http.StatusForbidden)
			return
		}
		if o := r.Header.Get("Origin"); o != "" {
			h := w.Header()
			h.Set("Access-Control-Allow-Origin", o)
			h.Set("Access-Control-Allow-Credentials", "true")
			h.Add("Vary", "Origin")
			if r.Method == http.MethodOptions {
				h.Set("Access-Control-Allow-Methods", "GET, POST")
				h.Set("Access-Control-Allow-Headers", r.Header.Get("Access-Control-Request-Headers"))
				w.WriteHeader(http.StatusNoContent)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}
