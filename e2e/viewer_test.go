package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// browser drives the viewer page in headless Chromium through
// scripts/viewer-check.mjs: one JSON command per line, one JSON answer.
type browser struct {
	t       *testing.T
	p       *proc
	answers int
}

func newBrowser(t *testing.T) *browser {
	t.Helper()
	needPeer(t, "node")
	needPeer(t, "chromium")
	p := startPath(t, procOpts{env: nodeEnv()}, "node", filepath.Join(repoRoot(), "scripts", "viewer-check.mjs"), "/usr/bin/chromium")
	b := &browser{t: t, p: p}
	t.Cleanup(func() {
		if !p.exited() {
			p.stdin.Close()
			select {
			case <-p.done:
			case <-time.After(10 * time.Second):
			}
		}
	})
	return b
}

// do sends one command and returns its answer; an error answer fails the test.
func (b *browser) do(cmd map[string]any) map[string]any {
	b.t.Helper()
	out, err := b.try(cmd)
	if err != nil {
		b.t.Fatal(err)
	}
	return out
}

// try is do for any goroutine: it returns the failure.
func (b *browser) try(cmd map[string]any) (map[string]any, error) {
	line, _ := json.Marshal(cmd)
	if _, err := b.p.stdin.Write(append(line, '\n')); err != nil {
		return nil, fmt.Errorf("browser: %v\nstderr:\n%s", err, b.p.stderr.String())
	}
	b.answers++
	lines := b.p.stdout.waitLinesOr(b.answers, 60*time.Second)
	if len(lines) < b.answers {
		return nil, fmt.Errorf("browser: no answer to %s\nstderr:\n%s", line, b.p.stderr.String())
	}
	var out map[string]any
	if err := json.Unmarshal([]byte(lines[b.answers-1]), &out); err != nil {
		return nil, fmt.Errorf("browser: bad answer %q: %v", lines[b.answers-1], err)
	}
	if out["ok"] != true {
		return nil, fmt.Errorf("browser: %s: %v", line, out["error"])
	}
	return out, nil
}

func (b *browser) eval(expr string) any {
	b.t.Helper()
	return b.do(map[string]any{"cmd": "eval", "expr": expr})["value"]
}

func (b *browser) waitText(text string) {
	b.t.Helper()
	b.do(map[string]any{"cmd": "waitText", "text": text, "timeout": 10000})
}

// pageMetrics is what viewer-check.mjs "metrics" measures after a forced GC.
type pageMetrics struct {
	Rows, MaxRows, Total, Shown, Max, NodesPerRow, DocNodes int
	Rate                                                    float64
	JSHeapUsed                                              float64
	Nodes                                                   int
	External, Errors                                        []string
}

// metrics measures the page, after a forced garbage collection when gc.
func (b *browser) metrics(gc bool) pageMetrics {
	b.t.Helper()
	m, err := b.tryMetrics(gc)
	if err != nil {
		b.t.Fatal(err)
	}
	return m
}

func (b *browser) tryMetrics(gc bool) (pageMetrics, error) {
	var m pageMetrics
	out, err := b.try(map[string]any{"cmd": "metrics", "gc": gc})
	if err != nil {
		return m, err
	}
	raw, _ := json.Marshal(out)
	err = json.Unmarshal(raw, &m)
	return m, err
}

const mb = 1 << 20

