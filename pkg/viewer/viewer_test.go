package viewer

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"testing/fstest"
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

// In CI (make test runs make assets) the embedded client must be there;
// elsewhere a build without npm is a supported one.
func TestClientIsTheLockedVersion(t *testing.T) {
	if ClientVersion == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("built without the browser client (run make assets)")
		}
		t.Skip("built without the browser client (make assets copies it)")
	}
	if want := lockedVersion(t); ClientVersion != want {
		t.Fatalf("embedded socket.io-client %s, package-lock.json pins %s (run make assets)", ClientVersion, want)
	}
}

// fakeClient stands for the client's files: a banner as the real ones
// have, and enough text to be worth compressing.
var fakeClient = fstest.MapFS{
	"socket.io.js":                 {Data: []byte("/*!\n * Socket.IO v9.8.7\n * (c) test\n */\n" + strings.Repeat("var io;\n", 500))},
	"socket.io.min.js":             {Data: []byte("/*!\n * Socket.IO v9.8.7\n */\n" + strings.Repeat("io;", 500))},
	"socket.io.min.js.map":         {Data: []byte(`{"version":3,"mappings":"` + strings.Repeat("A", 500) + `"}`)},
	"socket.io.msgpack.min.js":     {Data: []byte("/*!\n * Socket.IO v9.8.7\n */\n" + strings.Repeat("mp;", 500))},
	"socket.io.msgpack.min.js.map": {Data: []byte(`{"version":3,"mappings":"` + strings.Repeat("B", 500) + `"}`)},
}

func TestClientVersion(t *testing.T) {
	if v := clientVersion(fakeClient); v != "9.8.7" {
		t.Errorf("with the client: %q, want 9.8.7", v)
	}
	if v := clientVersion(fstest.MapFS{}); v != "" {
		t.Errorf("without the client: %q, want empty", v)
	}
}

// newMux is sio-serve's mux with the viewer on it, and the given client
// files.
func newMux(client fs.FS) *http.ServeMux {
	mux := http.NewServeMux()
	mux.Handle("/socket.io/", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "engine", http.StatusTeapot)
	}))
	register(mux, true, false, client)
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

// clientRoutes are the client's paths and the file each serves.
var clientRoutes = []struct{ path, ctype, file string }{
	{"/socket.io/socket.io.js", "text/javascript; charset=utf-8", "socket.io.js"},
	{"/socket.io/socket.io.min.js", "text/javascript; charset=utf-8", "socket.io.min.js"},
	{"/socket.io/socket.io.min.js.map", "application/json; charset=utf-8", "socket.io.min.js.map"},
	{"/socket.io/socket.io.msgpack.min.js", "text/javascript; charset=utf-8", "socket.io.msgpack.min.js"},
	{"/socket.io/socket.io.msgpack.min.js.map", "application/json; charset=utf-8", "socket.io.msgpack.min.js.map"},
	{"/sio.js/socket.io.js", "text/javascript; charset=utf-8", "socket.io.js"},
}

// pageRoutes are the page's paths, there in every build.
var pageRoutes = []struct{ path, ctype string }{
	{"/", "text/html; charset=utf-8"},
	{"/_sio/", "text/html; charset=utf-8"},
	{"/_sio/viewer.js", "text/javascript; charset=utf-8"},
	{"/_sio/viewer.css", "text/css; charset=utf-8"},
}

func checkPage(t *testing.T, mux http.Handler) {
	t.Helper()
	for _, c := range pageRoutes {
		resp := get(t, mux, c.path)
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != c.ctype {
			t.Errorf("GET %s: %d %q, want 200 %q", c.path, resp.StatusCode, resp.Header.Get("Content-Type"), c.ctype)
		}
		if resp.Header.Get("ETag") == "" || resp.Header.Get("Cache-Control") == "" {
			t.Errorf("GET %s: no ETag or Cache-Control", c.path)
		}
	}
	csp := get(t, mux, "/").Header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") {
		t.Errorf("page CSP %q", csp)
	}
}

