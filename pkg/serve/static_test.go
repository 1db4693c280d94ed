package serve_test

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// sio-serve --static DIR serves DIR's files at / and moves the viewer to
// /_sio/; no request reaches a file outside DIR (.., encoded, through a
// symbolic link), a dot file, or a directory listing.
func TestStatic(t *testing.T) {
	tmp := t.TempDir()
	site, outside := filepath.Join(tmp, "site"), filepath.Join(tmp, "outside")
	for _, d := range []string{site, outside, filepath.Join(site, "sub"), filepath.Join(site, "empty"), filepath.Join(site, ".git")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	files := map[string]string{
		"site/index.html":  "<h1>mine</h1>",
		"site/sub/a.txt":   "a",
		"site/.env":        "SECRET=1",
		"site/.git/config": "SECRET=2",
		"outside/secret":   "SECRET=3",
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(tmp, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for link, to := range map[string]string{"site/out": outside, "site/in.txt": "sub/a.txt", "site/abs": "/etc"} {
		if err := os.Symlink(to, filepath.Join(tmp, link)); err != nil {
			t.Fatal(err)
		}
	}
	base, cancel, done := runServer(t, "--port", "0", "-q", "--static", site)
	defer func() {
		cancel()
		<-done
	}()
	for _, c := range []struct {
		path   string
		status int
		body   string // what the body contains
	}{
		{"/", 200, "<h1>mine</h1>"},
		{"/index.html", 301, ""}, // FileServer's redirect to the directory
		{"/sub/a.txt", 200, "a"},
		{"/in.txt", 200, "a"}, // a link inside DIR
		{"/_sio/", 200, "<html"},
		{"/socket.io/socket.io.js", 200, "Socket.IO"},
		{"/sio.js/socket.io.js", 200, "Socket.IO"},
		{"/healthz", 200, "ok"},
		{"/nope", 404, ""},
		{"/sub/", 404, ""},   // no index.html, no listing
		{"/empty/", 404, ""}, // the same
		{"/.env", 404, ""},
		{"/.git/config", 404, ""},
		{"/sub/%2e%2e/.env", 0, ""},
		{"/out/secret", 404, ""},
		{"/abs/passwd", 404, ""},
		{"/../outside/secret", 0, ""},
		{"/%2e%2e/outside/secret", 0, ""},
		{"/..%2foutside%2fsecret", 0, ""},
		{"/sub/..%2f..%2foutside/secret", 0, ""},
	} {
		status, body := rawGet(t, base, c.path)
		if strings.Contains(body, "SECRET") || strings.Contains(body, "root:") {
			t.Errorf("GET %s: %d, served a file it must not: %.80q", c.path, status, body)
			continue
		}
		if c.status == 0 { // outside DIR: anything but a file
			if status == 200 {
				t.Errorf("GET %s: 200 %.80q", c.path, body)
			}
			continue
		}
		if status != c.status || !strings.Contains(body, c.body) {
			t.Errorf("GET %s: %d %.80q, want %d with %q", c.path, status, body, c.status, c.body)
		}
	}
	if status, _ := rawRequest(t, base, "POST", "/sub/a.txt"); status != 405 {
		t.Errorf("POST a file: %d, want 405", status)
	}
}

// rawGet sends GET path exactly as written (no client-side cleaning).
func rawGet(t *testing.T, base, path string) (int, string) {
	t.Helper()
	return rawRequest(t, base, "GET", path)
}

func rawRequest(t *testing.T, base, method, path string) (int, string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", strings.TrimPrefix(base, "http://"), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, method+" "+path+" HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