// The viewer page shows what sio-pub publishes (UTF-8, emoji, JSON, markup
// as text), emits from its form to sio-sub, uses the embedded client and
// nothing from outside, and keeps up with 2,000 events/s for 10 s with a
// bounded list and a bounded heap. With SIO_SCREENSHOT=1 it writes docs/viewer.png.
func TestViewer(t *testing.T) {
	srv := serve(t, "-q")
	b := newBrowser(t)
	const max = 500 // the page's list bound (?max=), N below
	b.do(map[string]any{"cmd": "open", "url": srv.URL + "/?max=" + fmt.Sprint(max), "width": 1000, "height": 640})

	if v := b.eval(`io.version || ""`); v != nil && v != "" {
		t.Logf("page's socket.io-client: %v", v)
	}

	// Published lines, as text and as JSON, show up in the page.
	texts := []string{
		"héllo wörld: ünïcödé ñ ß",
		"emoji 🎉🚀 and Ελληνικά, кириллица",
		`<img src=x onerror="document.title='pwned'"> stays text`,
	}
	code, _, stderr := runCmd(t, []byte(strings.Join(texts, "\n")+"\n"), 30*time.Second, "sio-pub", "--url", srv.URL, "-e", "greeting")
	if code != 0 {
		t.Fatalf("sio-pub exit %d: %s", code, stderr)
	}
	for _, s := range texts {
		b.waitText(s)
	}
	jsonLines := `{"user":"ann","n":42,"tags":["red","green"],"nested":{"ok":true,"note":"ünï 🎉"}}` + "\n" + `[1,2,3]` + "\n" + `3.5` + "\n"
	code, _, stderr = runCmd(t, []byte(jsonLines), 30*time.Second, "sio-pub", "--url", srv.URL, "-e", "order", "-f", "json")
	if code != 0 {
		t.Fatalf("sio-pub -f json exit %d: %s", code, stderr)
	}
	// The relay passes a plain event on as it came: keys in the sender's
	// order (the library's decoding would have sorted them, S4).
	b.waitText(`"nested":{"ok":true,"note":"ünï 🎉"}`)
	b.waitText(`[1,2,3]`)
	b.waitText(`3.5`)
	if n := b.eval(`document.querySelectorAll('#events img').length`); n != float64(0) {
		t.Fatalf("a payload became markup: %v <img> in the list", n)
	}
	if title := b.eval(`document.title`); title != "sio viewer" {
		t.Fatalf("a payload ran script: title %q", title)
	}
	// Pretty JSON on opening a row.
	const annRow = `#events .more:has-text("ann")`
	b.do(map[string]any{"cmd": "click", "selector": annRow})
	if pre, _ := b.eval(`document.querySelector('#events .more[aria-expanded="true"]')?.textContent || ''`).(string); !strings.Contains(pre, "\n  \"n\": 42,\n") {
		t.Fatalf("opened JSON is not pretty-printed: %q", pre)
	}
	if order := b.eval(`[...document.querySelectorAll('#events .name')].map(n => n.firstChild.textContent).slice(0, 2).join(',')`); order != "order,order" {
		t.Fatalf("newest first: first rows are %v", order)
	}

	// The form emits into the namespace; sio-sub prints it.
	sub := start(t, procOpts{}, "sio-sub", "--url", srv.URL, "-v", "-e", "from_page", "-C", "2", "-W", "30s")
	srv.waitClients(t, 2)
	b.do(map[string]any{"cmd": "emit", "name": "from_page", "data": `{"hi":"there ✓","n":[1,2]}`, "as": "auto"})
	b.do(map[string]any{"cmd": "emit", "name": "from_page", "data": "plain text 🎈", "as": "text"})
	if c := sub.wait(30 * time.Second); c != 0 {
		t.Fatalf("sio-sub exit %d: %s", c, sub.stderr.String())
	}
	want := "from_page {\"hi\":\"there ✓\",\"n\":[1,2]}\nfrom_page plain text 🎈\n"
	if got := sub.stdout.String(); got != want {
		t.Fatalf("sio-sub printed %q, want %q", got, want)
	}
	b.waitText("plain text 🎈")

	// The filter narrows the list to matching names or text, and back.
	b.do(map[string]any{"cmd": "eval", "expr": `(() => { const f = document.getElementById('filter'); f.value = 'EMOJI'; f.dispatchEvent(new Event('input')); return true })()`})
	if n := b.eval(`new Promise(r => setTimeout(() => r(document.querySelectorAll('#events > li').length), 400))`); n != float64(1) {
		t.Fatalf("filter 'EMOJI': %v rows, want 1", n)
	}
	b.eval(`(() => { const f = document.getElementById('filter'); f.value = ''; f.dispatchEvent(new Event('input')); return true })()`)
	if n := b.eval(`new Promise(r => setTimeout(() => r(document.querySelectorAll('#events > li').length), 400))`); n != float64(len(texts)+3+2) {
		t.Fatalf("filter cleared: %v rows, want %d", n, len(texts)+3+2)
	}
	// For the screenshot: one JSON row open.
	b.do(map[string]any{"cmd": "click", "selector": annRow})

	// The README's screenshot is made with SIO_SCREENSHOT=1 (make
	// screenshot); other runs leave it in the test's temp dir, so that a
	// test run does not change the tree.
	shot := filepath.Join(t.TempDir(), "viewer.png")
	if os.Getenv("SIO_SCREENSHOT") == "1" {
		shot = filepath.Join(repoRoot(), "docs", "viewer.png")
	}
	b.do(map[string]any{"cmd": "screenshot", "path": shot})

	before := b.metrics(true)
	t.Logf("before the flood: %d rows, %d events, JS heap %.2f MB, %d document nodes (Chromium counts %d)",
		before.Rows, before.Total, before.JSHeapUsed/mb, before.DocNodes, before.Nodes)
	if len(before.External) > 0 {
		t.Fatalf("the page requested outside its origin: %v", before.External)
	}
	if len(before.Errors) > 0 {
		t.Fatalf("page errors: %v", before.Errors)
	}

	// 2,000 events/s for 10 s, paced in 10 ms steps of 20 lines. Each line
	// is lineBytes long, so that keeping every event would grow the heap by
	// at least n*lineBytes.
	const (
		rate      = 2000
		seconds   = 10
		n         = rate * seconds
		lineBytes = 1000
	)
	// sio-sub is the reference: the same relay path into a Go client.
	ref := start(t, procOpts{}, "sio-sub", "--url", srv.URL, "-e", "flood", "-C", fmt.Sprint(n), "-W", "60s")
	srv.waitClients(t, 2)
	pub := start(t, procOpts{}, "sio-pub", "--url", srv.URL, "-e", "flood")
	pad := strings.Repeat("x", lineBytes-len("flood 000000 "))
	t0 := time.Now()
	tick := time.NewTicker(10 * time.Millisecond)
	var mid pageMetrics
	var midDone chan struct{}
	sent := 0
	for sent < n {
		<-tick.C
		// As many lines as the clock says are due (catches up after a slow step).
		due := min(n, int(time.Since(t0).Seconds()*rate)+rate/100)
		var buf strings.Builder
		for ; sent < due; sent++ {
			fmt.Fprintf(&buf, "flood %06d %s\n", sent+1, pad)
		}
		if _, err := pub.stdin.Write([]byte(buf.String())); err != nil {
			t.Fatalf("writing to sio-pub: %v\n%s", err, pub.stderr.String())
		}
		if midDone == nil && time.Since(t0) > seconds*time.Second/2 {
			// Measured aside, so that the pace goes on meanwhile.
			midDone = make(chan struct{})
			go func() {
				defer close(midDone)
				var err error
				if mid, err = b.tryMetrics(false); err != nil {
					t.Error(err)
				}
			}()
		}
	}
	tick.Stop()
	sendTime := time.Since(t0)
	if midDone != nil {
		<-midDone
	}
	pub.stdin.Close()
	if c := pub.wait(60 * time.Second); c != 0 {
		t.Fatalf("sio-pub exit %d: %s", c, pub.stderr.String())
	}
	pubDone := time.Now()
	if c := ref.wait(60 * time.Second); c != 0 {
		t.Fatalf("sio-sub exit %d: %s", c, ref.stderr.String())
	}
	refLag := time.Since(pubDone)
	b.do(map[string]any{"cmd": "waitTotal", "total": before.Total + n, "timeout": 60000})
	lag := time.Since(pubDone)
	after := b.metrics(true)
	t.Logf("flood: %d events in %v (%.0f/s); page showed %d/s at %v; page counted all %d events %v after sio-pub exited (sio-sub: %v)",
		n, sendTime.Round(time.Millisecond), float64(n)/sendTime.Seconds(), int(mid.Rate), seconds*time.Second/2, after.Total-before.Total, lag.Round(time.Millisecond), refLag.Round(time.Millisecond))
	t.Logf("mid-flood (no GC): %d rows, JS heap %.2f MB, %d nodes; after (GC): %d rows (most ever %d, N=%d), JS heap %.2f MB, %d document nodes (Chromium counts %d, %d per row)",
		mid.Rows, mid.JSHeapUsed/mb, mid.Nodes, after.Rows, after.MaxRows, max, after.JSHeapUsed/mb, after.DocNodes, after.Nodes, after.NodesPerRow)

	if after.Total != before.Total+n {
		t.Errorf("page counted %d events, want %d", after.Total-before.Total, n)
	}
	// "Keeps up": the page is not much behind a Go subscriber on the same
	// relay (the relay and the machine set the pace, not the page).
	if lag > refLag+5*time.Second {
		t.Errorf("page needed %v after sio-pub exited to count every event, sio-sub %v", lag, refLag)
	}
	// The list is bounded by N, at every DOM change, and full at the end.
	if after.MaxRows > max || after.Rows != max || after.Shown != max || after.Max != max {
		t.Errorf("rows: most %d, now %d, shown %d, bound %d; want at most and now N=%d", after.MaxRows, after.Rows, after.Shown, after.Max, max)
	}
	// DOM nodes: the document as it was (with its few rows) plus at most N
	// rows of at most NodesPerRow nodes each; keeping every row would add
	// n × NodesPerRow. Chromium's own count (CDP "Nodes") also holds rows
	// removed but not yet collected: at most one more list's worth.
	if limit := before.DocNodes + max*after.NodesPerRow; after.DocNodes > limit {
		t.Errorf("document nodes %d > %d (before %d + N × %d per row)", after.DocNodes, limit, before.DocNodes, after.NodesPerRow)
	}
	if limit := before.Nodes + 2*max*after.NodesPerRow; after.Nodes > limit {
		t.Errorf("Chromium's DOM node count %d > %d (before %d + 2 × N × %d per row)", after.Nodes, limit, before.Nodes, after.NodesPerRow)
	}
	// JS heap: the page keeps N events. Each holds its line (at most 2 bytes
	// a character) and a lower-cased copy for the filter, plus a budget of
	// 4 KB for the event object and the row's element wrappers. Keeping all
	// n events instead would need at least n*lineBytes = 20 MB.
	perEvent := 2*2*lineBytes + 4096
	if limit := before.JSHeapUsed + float64(max*perEvent); after.JSHeapUsed > limit {
		t.Errorf("JS heap %.2f MB > %.2f MB (before %.2f MB + N × %d B)", after.JSHeapUsed/mb, limit/mb, before.JSHeapUsed/mb, perEvent)
	}
	if float64(n*lineBytes) <= float64(max*perEvent) {
		t.Fatalf("test cannot tell a bounded heap from an unbounded one")
	}
	if mid.Rate <= 0 || mid.Rate > rate*2 {
		t.Errorf("page showed %v events/s mid-flood, sent %d/s", mid.Rate, rate)
	}
	if len(after.External) > 0 || len(after.Errors) > 0 {
		t.Errorf("external requests %v, page errors %v", after.External, after.Errors)
	}
}

