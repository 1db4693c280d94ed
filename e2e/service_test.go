package e2e

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

func TestTokenRefusesOthers(t *testing.T) {
	srv := serve(t, "--token", "s3cret")
	c, _, errOut := runCmd(t, nil, 20*time.Second, "sio-sub", "--url", srv.URL, "-W", "1s")
	if c != 3 || !strings.Contains(errOut, "unauthorized") || strings.Count(strings.TrimSpace(errOut), "\n") > 1 {
		t.Errorf("sio-sub without the token: exit %d, stderr %q; want 3 and one line saying unauthorized", c, errOut)
	}
	c, _, errOut = runCmd(t, []byte("x\n"), 20*time.Second, "sio-pub", "--url", srv.URL, "--token", "wrong")
	if c != 3 || !strings.Contains(errOut, "unauthorized") {
		t.Errorf("sio-pub with a wrong token: exit %d, stderr %q", c, errOut)
	}
	sub := start(t, procOpts{env: []string{"SIO_TOKEN=s3cret"}}, "sio-sub", "--url", srv.URL)
	srv.waitClients(t, 1)
	if c, _, errOut := runCmd(t, []byte("hello\n"), 20*time.Second, "sio-pub", "--url", srv.URL, "--token", "s3cret"); c != 0 {
		t.Fatalf("sio-pub with the token: exit %d: %s", c, errOut)
	}
	sub.stdout.waitFor(t, regexp.MustCompile(`(?m)^hello$`), 10*time.Second)
	if n := srv.metric(t, `sio_refused_total{reason="unauthorized"}`); n < 2 {
		t.Errorf("sio_refused_total{reason=\"unauthorized\"} = %v, want at least 2", n)
	}
}

// A page of another origin is refused on both transports; the same origin,
// loopback pages and --cors-origin ones are not.
func TestOriginCheck(t *testing.T) {
	srv := serve(t, "--cors-origin", "https://allowed.example")
	host := strings.TrimPrefix(srv.URL, "http://")
	for _, tt := range []struct {
		origin string
		ok     bool
	}{
		{"", true},
		{"http://" + host, true},
		{"http://localhost:8080", true},
		{"http://127.0.0.1:1", true},
		{"https://allowed.example", true},
		{"https://evil.example", false},
		{"http://127.0.0.1.evil.example", false},
		{"null", false},
	} {
		req, _ := http.NewRequest("GET", srv.URL+"/socket.io/?EIO=4&transport=polling", nil)
		if tt.origin != "" {
			req.Header.Set("Origin", tt.origin)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got := resp.StatusCode == 200; got != tt.ok {
			t.Errorf("polling from origin %q: %d", tt.origin, resp.StatusCode)
		}
		if tt.ok && tt.origin != "" && resp.Header.Get("Access-Control-Allow-Origin") != tt.origin {
			t.Errorf("polling from origin %q: no CORS header", tt.origin)
		}
		h := http.Header{}
		if tt.origin != "" {
			h.Set("Origin", tt.origin)
		}
		ws, resp, err := websocket.DefaultDialer.Dial("ws://"+host+"/socket.io/?EIO=4&transport=websocket", h)
		if ws != nil {
			ws.Close()
		}
		if got := err == nil; got != tt.ok {
			code := 0
			if resp != nil {
				code = resp.StatusCode
			}
			t.Errorf("websocket from origin %q: err %v (status %d)", tt.origin, err, code)
		}
	}
	if n := srv.metric(t, `sio_refused_total{reason="origin"}`); n != 6 {
		t.Errorf(`sio_refused_total{reason="origin"} = %v, want 6`, n)
	}
}

func TestTLS(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := selfSigned(t, dir)
	srv := serve(t, "--tls-cert", certFile, "--tls-key", keyFile)
	if !strings.HasPrefix(srv.URL, "https://127.0.0.1:") {
		t.Fatalf("listening on %s, want https", srv.URL)
	}
	srv.HTTP = trusting(t, certFile)
	url := srv.URL

	c, _, errOut := runCmd(t, []byte("x\n"), 30*time.Second, "sio-pub", "--url", url, "--connect-timeout", "3s")
	if c != 3 || !strings.Contains(errOut, "certificate") {
		t.Errorf("sio-pub without --cacert: exit %d, %q; want 3 naming the certificate", c, errOut)
	}
	sub := start(t, procOpts{}, "sio-sub", "--url", strings.Replace(url, "https", "wss", 1), "--cacert", certFile)
	srv.waitClients(t, 1)
	if c, _, errOut := runCmd(t, []byte("over tls\n"), 30*time.Second, "sio-pub", "--url", url, "--cacert", certFile); c != 0 {
		t.Fatalf("sio-pub --cacert: exit %d: %s", c, errOut)
	}
	sub.stdout.waitFor(t, regexp.MustCompile(`(?m)^over tls$`), 10*time.Second)
	if c, _, errOut := runCmd(t, []byte("insecure\n"), 30*time.Second, "sio-pub", "--url", url, "--insecure"); c != 0 {
		t.Fatalf("sio-pub --insecure: exit %d: %s", c, errOut)
	}
	sub.stdout.waitFor(t, regexp.MustCompile(`(?m)^insecure$`), 10*time.Second)
}

// trusting returns an HTTP client that trusts the certificate in certFile.
func trusting(t *testing.T, certFile string) *http.Client {
	pemBytes, err := os.ReadFile(certFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pemBytes)
	return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
}

// selfSigned writes a certificate for 127.0.0.1 and its key.
func selfSigned(t *testing.T, dir string) (string, string) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "sio test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:                  true,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalECPrivateKey(key)
	cf, kf := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(cf, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(kf, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600)
	return cf, kf
}

// The notify protocol against a real datagram socket: READY=1 once it
// listens, STOPPING=1 on SIGTERM.
func TestSystemdNotify(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "notify")
	ln, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	p := start(t, procOpts{env: []string{"NOTIFY_SOCKET=" + sock}}, "sio-serve", "--port", "0")
	read := func() string {
		_ = ln.SetReadDeadline(time.Now().Add(20 * time.Second))
		b := make([]byte, 256)
		n, err := ln.Read(b)
		if err != nil {
			t.Fatalf("notify socket: %v", err)
		}
		return string(b[:n])
	}
	if m := read(); m != "READY=1" {
		t.Fatalf("first message %q, want READY=1", m)
	}
	// sio-serve writes the line before it notifies; the test reads its
	// stderr through a pipe and a goroutine, so the line may reach the
	// test a moment after the datagram.
	p.stderr.waitFor(t, listening, 5*time.Second)
	p.signal(syscall.SIGTERM)
	if m := read(); m != "STOPPING=1" {
		t.Errorf("second message %q, want STOPPING=1", m)
	}
	if c := p.wait(10 * time.Second); c != 0 {
		t.Errorf("exit %d", c)
	}
}

