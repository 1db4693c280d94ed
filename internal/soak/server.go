package soak

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sio-tools/sio/internal/faultproxy"
)

var reListening = regexp.MustCompile(`^sio-serve: listening on (https?://[^\s]+:(\d+))$`)

// Connections the client closed this long after connecting are counted:
// the connect attempt of 2 s that gives up on a connection the server
// had already accepted.
const (
	earlyCloseMin = 1500 * time.Millisecond
	earlyCloseMax = 2500 * time.Millisecond
)

// clientClosed are the disconnect reasons that mean the client closed the
// connection, or may have: a client that closes while the server writes
// to it shows as "transport error" (a cut by the harness's proxy too, but
// those are not counted, see expect).
var clientClosed = map[string]bool{
	"transport close":             true,
	"transport error":             true,
	"client namespace disconnect": true,
}

// server is one sio-serve of a run, restarted on the same port after a
// kill. Clients reach it directly or through its proxies.
type server struct {
	name      string // "A", "B"
	bin       string
	args      []string                      // besides --host and --port
	startProc func(procSpec) (*proc, error) // how to start a process
	roleOf    func(string) string           // "sub", "pub" or "?" for a client's address
	logf      func(string, ...any)          // for -v

	mu                 sync.Mutex
	port               int // 0 until it first listened
	subProxy, pubProxy *faultproxy.Proxy
	cur                *proc
	all                []*proc             // every start, in order
	ready              chan string         // the listening line's URL, for start
	live               map[string]liveConn // connected sockets by id (this start)
	open               map[string]opened   // by id, for early closes
	stats              serverStats
	poke               chan struct{}        // a connect or disconnect happened
	quiet              map[string]time.Time // by role: closes logged until then are the harness's doing
	early              []string             // the early closes of checked subscribers, described
}

type liveConn struct{ nsp string }

type opened struct {
	at   time.Time
	role string // "sub", "pub", "storm" or "?"
}

// serverStats is what the server's logs showed over a run.
type serverStats struct {
	connects     int
	recovered    int // connects with recovered=true
	maxReplayed  int // the most events one resumed session was sent
	earlyCloses  int // subscribers' connections closed by the client 1.5-2.5 s after connecting
	pingTimeouts int // disconnects with reason "ping timeout"
	unkept       int // sessions not resumed because the events they missed were dropped
	starts       int
}

func newServer(name, bin string, args []string) *server {
	return &server{
		name: name, bin: bin, args: args,
		live: map[string]liveConn{}, open: map[string]opened{},
		poke: make(chan struct{}, 1),
	}
}

