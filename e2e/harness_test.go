// Package e2e tests the built sio binaries as a user runs them: real
// processes, a real sio-serve on a free 127.0.0.1 port, real pipes.
package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// binDir holds sio-serve, sio-pub and sio-sub built for this test run
// (with -race when the tests are race-built), or copied from the directory
// SIO_E2E_BIN names.
var binDir string

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "sio-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	if from := os.Getenv("SIO_E2E_BIN"); from != "" {
		// Other binaries (an older build, to see a test fail before its
		// fix): copied, so that the leftover check below knows them.
		for _, name := range []string{"sio-serve", "sio-pub", "sio-sub"} {
			b, err := os.ReadFile(filepath.Join(from, name))
			if err == nil {
				err = os.WriteFile(filepath.Join(dir, name), b, 0o755)
			}
			if err != nil {
				fmt.Fprintf(os.Stderr, "e2e: SIO_E2E_BIN: %v\n", err)
				return 1
			}
		}
	} else {
		args := []string{"build", "-o", dir + string(os.PathSeparator)}
		if raceEnabled {
			args = append(args, "-race")
		}
		args = append(args, "./cmd/...")
		cmd := exec.Command("go", args...)
		cmd.Dir = ".."
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			fmt.Fprintf(os.Stderr, "e2e: building the binaries: %v\n", err)
			return 1
		}
	}
	binDir = dir
	os.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	// Keep the environment from steering the binaries.
	for _, v := range []string{"SIO_URL", "SIO_HOST", "SIO_PORT", "SIO_TOKEN"} {
		os.Unsetenv(v)
	}
	code := m.Run()
	if left := leftBehind(dir); len(left) > 0 {
		fmt.Fprintf(os.Stderr, "e2e: processes left running: %v\n", left)
		for _, pid := range left {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		code = 1
	}
	return code
}

// leftBehind lists the processes still running one of the binaries built
// in dir: every test must stop what it started.
func leftBehind(dir string) []int {
	deadline := time.Now().Add(3 * time.Second)
	for {
		var pids []int
		ents, _ := os.ReadDir("/proc")
		for _, e := range ents {
			pid, err := strconv.Atoi(e.Name())
			if err != nil {
				continue
			}
			if exe, err := os.Readlink("/proc/" + e.Name() + "/exe"); err == nil && strings.HasPrefix(exe, dir+string(os.PathSeparator)) {
				pids = append(pids, pid)
			}
		}
		if len(pids) == 0 || time.Now().After(deadline) {
			return pids
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// proc is a started binary.
type proc struct {
	t      *testing.T
	name   string
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stdout *lineBuf
	stderr *lineBuf
	done   chan struct{}
	err    error
}

type procOpts struct {
	stdin io.Reader // nil: a pipe the test writes to (proc.stdin)
	env   []string
}

// start runs a binary from binDir. It is stopped (SIGKILL, by PID) at the
// end of the test if still running; its stderr is checked for data races
// and panics.
func start(t *testing.T, o procOpts, name string, args ...string) *proc {
	t.Helper()
	return startPath(t, o, filepath.Join(binDir, name), args...)
}

// startPath is start for any program (a path, or a name looked up in PATH).
func startPath(t *testing.T, o procOpts, path string, args ...string) *proc {
	t.Helper()
	name := filepath.Base(path)
	cmd := exec.Command(path, args...)
	cmd.Env = append(os.Environ(), o.env...)
	p := &proc{t: t, name: name, cmd: cmd, stdout: newLineBuf(), stderr: newLineBuf(), done: make(chan struct{})}
	if o.stdin != nil {
		cmd.Stdin = o.stdin
	} else {
		w, err := cmd.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		p.stdin = w
	}
	cmd.Stdout = p.stdout
	cmd.Stderr = p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() {
		p.err = cmd.Wait()
		p.stdout.close()
		p.stderr.close()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = cmd.Process.Kill()
			<-p.done
		}
		s := p.stderr.String()
		if strings.Contains(s, "panic:") || strings.Contains(s, "WARNING: DATA RACE") {
			t.Errorf("%s stderr shows a race or panic:\n%s", name, s)
		} else if t.Failed() && s != "" {
			// What each process said, to tell why the test failed.
			if len(s) > 8000 {
				s = "...\n" + s[len(s)-8000:]
			}
			t.Logf("%s %v stderr:\n%s", name, args, s)
		}
	})
	return p
}

// wait waits for the process to exit and returns its exit code; it fails
// the test if that takes longer than limit.
func (p *proc) wait(limit time.Duration) int {
	p.t.Helper()
	select {
	case <-p.done:
	case <-time.After(limit):
		p.t.Fatalf("%s still running after %v\nstderr:\n%s", p.name, limit, p.stderr.String())
	}
	return exitCode(p.err)
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

func (p *proc) signal(s os.Signal) {
	p.t.Helper()
	if err := p.cmd.Process.Signal(s); err != nil {
		p.t.Fatalf("signal %s: %v", p.name, err)
	}
}

func exitCode(err error) int {
	if err == nil {
		return 0
	}
	if ee, ok := err.(*exec.ExitError); ok {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal())
		}
		return ee.ExitCode()
	}
	return -1
}

