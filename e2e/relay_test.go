package e2e

import (
	"bufio"
	"bytes"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// seq 1 100000 | sio-pub -e demo → sio-serve → sio-sub -e demo delivers
// exactly seq 1 100000, in order, and sio-pub exits 0 only after all of it
// reached the server. Run three times: "every run".
func TestPipelineDeliversEveryLineInOrder(t *testing.T) {
	const n = 100000
	want := seq(n)
	for run := 1; run <= 3; run++ {
		t.Run(fmt.Sprint("run", run), func(t *testing.T) {
			srv := serve(t) // its log goes into a failure's message
			sub := start(t, procOpts{}, "sio-sub", "--url", srv.URL, "-e", "demo", "-C", strconv.Itoa(n), "-W", "60s")
			// sio-sub joins before anything is published.
			srv.waitClients(t, 1)
			code, _, stderr := runCmd(t, want, 3*time.Minute, "sio-pub", "--url", srv.URL, "-e", "demo")
			if code != 0 {
				t.Fatalf("sio-pub exit %d: %s\nsio-sub printed %d lines\nsio-serve log:\n%.3000s", code, stderr, sub.stdout.count(), srv.stderr.String())
			}
			if c := sub.wait(2 * time.Minute); c != 0 {
				t.Fatalf("sio-sub exit %d: %s\nsio-serve log:\n%.3000s", c, sub.stderr.String(), srv.stderr.String())
			}
			if got := sub.stdout.String(); got != string(want) {
				t.Fatalf("sio-sub printed %d lines, not seq 1 %d in order (first difference at line %d)",
					strings.Count(got, "\n"), n, firstDiffLine(got, string(want)))
			}
		})
	}
}

func firstDiffLine(a, b string) int {
	la, lb := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := range la {
		if i >= len(lb) || la[i] != lb[i] {
			return i + 1
		}
	}
	return len(la) + 1
}

// Events of other names are not printed, and each printed line shows up
// while sio-sub keeps running (flushed per event into a pipe).
func TestSubFiltersAndFlushesEachEvent(t *testing.T) {
	srv := serve(t, "-q")
	sub := start(t, procOpts{}, "sio-sub", "--url", srv.URL, "-e", "a", "--event", "b,c")
	srv.waitClients(t, 1)
	pub := func(ev, line string, args ...string) {
		t.Helper()
		args = append([]string{"--url", srv.URL, "-e", ev}, args...)
		if code, _, stderr := runCmd(t, []byte(line+"\n"), time.Minute, "sio-pub", args...); code != 0 {
			t.Fatalf("sio-pub exit %d: %s", code, stderr)
		}
	}
	pub("x", "not me")
	pub("a", "first")
	if got := sub.stdout.waitLines(t, 1, 20*time.Second); got[0] != "first" {
		t.Fatalf("first line %q", got[0])
	}
	pub("y", "not me either")
	pub("b", "second")
	pub("c", `"multi\r\nline"`, "-f", "json") // one string with CR LF in it
	got := sub.stdout.waitLines(t, 3, 20*time.Second)
	if want := []string{"first", "second", `multi\r\nline`}; strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("printed %q, want %q", got, want)
	}
	if sub.exited() {
		t.Fatalf("sio-sub exited: %s", sub.stderr.String())
	}
	sub.signal(syscall.SIGINT)
	if c := sub.wait(5 * time.Second); c != 0 {
		t.Fatalf("sio-sub exit %d after SIGINT", c)
	}
}

func TestSubCountAndTimeout(t *testing.T) {
	srv := serve(t, "-q")
	sub := start(t, procOpts{}, "sio-sub", "--url", srv.URL, "-C", "2")
	srv.waitClients(t, 1)
	if code, _, stderr := runCmd(t, []byte("1\n2\n3\n"), time.Minute, "sio-pub", "--url", srv.URL); code != 0 {
		t.Fatalf("sio-pub exit %d: %s", code, stderr)
	}
	if c := sub.wait(20 * time.Second); c != 0 {
		t.Fatalf("-C 2: exit %d", c)
	}
	if got := sub.stdout.String(); got != "1\n2\n" {
		t.Errorf("-C 2 printed %q", got)
	}

	code, out, stderr := runCmd(t, nil, 30*time.Second, "sio-sub", "--url", srv.URL, "-W", "300ms")
	if code != 124 || out != "" {
		t.Errorf("-W: exit %d, stdout %q; want 124 and nothing", code, out)
	}
	if rest := notSubscribed(stderr); strings.Count(rest, "\n") != 1 || !strings.HasPrefix(rest, "sio-sub: no event for") {
		t.Errorf("-W: stderr %q, want the subscribed line and one sio-sub: line", stderr)
	}
}

