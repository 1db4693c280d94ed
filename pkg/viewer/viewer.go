// Package viewer is sio-serve's live viewer page and the official
// Socket.IO browser client, both embedded in the binary.
//
// The client files in dist/ are copied from node_modules by `make assets`
// (the socket.io-client version package-lock.json pins) and are not
// committed. Without them the package still compiles (dist/README.md, ours,
// keeps the directory in every clone, so `go install` and `go build` need
// no npm), and the client's paths answer 503 saying how to build a binary
// that has them.
package viewer

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"errors"
	"io/fs"
	"net/http"
	"regexp"
	"strings"
	"time"
)

// dist is whatever `make assets` put in dist/, besides its README.md.
//
//go:embed dist
var dist embed.FS

//go:embed page/index.html page/viewer.css page/viewer.js
var page embed.FS

// clientFiles are the browser client's files: socket.io.js,
// socket.io.min.js and socket.io.min.js.map, when the build had them.
var clientFiles = mustSub(dist, "dist")

func mustSub(fsys fs.FS, dir string) fs.FS {
	sub, err := fs.Sub(fsys, dir)
	if err != nil {
		panic(err)
	}
	return sub
}

// ClientVersion is the socket.io-client version named in the embedded
// file's banner (" * Socket.IO v4.8.4"), or "" when this binary was built
// without the client.
var ClientVersion = clientVersion(clientFiles)

var banner = regexp.MustCompile(`(?m)^ \* Socket\.IO v(\S+)$`)

func clientVersion(client fs.FS) string {
	b, err := fs.ReadFile(client, "socket.io.js")
	if errors.Is(err, fs.ErrNotExist) {
		return ""
	}
	if err != nil {
		panic(err)
	}
	m := banner.FindSubmatch(b[:min(len(b), 200)])
	if m == nil {
		panic("viewer: embedded socket.io.js has no version banner")
	}
	return string(m[1])
}

// MissingClient is what the client's paths answer, with a 503, in a binary
// built without the client; the viewer page shows it too.
const MissingClient = "This sio-serve was built without the official Socket.IO browser client " +
	"(socket.io-client), so it cannot serve it and the viewer cannot connect. " +
	"Build sio-serve with `make build`, which fetches the client with npm and embeds it."

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

func newAsset(b []byte, ctype, cache string) *asset {
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

// pageAsset is one file of the page, which every build has.
func pageAsset(name, ctype string) *asset {
	b, err := page.ReadFile(name)
	if err != nil {
		panic(err)
	}
	return newAsset(b, ctype, revalid)
}

// clientAsset serves the client file name, or says with a 503 that this
// binary has no client: a missing file is a way to build, not a bug.
func clientAsset(client fs.FS, name, ctype string) http.Handler {
	b, err := fs.ReadFile(client, name)
	if errors.Is(err, fs.ErrNotExist) {
		return http.HandlerFunc(missingClient)
	}
	if err != nil {
		panic(err)
	}
	return newAsset(b, ctype, clientCache)
}

func missingClient(w http.ResponseWriter, _ *http.Request) {
	// Not cached: once sio-serve is rebuilt with the client, the browser
	// gets it at once.
	w.Header().Set("Cache-Control", "no-store")
	http.Error(w, MissingClient, http.StatusServiceUnavailable)
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
//	/socket.io/socket.io.msgpack.min.js  the client with the msgpack
//	                               parser built in, with .map
//	/sio.js/socket.io.js           the client where pages written for the
//	                               original python setup look for it
//
// The client paths are more specific than the Socket.IO endpoint's
// "/socket.io/" pattern, so they win over the engine in a ServeMux.
//
// In a binary built without the client (no `make assets`), the client's
// paths answer 503 with MissingClient, and the page shows it.
//
// With atRoot false, "/" is left to the caller (sio-serve --static) and
// the viewer is at /_sio/ only. With msgpack the page loads the client
// with the msgpack parser (sio-serve --parser msgpack).
func Register(mux *http.ServeMux, atRoot, msgpack bool) {
	register(mux, atRoot, msgpack, clientFiles)
}

// register is Register with the client's files in client (at its root),
// so that a test can pass them, or leave them out.
func register(mux *http.ServeMux, atRoot, msgpack bool, client fs.FS) {
	index := pageAsset("page/index.html", "text/html; charset=utf-8")
	if msgpack {
		b := bytes.Replace(index.body, []byte(`src="/socket.io/socket.io.min.js"`), []byte(`src="/socket.io/socket.io.msgpack.min.js"`), 1)
		index = newAsset(b, index.ctype, revalid)
	}
	pageHandler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", csp)
		w.Header().Set("Referrer-Policy", "no-referrer")
		index.ServeHTTP(w, r)
	})
	if atRoot {
		mux.Handle("/{$}", pageHandler)
	}
	mux.Handle("/_sio/{$}", pageHandler)
	mux.Handle("/_sio/viewer.js", pageAsset("page/viewer.js", jsType))
	mux.Handle("/_sio/viewer.css", pageAsset("page/viewer.css", "text/css; charset=utf-8"))
	js := clientAsset(client, "socket.io.js", jsType)
	mux.Handle("/socket.io/socket.io.js", js)
	mux.Handle("/sio.js/socket.io.js", js)
	mux.Handle("/socket.io/socket.io.min.js", clientAsset(client, "socket.io.min.js", jsType))
	mux.Handle("/socket.io/socket.io.min.js.map", clientAsset(client, "socket.io.min.js.map", "application/json; charset=utf-8"))
	mux.Handle("/socket.io/socket.io.msgpack.min.js", clientAsset(client, "socket.io.msgpack.min.js", jsType))
	mux.Handle("/socket.io/socket.io.msgpack.min.js.map", clientAsset(client, "socket.io.msgpack.min.js.map", "application/json; charset=utf-8"))
}