// lineBuf collects output and lets a test wait for a line.
type lineBuf struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	lines  int // complete lines in buf
	notify chan struct{}
	closed bool
}

func newLineBuf() *lineBuf { return &lineBuf{notify: make(chan struct{}, 1)} }

func (b *lineBuf) Write(p []byte) (int, error) {
	b.mu.Lock()
	b.buf.Write(p)
	b.lines += bytes.Count(p, []byte{'\n'})
	b.mu.Unlock()
	select {
	case b.notify <- struct{}{}:
	default:
	}
	return len(p), nil
}

func (b *lineBuf) close() {
	b.mu.Lock()
	b.closed = true
	b.mu.Unlock()
	select {
	case b.notify <- struct{}{}:
	default:
	}
}

func (b *lineBuf) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *lineBuf) Lines() []string {
	s := b.String()
	s = s[:strings.LastIndexByte(s, '\n')+1] // complete lines only
	if s == "" {
		return nil
	}
	return strings.Split(strings.TrimSuffix(s, "\n"), "\n")
}

// waitFor waits until the output matches re and returns the first match's
// submatches; it fails the test after limit.
func (b *lineBuf) waitFor(t *testing.T, re *regexp.Regexp, limit time.Duration) []string {
	t.Helper()
	deadline := time.After(limit)
	for {
		if m := re.FindStringSubmatch(b.String()); m != nil {
			return m
		}
		b.mu.Lock()
		closed := b.closed
		b.mu.Unlock()
		if closed {
			t.Fatalf("output ended without %q:\n%s", re, b.String())
		}
		select {
		case <-b.notify:
		case <-deadline:
			t.Fatalf("no %q within %v in:\n%s", re, limit, b.String())
		}
	}
}

// count returns how many complete lines arrived.
func (b *lineBuf) count() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.lines
}

// waitLines waits until the output has n complete lines. Waiting counts;
// it does not split the output at every write (quadratic in a long run).
func (b *lineBuf) waitLines(t *testing.T, n int, limit time.Duration) []string {
	t.Helper()
	l := b.waitLinesOr(n, limit)
	if len(l) < n {
		t.Fatalf("%d lines within %v, want %d:\n%.2000s", len(l), limit, n, b.String())
	}
	return l
}

// waitLinesOr waits up to limit for n complete lines and returns the lines
// there are then.
func (b *lineBuf) waitLinesOr(n int, limit time.Duration) []string {
	deadline := time.After(limit)
	for b.count() < n {
		select {
		case <-b.notify:
		case <-deadline:
			return b.Lines()
		}
	}
	return b.Lines()
}

var listening = regexp.MustCompile(`sio-serve: listening on (https?://[0-9.]+:(\d+))\n`)

// server is a running sio-serve.
type server struct {
	*proc
	URL  string
	Port int
	// HTTP asks the server's /metrics; a test of a TLS server sets one that
	// trusts its certificate. Default http.DefaultClient.
	HTTP *http.Client
}