// start runs sio-serve and waits for its listening line. The first start
// picks a free port; later ones reuse it (a restart after a kill), trying
// again for a while if the port is not free yet.
func (s *server) start(ctx context.Context) error {
	var lastErr error
	for attempt := 0; attempt < 50; attempt++ {
		err := s.startOnce(ctx)
		if err == nil {
			return nil
		}
		lastErr = err
		if s.getPort() == 0 || ctx.Err() != nil {
			return err
		}
		select { // the port may still be taken by the killed one
		case <-time.After(100 * time.Millisecond):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return lastErr
}

func (s *server) startOnce(ctx context.Context) error {
	args := append([]string{"--host", "127.0.0.1", "--port", strconv.Itoa(s.getPort())}, s.args...)
	ready := make(chan string, 1)
	s.mu.Lock()
	s.ready = ready
	s.live = map[string]liveConn{}
	s.open = map[string]opened{}
	s.mu.Unlock()
	start := startProc
	if s.startProc != nil {
		start = s.startProc
	}
	p, err := start(procSpec{
		name: "sio-serve " + s.name, path: filepath.Join(s.bin, "sio-serve"), args: args,
		onStderr: s.onLog,
	})
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.cur = p
	s.all = append(s.all, p)
	s.stats.starts++
	s.mu.Unlock()
	t := time.NewTimer(30 * time.Second)
	defer t.Stop()
	select {
	case url := <-ready:
		m := reListening.FindStringSubmatch("sio-serve: listening on " + url)
		port, _ := strconv.Atoi(m[2])
		s.mu.Lock()
		if s.port == 0 {
			s.port = port
		}
		s.mu.Unlock()
		return nil
	case <-p.done:
		return fmt.Errorf("sio-serve %s exited %d before listening: %s", s.name, p.code, lastLine(p.stderrString()))
	case <-t.C:
		p.kill()
		return fmt.Errorf("sio-serve %s did not print its listening line within 30s", s.name)
	case <-ctx.Done():
		p.kill()
		return ctx.Err()
	}
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}

// onLog reads one line of sio-serve's stderr: the listening line, and
// the slog records of connects and disconnects.
func (s *server) onLog(line string) {
	if m := reListening.FindStringSubmatch(line); m != nil {
		s.mu.Lock()
		ready := s.ready
		s.mu.Unlock()
		select {
		case ready <- m[1]:
		default:
		}
		return
	}
	if strings.Contains(line, `msg="session not resumed: events it missed are no longer kept`) {
		s.mu.Lock()
		s.stats.unkept++
		s.mu.Unlock()
		return
	}
	if !strings.Contains(line, "msg=connect") && !strings.Contains(line, "msg=disconnect") {
		return
	}
	rec := parseLogfmt(line)
	at, _ := time.Parse(time.RFC3339Nano, rec["time"])
	id := rec["id"]
	s.mu.Lock()
	switch rec["msg"] {
	case "connect":
		s.stats.connects++
		if rec["recovered"] == "true" {
			s.stats.recovered++
			if n, err := strconv.Atoi(rec["replayed"]); err == nil {
				s.stats.maxReplayed = max(s.stats.maxReplayed, n)
			}
		}
		s.live[id] = liveConn{nsp: rec["nsp"]}
		role := "storm"
		if rec["nsp"] == "/" {
			role = "?"
			if s.roleOf != nil {
				s.mu.Unlock()
				role = s.roleOf(rec["addr"])
				s.mu.Lock()
			}
		}
		if _, ok := s.live[id]; ok {
			s.open[id] = opened{at: at, role: role}
		}
	case "disconnect":
		reason := rec["reason"]
		if reason == "ping timeout" {
			s.stats.pingTimeouts++
		}
		if o, ok := s.open[id]; ok && o.role != "pub" && clientClosed[reason] && !at.IsZero() && !o.at.IsZero() &&
			!at.Before(s.quiet[o.role]) {
			if d := at.Sub(o.at); d >= earlyCloseMin && d <= earlyCloseMax {
				s.stats.earlyCloses++
				e := fmt.Sprintf("sio-serve %s: %s connection %s (%s) closed by the client %v after connecting (%s), at %s",
					s.name, rec["nsp"], id, o.role, d, reason, at.Format("15:04:05.000"))
				if o.role == "sub" {
					s.early = append(s.early, e)
				}
				if s.logf != nil {
					s.logf("%s", e)
				}
			}
		}
		delete(s.live, id)
		delete(s.open, id)
	}
	s.mu.Unlock()
	select {
	case s.poke <- struct{}{}:
	default:
	}
}

// expect says that the harness itself closes connections of role ("sub",
// "storm") until the time until: they are not counted as early closes.
func (s *server) expect(role string, until time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.quiet == nil {
		s.quiet = map[string]time.Time{}
	}
	if until.After(s.quiet[role]) {
		s.quiet[role] = until
	}
}

// parseLogfmt splits a slog text record into its keys and values.
func parseLogfmt(line string) map[string]string {
	m := map[string]string{}
	for i := 0; i < len(line); {
		for i < len(line) && line[i] == ' ' {
			i++
		}
		eq := strings.IndexByte(line[i:], '=')
		if eq < 0 {
			break
		}
		key := line[i : i+eq]
		i += eq + 1
		var val string
		if i < len(line) && line[i] == '"' {
			j := i + 1
			for j < len(line) && line[j] != '"' {
				if line[j] == '\\' {
					j++
				}
				j++
			}
			if j >= len(line) {
				j = len(line) - 1
			}
			if u, err := strconv.Unquote(line[i : j+1]); err == nil {
				val = u
			} else {
				val = line[i+1 : j]
			}
			i = j + 1
		} else {
			j := strings.IndexByte(line[i:], ' ')
			if j < 0 {
				j = len(line) - i
			}
			val = line[i : i+j]
			i += j
		}
		m[key] = val
	}
	return m
}

// liveIn returns how many sockets are connected to namespace nsp now.
func (s *server) liveIn(nsp string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, c := range s.live {
		if c.nsp == nsp {
			n++
		}
	}
	return n
}

// waitLive waits until at least n sockets are connected to nsp, at most
// for limit, and returns how many are. It reads the server's log; should
// the log say nothing of connects (-q), it asks /metrics.
func (s *server) waitLive(ctx context.Context, nsp string, n int, limit time.Duration) int {
	t := time.NewTimer(limit)
	defer t.Stop()
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		got := s.liveIn(nsp)
		if got >= n {
			return got
		}
		if nsp == "/" {
			if m := s.metricClients(); m >= n && s.connectsLogged() == 0 {
				return m
			}
		}
		select {
		case <-s.poke:
		case <-tick.C:
		case <-t.C:
			return got
		case <-ctx.Done():
			return got
		}
	}
}

func (s *server) connectsLogged() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats.connects
}