// The client paths win over the engine's "/socket.io/" and serve the
// client's files as they are.
func TestRoutes(t *testing.T) {
	mux := newMux(fakeClient)
	checkPage(t, mux)
	for _, c := range clientRoutes {
		resp := get(t, mux, c.path)
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != c.ctype {
			t.Errorf("GET %s: %d %q, want 200 %q", c.path, resp.StatusCode, resp.Header.Get("Content-Type"), c.ctype)
			continue
		}
		if resp.Header.Get("ETag") == "" || resp.Header.Get("Cache-Control") != clientCache {
			t.Errorf("GET %s: ETag %q, Cache-Control %q", c.path, resp.Header.Get("ETag"), resp.Header.Get("Cache-Control"))
		}
		if !bytes.Equal(body, fakeClient[c.file].Data) {
			t.Errorf("GET %s: not the bytes of %s", c.path, c.file)
		}
	}
	if resp := get(t, mux, "/socket.io/?EIO=4&transport=polling"); resp.StatusCode != http.StatusTeapot {
		t.Errorf("the engine's path went to %d, not the engine", resp.StatusCode)
	}
	if resp := get(t, mux, "/nope"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET /nope: %d", resp.StatusCode)
	}
}

// A binary built without the client (no npm) serves the page, and answers
// the client's paths 503 with what to do, never cached; the engine keeps
// its path.
func TestWithoutClient(t *testing.T) {
	mux := newMux(fstest.MapFS{})
	checkPage(t, mux)
	for _, c := range clientRoutes {
		resp := get(t, mux, c.path)
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Content-Type") != "text/plain; charset=utf-8" {
			t.Errorf("GET %s: %d %q, want 503 text/plain", c.path, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		if string(body) != MissingClient+"\n" {
			t.Errorf("GET %s: %q, want %q", c.path, body, MissingClient)
		}
		if resp.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("GET %s: Cache-Control %q, want no-store", c.path, resp.Header.Get("Cache-Control"))
		}
	}
	for _, want := range []string{"built without the official Socket.IO browser client", "make build"} {
		if !strings.Contains(MissingClient, want) {
			t.Errorf("MissingClient does not say %q", want)
		}
	}
	if resp := get(t, mux, "/socket.io/?EIO=4&transport=polling"); resp.StatusCode != http.StatusTeapot {
		t.Errorf("the engine's path went to %d, not the engine", resp.StatusCode)
	}
}

// The client this binary embeds, when it has one, is the very bytes of
// the npm package (when node_modules is there to compare).
func TestEmbeddedClientIsTheNpmPackage(t *testing.T) {
	if ClientVersion == "" {
		t.Skip("built without the browser client")
	}
	mux := newMux(clientFiles)
	for _, c := range clientRoutes {
		want, err := os.ReadFile("../../node_modules/socket.io-client/dist/" + c.file)
		if err != nil {
			t.Skipf("not compared with node_modules: %v", err)
		}
		body, _ := io.ReadAll(get(t, mux, c.path).Body)
		if !bytes.Equal(body, want) {
			t.Errorf("GET %s: not the bytes of node_modules/socket.io-client/dist/%s", c.path, c.file)
		}
	}
}

func TestConditionalAndGzip(t *testing.T) {
	mux := newMux(fakeClient)
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

// Without the client the page says why it cannot connect, in the server's
// words: viewer.js fetches the client's path and shows a 503's text in the
// page's problem box.
func TestPageExplainsMissingClient(t *testing.T) {
	js, _ := page.ReadFile("page/viewer.js")
	html, _ := page.ReadFile("page/index.html")
	for _, want := range []string{"fetch(CLIENT", "r.status === 503", "problem.textContent = text"} {
		if !bytes.Contains(js, []byte(want)) {
			t.Errorf("viewer.js lacks %q", want)
		}
	}
	if !bytes.Contains(html, []byte(`id="problem"`)) || !bytes.Contains(html, []byte(`src="/socket.io/socket.io.min.js"`)) {
		t.Error("index.html lacks the problem box or the client script")
	}
	if !bytes.Contains(js, []byte(`'/socket.io/socket.io.min.js'`)) {
		t.Error("viewer.js does not ask the path index.html loads the client from")
	}
}

// For sio-serve --parser msgpack the page loads the client with the
// msgpack parser; by default the default one.
func TestPageLoadsTheClientOfTheParser(t *testing.T) {
	for _, msgpack := range []bool{false, true} {
		mux := http.NewServeMux()
		register(mux, true, msgpack, fakeClient)
		for _, path := range []string{"/", "/_sio/"} {
			body, _ := io.ReadAll(get(t, mux, path).Body)
			want, other := `src="/socket.io/socket.io.min.js"`, `socket.io.msgpack.min.js`
			if msgpack {
				want, other = `src="/socket.io/socket.io.msgpack.min.js"`, `socket.io.min.js"`
			}
			if !bytes.Contains(body, []byte(want)) || bytes.Contains(body, []byte(other)) {
				t.Errorf("msgpack %v: GET %s loads the wrong client:\n%s", msgpack, path, body)
			}
		}
	}
}