// systemd-analyze verify passes on the shipped units, with no warning.
func TestSystemdUnitsVerify(t *testing.T) {
	needPeer(t, "systemd")
	dir := t.TempDir()
	bin, _ := filepath.Abs(binDir)
	for src, dst := range map[string]string{"sio-serve.service": "sio-serve.service", "sio-bridge@.service": "sio-bridge@test.service"} {
		b, err := os.ReadFile(filepath.Join(repoRoot(), "scripts/systemd", src))
		if err != nil {
			t.Fatal(err)
		}
		// The binaries as built here, and an environment file that exists.
		s := strings.ReplaceAll(string(b), "/usr/local/bin", bin)
		s = strings.ReplaceAll(s, "EnvironmentFile=/etc/sio/bridge-%i.env", "EnvironmentFile="+filepath.Join(dir, "bridge.env"))
		os.WriteFile(filepath.Join(dir, dst), []byte(s), 0o644)
	}
	os.WriteFile(filepath.Join(dir, "bridge.env"), []byte("FROM_URL=http://127.0.0.1:1\nTO_URL=http://127.0.0.1:2\n"), 0o644)
	cmd := exec.Command("systemd-analyze", "verify", "--man=no", filepath.Join(dir, "sio-serve.service"), filepath.Join(dir, "sio-bridge@test.service"))
	out, err := cmd.CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}

// --log-format json: every stderr line after the listening one is a JSON
// record; metrics move as events flow.
func TestJSONLogsAndMetrics(t *testing.T) {
	srv := serve(t, "--log-format", "json")
	sub := start(t, procOpts{}, "sio-sub", "--url", srv.URL)
	srv.waitClients(t, 1)
	before := srv.metric(t, "sio_events_received_total")
	if c, _, errOut := runCmd(t, seq(100), 20*time.Second, "sio-pub", "--url", srv.URL); c != 0 {
		t.Fatalf("sio-pub: exit %d: %s", c, errOut)
	}
	sub.stdout.waitLines(t, 100, 10*time.Second)
	if d := srv.metric(t, "sio_events_received_total") - before; d != 100 {
		t.Errorf("sio_events_received_total moved by %v, want 100", d)
	}
	for _, name := range []string{"sio_connections_total", "sio_connected_clients", `sio_namespace_clients{namespace="/"}`} {
		if srv.metric(t, name) < 1 {
			t.Errorf("%s below 1", name)
		}
	}
	// 100 events to one subscriber, each at least "42[\"message\",\"1\"]".
	if n := srv.metric(t, "sio_messages_sent_total"); n < 100 {
		t.Errorf("sio_messages_sent_total %v, want at least 100", n)
	}
	for _, name := range []string{"sio_received_bytes_total", "sio_sent_bytes_total"} {
		if n := srv.metric(t, name); n < 100*16 {
			t.Errorf("%s %v, want at least %d", name, n, 100*16)
		}
	}
	srv.signal(syscall.SIGTERM)
	srv.wait(10 * time.Second)
	for _, l := range strings.Split(strings.TrimSpace(srv.stderr.String()), "\n")[1:] {
		var rec map[string]any
		if err := json.Unmarshal([]byte(l), &rec); err != nil || rec["msg"] == nil {
			t.Errorf("not a JSON record: %q", l)
		}
	}
}

func TestMaxConns(t *testing.T) {
	srv := serve(t, "--max-conns", "1")
	start(t, procOpts{}, "sio-sub", "--url", srv.URL)
	srv.waitClients(t, 1)
	c, _, errOut := runCmd(t, nil, 20*time.Second, "sio-sub", "--url", srv.URL, "--connect-timeout", "2s")
	if c != 3 || !strings.Contains(errOut, "503") {
		t.Errorf("a second client with --max-conns 1: exit %d, %q; want 3 and the 503", c, errOut)
	}
	if n := srv.metric(t, `sio_refused_total{reason="max_conns"}`); n < 1 {
		t.Errorf(`sio_refused_total{reason="max_conns"} = %v`, n)
	}
}