// notSubscribed returns what a sio-sub said on stderr besides that it
// subscribed (once, when its first connection joined).
func notSubscribed(stderr string) string {
	first, rest, _ := strings.Cut(stderr, "\n")
	if strings.HasPrefix(first, "sio-sub: subscribed to ") {
		return rest
	}
	return stderr
}

// sio-sub | head -1 ends quietly: exit 0, nothing on stderr but that it
// subscribed.
func TestSubIntoHeadEndsQuietly(t *testing.T) {
	srv := serve(t, "-q")
	script := `sio-sub --url "$1" | head -1; echo "status ${PIPESTATUS[0]}" >&2`
	cmd := exec.Command("bash", "-c", script, "bash", srv.URL)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	// Its own process group, so that a failing test stops the whole
	// pipeline it started, not only the shell.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) })
	srv.waitClients(t, 1)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	// head exits after the first line; sio-sub notices without waiting
	// for another event to write (it used to hang until one came).
	if code, _, stderr := runCmd(t, []byte("line 1\n"), time.Minute, "sio-pub", "--url", srv.URL); code != 0 {
		t.Fatalf("sio-pub exit %d: %s", code, stderr)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
		if out.String() != "line 1\n" || notSubscribed(errb.String()) != "status 0\n" {
			t.Fatalf("stdout %q, stderr %q; want line 1 and status 0 with nothing else", out.String(), errb.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("sio-sub | head -1 still running 10 s after its line; stderr: %s", errb.String())
	}
}

// A closed stderr does not kill sio-serve: sio-serve -h's
// "sio-serve --port 0 2>&1 | head -1" left a server that died of SIGPIPE
// at its next log line (a client connecting).
func TestServeOutlivesItsStderr(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(filepath.Join(binDir, "sio-serve"), "--port", "0")
	cmd.Stderr = w
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	var waitErr error
	exited := make(chan struct{})
	go func() { waitErr = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})
	first, err := bufio.NewReader(r).ReadString('\n')
	r.Close() // head -1 is done
	m := listening.FindStringSubmatch(first)
	if err != nil || m == nil {
		t.Fatalf("first line %q, %v", first, err)
	}
	// Log lines: a client connects and leaves.
	if code, _, stderr := runCmd(t, []byte("x\n"), time.Minute, "sio-pub", "--url", m[1]); code != 0 {
		t.Fatalf("sio-pub exit %d: %s", code, stderr)
	}
	select {
	case <-exited:
		t.Fatalf("sio-serve died when its stderr was closed: %v", waitErr)
	case <-time.After(500 * time.Millisecond):
	}
	if resp, err := http.Get(m[1] + "/healthz"); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("/healthz: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
		if waitErr != nil {
			t.Errorf("exit after SIGTERM: %v, want 0", waitErr)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("sio-serve still running 10 s after SIGTERM")
	}
}

// Ctrl-C (SIGINT) ends each binary at once with exit 0: sio-pub blocked on
// an open stdin, sio-sub waiting for events, sio-serve with clients.
func TestInterruptEndsEveryBinary(t *testing.T) {
	srv := serve(t)
	sub := start(t, procOpts{}, "sio-sub", "--url", srv.URL)
	pub := start(t, procOpts{}, "sio-pub", "--url", srv.URL)
	srv.waitClients(t, 2)
	if _, err := pub.stdin.Write([]byte("hello\n")); err != nil {
		t.Fatal(err)
	}
	sub.stdout.waitLines(t, 1, 20*time.Second)
	for _, p := range []*proc{pub, sub, srv.proc} {
		p.signal(syscall.SIGINT)
		if c := p.wait(5 * time.Second); c != 0 {
			t.Errorf("%s: exit %d after SIGINT; stderr:\n%s", p.name, c, p.stderr.String())
		}
	}
}

// SIGTERM stops sio-serve within 5 s, and its clients are told.
func TestServeStopsOnSigtermAndTellsClients(t *testing.T) {
	srv := serve(t)
	sub := start(t, procOpts{}, "sio-sub", "--url", srv.URL, "--no-reconnect")
	srv.waitClients(t, 1)
	srv.signal(syscall.SIGTERM)
	if c := srv.wait(5 * time.Second); c != 0 {
		t.Fatalf("sio-serve exit %d after SIGTERM", c)
	}
	if c := sub.wait(10 * time.Second); c != 1 {
		t.Fatalf("sio-sub --no-reconnect: exit %d, want 1", c)
	}
	if s := sub.stderr.String(); !strings.Contains(s, "io server disconnect") {
		t.Errorf("sio-sub stderr %q: want the server's disconnect as the reason", s)
	}
}

// sio-sub reconnects on its own after the server restarts.
func TestSubReconnectsAfterServerRestart(t *testing.T) {
	srv := serve(t, "-q")
	port := strconv.Itoa(srv.Port)
	sub := start(t, procOpts{}, "sio-sub", "--url", srv.URL)
	srv.waitClients(t, 1)
	srv.signal(syscall.SIGTERM)
	srv.wait(5 * time.Second)
	sub.stderr.waitFor(t, regexp.MustCompile(`connection to \S+ lost`), 10*time.Second)

	srv2 := serve(t, "--port", port)
	srv2.waitClients(t, 1)
	sub.stderr.waitFor(t, regexp.MustCompile(`reconnected`), 20*time.Second)
	if code, _, stderr := runCmd(t, []byte("after restart\n"), time.Minute, "sio-pub", "--url", srv2.URL); code != 0 {
		t.Fatalf("sio-pub exit %d: %s", code, stderr)
	}
	if got := sub.stdout.waitLines(t, 1, 20*time.Second); got[0] != "after restart" {
		t.Fatalf("got %q", got)
	}
}

// An unreachable server is exit 3 within --connect-timeout, with one line
// on stderr naming the URL.
func TestUnreachableServerIsExit3(t *testing.T) {
	url := fmt.Sprintf("http://127.0.0.1:%d", freePort(t))
	for _, name := range []string{"sio-pub", "sio-sub"} {
		start := time.Now()
		code, _, stderr := runCmd(t, []byte("x\n"), 30*time.Second, name, "--url", url, "--connect-timeout", "2s")
		took := time.Since(start)
		if code != 3 {
			t.Errorf("%s: exit %d, want 3; stderr %q", name, code, stderr)
		}
		if strings.Count(stderr, "\n") != 1 || !strings.HasPrefix(stderr, name+": ") || !strings.Contains(stderr, url) {
			t.Errorf("%s: stderr %q: want one line naming %s", name, stderr, url)
		}
		t.Logf("%s gave up after %v (--connect-timeout 2s)", name, took.Round(time.Millisecond))
	}
}

// When the server goes away for good, sio-pub exits 1 and says how many
// lines were not delivered.
func TestPubLostServerIsExit1WithCount(t *testing.T) {
	srv := serve(t, "-q")
	pub := start(t, procOpts{}, "sio-pub", "--url", srv.URL, "--retry-for", "1s")
	srv.waitClients(t, 1)
	if _, err := pub.stdin.Write([]byte("1\n2\n3\n")); err != nil {
		t.Fatal(err)
	}
	srv.signal(syscall.SIGKILL)
	srv.wait(5 * time.Second)
	if _, err := pub.stdin.Write([]byte("4\n5\n")); err != nil {
		t.Fatal(err)
	}
	pub.stdin.Close()
	if c := pub.wait(30 * time.Second); c != 1 {
		t.Fatalf("exit %d, want 1; stderr %q", c, pub.stderr.String())
	}
	stderr := pub.stderr.String()
	m := regexp.MustCompile(`(\d+) line\(s\) may not have been delivered`).FindStringSubmatch(stderr)
	if m == nil {
		t.Fatalf("stderr %q does not say how many lines were not delivered", stderr)
	}
	if n, _ := strconv.Atoi(m[1]); n < 2 {
		t.Errorf("says %d lines not delivered; at least the 2 written after the server died were not", n)
	}
}

func TestServeAddressInUseIsExit3(t *testing.T) {
	srv := serve(t, "-q")
	code, _, stderr := runCmd(t, nil, 30*time.Second, "sio-serve", "--port", strconv.Itoa(srv.Port))
	if code != 3 || !strings.HasPrefix(stderr, "sio-serve: listen: ") || strings.Count(stderr, "\n") != 1 {
		t.Errorf("exit %d, stderr %q; want 3 and one listen line", code, stderr)
	}
}

func TestServeHealthz(t *testing.T) {
	srv := serve(t, "-q")
	out, err := exec.Command("curl", "-sS", srv.URL+"/healthz").Output()
	if err != nil {
		t.Skipf("curl: %v", err)
	}
	if string(out) != "ok\n" {
		t.Errorf("/healthz = %q", out)
	}
}

var _ = filepath.Join