// metricClients reads sio_connected_clients from /metrics, -1 on error.
func (s *server) metricClients() int {
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(s.url() + "/metrics")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return -1
	}
	for _, l := range strings.Split(string(body), "\n") {
		if v, ok := strings.CutPrefix(l, "sio_connected_clients "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err == nil {
				return int(f)
			}
		}
	}
	return -1
}

func (s *server) getPort() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.port
}

func (s *server) url() string { return "http://127.0.0.1:" + strconv.Itoa(s.getPort()) }

// addProxies puts a fault proxy in front of the server for the
// subscribers, the publishers, or both.
func (s *server) addProxies(sub, pub bool) error {
	target := "127.0.0.1:" + strconv.Itoa(s.getPort())
	var sp, pp *faultproxy.Proxy
	var err error
	if sub {
		if sp, err = faultproxy.New(target); err != nil {
			return err
		}
	}
	if pub {
		if pp, err = faultproxy.New(target); err != nil {
			if sp != nil {
				sp.Close()
			}
			return err
		}
	}
	s.mu.Lock()
	s.subProxy, s.pubProxy = sp, pp
	s.mu.Unlock()
	return nil
}

// proxies returns the server's proxies for subscribers and publishers
// (nil when none).
func (s *server) proxies() (sub, pub *faultproxy.Proxy) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.subProxy, s.pubProxy
}

// subURL and pubURL are where subscribers and publishers connect: through
// the server's proxy for them, if it has one.
func (s *server) subURL() string {
	if sp, _ := s.proxies(); sp != nil {
		return "http://" + sp.Addr()
	}
	return s.url()
}

func (s *server) pubURL() string {
	if _, pp := s.proxies(); pp != nil {
		return "http://" + pp.Addr()
	}
	return s.url()
}

func (s *server) current() *proc {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cur
}

// earlyCloses describes the early closes of checked subscribers.
func (s *server) earlyCloses() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.early...)
}

func (s *server) snapshot() serverStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}

// logs returns the stderr of every start, in order.
func (s *server) logs() []string {
	s.mu.Lock()
	all := append([]*proc(nil), s.all...)
	s.mu.Unlock()
	var out []string
	for _, p := range all {
		out = append(out, p.stderrString())
	}
	return out
}
