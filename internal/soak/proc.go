package soak

import (
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// proc is a process the harness started. It runs in its own process
// group, so that a Ctrl-C at the terminal reaches only the harness, which
// then stops its processes itself, each by its PID.
type proc struct {
	name   string
	args   []string
	cmd    *exec.Cmd
	stderr *logBuf // nil when not kept
	done   chan struct{}
	code   int // once done: the exit code, 128+N when killed by signal N
	began  time.Time
	ended  time.Time // once done
}

// procSpec says how to start a process.
type procSpec struct {
	name   string
	path   string
	args   []string
	role   string    // "sub" or "pub": a checked client (see clientRole)
	stdin  *os.File  // nil: /dev/null
	stdout io.Writer // nil: /dev/null
	// onStderr, when set, is called for each line of stderr.
	onStderr func(line string)
	// discardStderr: do not keep stderr (the idle subscribers of a storm).
	discardStderr bool
}

// childEnv is the environment without the variables that would steer the
// binaries to another server.
func childEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "SIO_URL", "SIO_HOST", "SIO_PORT", "SIO_TOKEN", "SIO_REDIS_URL":
			continue
		}
		env = append(env, kv)
	}
	return env
}

func startProc(s procSpec) (*proc, error) {
	cmd := exec.Command(s.path, s.args...)
	cmd.Env = childEnv()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if s.stdin != nil {
		cmd.Stdin = s.stdin
	}
	cmd.Stdout = s.stdout
	p := &proc{name: s.name, args: append([]string{s.path}, s.args...), cmd: cmd, done: make(chan struct{})}
	if !s.discardStderr {
		p.stderr = &logBuf{onLine: s.onStderr}
		cmd.Stderr = p.stderr
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p.began = time.Now()
	go func() {
		err := cmd.Wait()
		p.ended = time.Now()
		p.code = exitCode(cmd.ProcessState, err)
		if p.stderr != nil {
			p.stderr.flush()
		}
		close(p.done)
	}()
	return p, nil
}

func exitCode(ps *os.ProcessState, err error) int {
	if ps == nil {
		if err != nil {
			return -1
		}
		return 0
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ps.ExitCode()
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// signal sends sig to the process, if it still runs.
func (p *proc) signal(sig syscall.Signal) {
	// os.Process signals through a pidfd: a process already waited for
	// is never mistaken for a new one with the same PID.
	_ = p.cmd.Process.Signal(sig)
}

// wait waits for the process to exit, at most until ctx is done.
func (p *proc) wait(ctx context.Context) error {
	select {
	case <-p.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// waitFor waits at most d for the process to exit.
func (p *proc) waitFor(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-p.done:
		return true
	case <-t.C:
		return false
	}
}

// stop ends the process: SIGTERM (after a SIGCONT, should it be
// stopped), then SIGKILL after grace. It reports whether it ended within
// grace.
func (p *proc) stop(grace time.Duration) bool {
	if p.exited() {
		return true
	}
	p.signal(syscall.SIGCONT)
	p.signal(syscall.SIGTERM)
	if p.waitFor(grace) {
		return true
	}
	p.kill()
	return false
}

// kill ends the process with SIGKILL and waits for it.
func (p *proc) kill() {
	if p.exited() {
		return
	}
	p.signal(syscall.SIGKILL)
	<-p.done
}

func (p *proc) stderrString() string {
	if p.stderr == nil {
		return ""
	}
	return p.stderr.String()
}

// logBuf keeps a process's stderr (up to a bound) and hands each complete
// line to onLine.
type logBuf struct {
	onLine func(string)

	mu      sync.Mutex
	buf     bytes.Buffer
	partial []byte
	dropped int
}

const logLimit = 8 << 20

func (b *logBuf) Write(p []byte) (int, error) {
	b.mu.Lock()
	if b.buf.Len()+len(p) <= logLimit {
		b.buf.Write(p)
	} else {
		b.dropped += len(p)
	}
	var lines []string
	if b.onLine != nil {
		data := append(b.partial, p...)
		for {
			i := bytes.IndexByte(data, '\n')
			if i < 0 {
				break
			}
			lines = append(lines, string(data[:i]))
			data = data[i+1:]
		}
		b.partial = append([]byte(nil), data...)
	}
	b.mu.Unlock()
	for _, l := range lines {
		b.onLine(l)
	}
	return len(p), nil
}

// flush hands on a last line that had no newline.
func (b *logBuf) flush() {
	b.mu.Lock()
	rest := string(b.partial)
	b.partial = nil
	b.mu.Unlock()
	if rest != "" && b.onLine != nil {
		b.onLine(rest)
	}
}

func (b *logBuf) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.dropped > 0 {
		return b.buf.String() + "\n[soak: " + strconv.Itoa(b.dropped) + " more bytes not kept]\n"
	}
	return b.buf.String()
}

// lineWriter hands every complete line written to it to onLine (a
// subscriber's stdout).
type lineWriter struct {
	onLine  func(string)
	partial []byte
}

func (w *lineWriter) Write(p []byte) (int, error) {
	data := p
	if len(w.partial) > 0 {
		data = append(w.partial, p...)
		w.partial = nil
	}
	for {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			break
		}
		w.onLine(string(data[:i]))
		data = data[i+1:]
	}
	if len(data) > 0 {
		w.partial = append([]byte(nil), data...)
	}
	return len(p), nil
}
