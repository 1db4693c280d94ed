package viewer

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
)

// lockedVersion is the socket.io-client version package-lock.json pins.
func lockedVersion(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../../package-lock.json")
	if err != nil {
		t.Fatal(err)
	}
	var lock struct {
		Packages map[string]struct{ Version string } `json:"packages"`
	}
	if err := json.Unmarshal(b, &lock); err != nil {
		t.Fatal(err)
	}
	v := lock.Packages["node_modules/socket.io-client"].Version
	if v == "" {
		t.Fatal("package-lock.json pins no socket.io-client")
	}
	return v
}

func TestClientIsTheLockedVersion(t *testing.T) {
	if want := lockedVersion(t); ClientVersion != want {
		t.Fatalf("embedded socket.io-client %s, package-lock.json pins %s (run make assets)", ClientVersion, want)
	}
}

func newMux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.Handle("/socket.io/", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "engine", http.StatusTeapot)
	}))
	Register(mux, true)
	return mux
}

func get(t *testing.T, h http.Handler, path string, hdr ...string) *http.Response {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, path, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

// The client paths win over the engine's "/socket.io/" and serve the very
// bytes of the npm package (when node_modules is there to compare).
func TestRoutes(t *testing.T) {
	mux := newMux()
	for _, c := range []struct{ path, ctype, file string }{
		{"/", "text/html; charset=utf-8", ""},
		{"/_sio/", "text/html; charset=utf-8", ""},
		{"/_sio/viewer.js", "text/javascript; charset=utf-8", ""},
		{"/_sio/viewer.css", "text/css; charset=utf-8", ""},
		{"/socket.io/socket.io.js", "text/javascript; charset=utf-8", "socket.io.js"},
		{"/socket.io/socket.io.min.js", "text/javascript; charset=utf-8", "socket.io.min.js"},
		{"/socket.io/socket.io.min.js.map", "application/json; charset=utf-8", "socket.io.min.js.map"},
		{"/sio.js/socket.io.js", "text/javascript; charset=utf-8", "socket.io.js"},
	} {
		resp := get(t, mux, c.path)
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != c.ctype {
			t.Errorf("GET %s: %d %q, want 200 %q", c.path, resp.StatusCode, resp.Header.Get("Content-Type"), c.ctype)
			continue
		}
		if resp.Header.Get("ETag") == "" || resp.Header.Get("Cache-Control") == "" {
			t.Errorf("GET %s: no ETag or Cache-Control", c.path)
		}
		if c.file == "" {
			continue
		}
		want, err := os.ReadFile("../../node_modules/socket.io-client/dist/" + c.file)
		if err != nil {
			t.Logf("not compared with node_modules: %v", err)
			continue
		}
		if !bytes.Equal(body, want) {
			t.Errorf("GET %s: not the bytes of node_modules/socket.io-client/dist/%s", c.path, c.file)
		}
	}
	if resp := get(t, mux, "/socket.io/?EIO=4&transport=polling"); resp.StatusCode != http.StatusTeapot {
		t.Errorf("the engine's path went to %d, not the engine", resp.StatusCode)
	}
	if resp := get(t, mux, "/nope"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET /nope: %d", resp.StatusCode)
	}
	csp := get(t, mux, "/").Header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") {
		t.Errorf("page CSP %q", csp)
	}
}

func TestConditionalAndGzip(t *testing.T) {
	mux := newMux()
	resp := get(t, mux, "/socket.io/socket.io.js")
	tag := resp.Header.Get("ETag")
	if resp := get(t, mux, "/socket.io/socket.io.js", "If-None-Match", tag); resp.StatusCode != http.StatusNotModified {
		t.Errorf("If-None-Match: %d, want 304", resp.StatusCode)
	}
	gz := get(t, mux, "/socket.io/socket.io.js", "Accept-Encoding", "gzip, br")
	if gz.Header.Get("Content-Encoding") != "gzip" || gz.Header.Get("ETag") == tag || !strings.Contains(gz.Header.Get("Vary"), "Accept-Encoding") {
		t.Fatalf("gzip: %v", gz.Header)
	}
	zr, err := gzip.NewReader(gz.Body)
	if err != nil {
		t.Fatal(err)
	}
	plain, _ := io.ReadAll(zr)
	body, _ := io.ReadAll(get(t, mux, "/socket.io/socket.io.js").Body)
	if !bytes.Equal(plain, body) {
		t.Error("gzip body differs")
	}
	if resp := get(t, mux, "/socket.io/socket.io.js", "Accept-Encoding", "gzip;q=0"); resp.Header.Get("Content-Encoding") != "" {
		t.Error("gzip sent though refused")
	}
}

// The page never turns data into markup: no innerHTML and friends.
func TestPageRendersTextOnly(t *testing.T) {
	js, err := page.ReadFile("page/viewer.js")
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"} {
		if bytes.Contains(js, []byte(bad)) {
			t.Errorf("viewer.js uses %s", bad)
		}
	}
	html, _ := page.ReadFile("page/index.html")
	for _, ext := range []string{"http://", "https://", "//"} {
		if bytes.Contains(html, []byte(`src="`+ext)) || bytes.Contains(html, []byte(`href="`+ext)) {
			t.Errorf("index.html loads an external resource (%s)", ext)
		}
	}
}