// serve starts sio-serve on a free port (or the given args' port) and
// waits for its listening line.
func serve(t *testing.T, args ...string) *server {
	t.Helper()
	return serveEnv(t, nil, args...)
}

// serveEnv is serve with more environment variables for sio-serve.
func serveEnv(t *testing.T, env []string, args ...string) *server {
	t.Helper()
	if !hasFlag(args, "--port") {
		args = append(args, "--port", "0")
	}
	p := start(t, procOpts{env: env}, "sio-serve", args...)
	m := p.stderr.waitFor(t, listening, 20*time.Second)
	port, _ := strconv.Atoi(m[2])
	return &server{proc: p, URL: m[1], Port: port}
}

// waitClients waits until n clients are connected, asking /healthz.
func (s *server) waitClients(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		if c := s.clients(t); c >= n && (n > 0 || c == 0) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("fewer than %d clients after 20s", n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitClientsBelow waits until fewer than n clients are connected.
func (s *server) waitClientsBelow(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for s.clients(t) >= n {
		if time.Now().After(deadline) {
			t.Fatalf("still %d clients or more after 20s", n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func hasFlag(args []string, f string) bool {
	for _, a := range args {
		if a == f || strings.HasPrefix(a, f+"=") {
			return true
		}
	}
	return false
}

// clients reads sio_connected_clients from /metrics.
func (s *server) clients(t *testing.T) int {
	t.Helper()
	body, err := s.metrics()
	if err != nil {
		return -1 // not up yet
	}
	n, ok := sample(body, "sio_connected_clients")
	if !ok {
		t.Fatalf("no sio_connected_clients in /metrics:\n%s", body)
	}
	return int(n)
}

// metric returns one sample of the server's /metrics, -1 when absent.
func (s *server) metric(t *testing.T, name string) float64 {
	t.Helper()
	body, err := s.metrics()
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := sample(body, name); ok {
		return v
	}
	return -1
}

func (s *server) metrics() (string, error) { return s.get("/metrics") }

// get returns the body of the server's path (/metrics, /healthz).
func (s *server) get(path string) (string, error) {
	hc := s.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Get(s.URL + path)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

// sample finds the value of the sample name (with its labels, if any) in a
// Prometheus text exposition.
func sample(body, name string) (float64, bool) {
	for _, l := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(l, name+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			return f, err == nil
		}
	}
	return 0, false
}

// freePort returns a port that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// seq returns "1\n2\n...n\n".
func seq(n int) []byte {
	var b bytes.Buffer
	for i := 1; i <= n; i++ {
		b.WriteString(strconv.Itoa(i))
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// runCmd runs a binary to completion with stdin and returns its exit code,
// stdout and stderr.
func runCmd(t *testing.T, stdin []byte, limit time.Duration, name string, args ...string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(binDir, name), args...)
	cmd.Stdin = bytes.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("%s %v: still running after %v\nstderr: %s", name, args, limit, errb.String())
	}
	if s := errb.String(); strings.Contains(s, "WARNING: DATA RACE") || strings.Contains(s, "panic:") {
		t.Errorf("%s stderr shows a race or panic:\n%s", name, s)
	}
	return exitCode(err), out.String(), errb.String()
}

// interrupt is Ctrl-C.
var interrupt = syscall.SIGINT

func regexpMust(s string) *regexp.Regexp { return regexp.MustCompile(s) }

// startBridge runs sio-sub -f envelope --url from | sio-pub -f envelope
// --url to, the two joined by a pipe; both are stopped by PID at the end of
// the test (a shell in between would leave them running when killed).
func startBridge(t *testing.T, from, to string) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	sub := exec.Command(filepath.Join(binDir, "sio-sub"), "-f", "envelope", "--url", from)
	sub.Stdout = w
	pub := exec.Command(filepath.Join(binDir, "sio-pub"), "-f", "envelope", "--url", to)
	pub.Stdin = r
	for _, c := range []*exec.Cmd{sub, pub} {
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Process.Kill(); _ = c.Wait() })
	}
	r.Close()
	w.Close()
}