// /?ns=/chat&room=r1 joins namespace /chat and room r1: the page shows
// events emitted to that room, not those of another room or namespace,
// and its form emits into that room.
func TestViewerNamespaceRoom(t *testing.T) {
	srv := serve(t, "-q")
	b := newBrowser(t)
	b.do(map[string]any{"cmd": "open", "url": srv.URL + "/?ns=/chat&room=r1"})
	if s := b.eval(`document.getElementById('conn-text').textContent`); s != "connected: /chat room r1" {
		t.Fatalf("connection indicator says %q", s)
	}
	pub := func(url, room, line string) {
		t.Helper()
		args := []string{"--url", url, "-e", "say"}
		if room != "" {
			args = append(args, "--room", room)
		}
		if code, _, stderr := runCmd(t, []byte(line+"\n"), 30*time.Second, "sio-pub", args...); code != 0 {
			t.Fatalf("sio-pub %v exit %d: %s", args, code, stderr)
		}
	}
	pub(srv.URL+"/chat", "r2", "for room r2")
	pub(srv.URL, "", "for namespace /")
	pub(srv.URL+"/chat", "", "for all of /chat")
	pub(srv.URL+"/chat", "r1", "for room r1")
	b.waitText("for room r1")
	b.waitText("for all of /chat")
	if s := b.eval(`document.getElementById('events').textContent`).(string); strings.Contains(s, "for room r2") || strings.Contains(s, "for namespace /") {
		t.Fatalf("the page shows events of another room or namespace:\n%s", s)
	}
	sub := start(t, procOpts{}, "sio-sub", "--url", srv.URL+"/chat", "--room", "r1", "-e", "from_page", "-C", "1", "-W", "30s")
	srv.waitClients(t, 2)
	b.do(map[string]any{"cmd": "emit", "name": "from_page", "data": "hello r1", "as": "text"})
	if c := sub.wait(30 * time.Second); c != 0 {
		t.Fatalf("sio-sub exit %d: %s", c, sub.stderr.String())
	}
	if got := sub.stdout.String(); got != "hello r1\n" {
		t.Fatalf("sio-sub printed %q", got)
	}

	// Pause: events are counted, not shown, until Resume.
	received := int(b.eval(`Number(document.getElementById('n-total').textContent)`).(float64))
	b.do(map[string]any{"cmd": "click", "selector": "#pause"})
	pub(srv.URL+"/chat", "r1", "while paused")
	b.do(map[string]any{"cmd": "waitTotal", "total": received + 1})
	if s := b.eval(`document.getElementById('events').textContent`).(string); strings.Contains(s, "while paused") {
		t.Fatal("a paused page shows a new event")
	}
	if s := b.eval(`document.getElementById('n-paused').textContent`); s != "paused, 1 new" {
		t.Fatalf("paused badge %q", s)
	}
	b.do(map[string]any{"cmd": "click", "selector": "#pause"})
	b.waitText("while paused")
	// Newest last puts it at the bottom; Clear empties the list.
	b.eval(`(() => { const o = document.getElementById('order'); o.value = 'last'; o.dispatchEvent(new Event('change')); return true })()`)
	if s := b.eval(`document.querySelector('#events > li:last-child').textContent`).(string); !strings.Contains(s, "while paused") {
		t.Fatalf("newest last: the last row is %q", s)
	}
	b.do(map[string]any{"cmd": "click", "selector": "#clear"})
	if n := b.eval(`new Promise(r => requestAnimationFrame(() => r(document.querySelectorAll('#events > li').length)))`); n != float64(0) {
		t.Fatalf("after Clear: %v rows", n)
	}
}

