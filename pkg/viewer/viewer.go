// Package viewer is sio-serve's live viewer page and the official
// Socket.IO browser client, both embedded in the binary.
//
// The client files in dist/ are copied from node_modules by `make assets`
// (the socket.io-client version package-lock.json pins) and are not
// committed: without them this package does not compile.
package viewer

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"net/http"
	"regexp"
	"strings"
	"time"
)

//go:embed dist/socket.io.js dist/socket.io.min.js dist/socket.io.min.js.map
var dist embed.FS

//go:embed page/index.html page/viewer.css page/viewer.js
var page embed.FS

// ClientVersion is the socket.io-client version named in the embedded
// file's banner (" * Socket.IO v4.8.4").
var ClientVersion = clientVersion()

var banner = regexp.MustCompile(`(?m)^ \* Socket\.IO v(\S+)$`)

func clientVersion() string {
	b, err := dist.ReadFile("dist/socket.io.js")
	if err != nil {
		panic(err)
	}
	m := banner.FindSubmatch(b[:min(len(b), 200)])
	if m == nil {
		panic("viewer: embedded socket.io.js has no version banner")
	}
	return string(m[1])
}

// csp lets the page load only its own script and style and talk only to
// its own origin: payloads are rendered as text, and even a bug there
// could not run a script or reach another site.
const csp = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self' ws: wss:; " +
	"img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// asset is one embedded file, ready to serve.
type asset struct {
	body, gz     []byte
	etag, gzEtag string
	ctype, cache string
}

func newAsset(fs embed.FS, name, ctype, cache string) *asset {
	b, err := fs.ReadFile(name)
	if err != nil {
		panic(err)
	}
	a := &asset{body: b, ctype: ctype, cache: cache, etag: etag(b, "")}
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	zw.Write(b)
	zw.Close()
	if buf.Len() < len(b)*9/10 {
		a.gz = buf.Bytes()
		a.gzEtag = etag(b, "-gz")
	}
	return a
}

func etag(b []byte, suffix string) string {
	h := sha256.Sum256(b)
	return `"` + base64.RawURLEncoding.EncodeToString(h[:12]) + suffix + `"`
}

// modtime is zero: ServeContent then relies on the ETag alone.
var modtime time.Time

func (a *asset) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	h := w.Header()
	h.Set("Content-Type", a.ctype)
	h.Set("Cache-Control", a.cache)
	h.Set("X-Content-Type-Options", "nosniff")
	body, tag := a.body, a.etag
	if a.gz != nil {
		h.Add("Vary", "Accept-Encoding")
		if acceptsGzip(r) {
			body, tag = a.gz, a.gzEtag
			h.Set("Content-Encoding", "gzip")
		}
	}
	h.Set("ETag", tag)
	http.ServeContent(w, r, "", modtime, bytes.NewReader(body))
}

func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		enc, q, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(enc), "gzip") && strings.ReplaceAll(q, " ", "") != "q=0" {
			return true
		}
	}
	return false
}

const (
	jsType  = "text/javascript; charset=utf-8"
	revalid = "no-cache" // always revalidate (cheap: 304 by ETag)
	// The client's URL carries no version: cache it for an hour, then
	// revalidate, so an upgraded sio-serve is picked up soon.
	clientCache = "public, max-age=3600"
)

// Register mounts the viewer on mux:
//
//	/                              the viewer page (also at /_sio/)
//	/_sio/viewer.js, viewer.css    its script and style
//	/socket.io/socket.io.js        the official browser client
//	/socket.io/socket.io.min.js    minified, with .map
//	/sio.js/socket.io.js           the client where pages written for the
//	                               original python setup look for it
//
// The client paths are more specific than the Socket.IO endpoint's
// "/socket.io/" pattern, so they win over the engine in a ServeMux.
//
// With atRoot false, "/" is left to the caller (sio-serve --static) and
// the viewer is at /_sio/ only.
func Register(mux *http.ServeMux, atRoot bool) {
	index := newAsset(page, "page/index.html", "text/html; charset=utf-8", revalid)
	pageHandler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", csp)
		w.Header().Set("Referrer-Policy", "no-referrer")
		index.ServeHTTP(w, r)
	})
	if atRoot {
		mux.Handle("/{$}", pageHandler)
	}
	mux.Handle("/_sio/{$}", pageHandler)
	mux.Handle("/_sio/viewer.js", newAsset(page, "page/viewer.js", jsType, revalid))
	mux.Handle("/_sio/viewer.css", newAsset(page, "page/viewer.css", "text/css; charset=utf-8", revalid))
	js := newAsset(dist, "dist/socket.io.js", jsType, clientCache)
	mux.Handle("/socket.io/socket.io.js", js)
	mux.Handle("/sio.js/socket.io.js", js)
	mux.Handle("/socket.io/socket.io.min.js", newAsset(dist, "dist/socket.io.min.js", jsType, clientCache))
	mux.Handle("/socket.io/socket.io.min.js.map", newAsset(dist, "dist/socket.io.min.js.map", "application/json; charset=utf-8", clientCache))
}