// A server with --token: the page asks for the token, connects with it and
// shows what sio-pub (with the token) publishes.
func TestViewerAsksForToken(t *testing.T) {
	srv := serve(t, "-q", "--token", "s3cret")
	b := newBrowser(t)
	b.do(map[string]any{"cmd": "open", "url": srv.URL + "/", "prompt": "s3cret"})
	srv.waitClients(t, 1)
	if c, _, errOut := runCmd(t, []byte("with the token\n"), 20*time.Second, "sio-pub", "--url", srv.URL, "--token", "s3cret"); c != 0 {
		t.Fatalf("sio-pub: exit %d: %s", c, errOut)
	}
	b.waitText("with the token")
	if p, _ := b.do(map[string]any{"cmd": "prompts"})["prompts"].([]any); len(p) != 1 {
		t.Errorf("the page asked %d times: %v", len(p), p)
	}
}

// With sio-serve --parser msgpack the page loads the client with the
// msgpack parser: it shows what sio-pub --parser msgpack publishes,
// binary included, and what it emits reaches sio-sub.
func TestViewerMsgpack(t *testing.T) {
	srv := serve(t, "-q", "--parser", "msgpack")
	b := newBrowser(t)
	b.do(map[string]any{"cmd": "open", "url": srv.URL + "/"})
	if s := b.eval(`document.getElementById('conn-text').textContent`); s != "connected: /" {
		t.Fatalf("connection indicator says %q", s)
	}
	in := `{"event":"say","args":["over msgpack",{"$binary":"AQID"}]}` + "\n"
	if code, _, stderr := runCmd(t, []byte(in), 30*time.Second, "sio-pub", "--url", srv.URL, "--parser", "msgpack", "-f", "envelope"); code != 0 {
		t.Fatalf("sio-pub exit %d: %s", code, stderr)
	}
	b.waitText("over msgpack")
	sub := start(t, procOpts{}, "sio-sub", "--url", srv.URL, "--parser", "msgpack", "-e", "from_page", "-C", "1", "-W", "30s")
	srv.waitClients(t, 2)
	b.do(map[string]any{"cmd": "emit", "name": "from_page", "data": "hello msgpack", "as": "text"})
	if c := sub.wait(30 * time.Second); c != 0 {
		t.Fatalf("sio-sub exit %d: %s", c, sub.stderr.String())
	}
	if got := sub.stdout.String(); got != "hello msgpack\n" {
		t.Fatalf("sio-sub printed %q", got)
	}
}
