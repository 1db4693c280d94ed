package e2e

// Interoperability with the official peers: Node socket.io 4 and
// python-socketio 5, through the programs in scripts/peers.

import (
	"bytes"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// interopLimit bounds every wait in these tests.
const interopLimit = 60 * time.Second

// interopLines is the payload every pairing carries: seq 1 500, lines that
// are hard to carry unchanged, and a line of 500,000 characters (under the
// 1 MB event limit of all three servers).
func interopLines() []string {
	l := strings.Split(strings.TrimSuffix(string(seq(500)), "\n"), "\n")
	l = append(l,
		"Ünïcödé: Здравствуй, мир · Γειά σου κόσμε · مرحبا بالعالم · שלום עולם",
		"你好，世界 · こんにちは世界 · 안녕하세요 · नमस्ते दुनिया · สวัสดีชาวโลก",
		"emoji 😀 👍🏽 👨‍👩‍👧‍👦 🇫🇷 ❤️ 🏳️‍🌈",
		`"double quotes" and 'single quotes' and `+"`backticks`",
		`back\slash \\ double \n not a newline \u00e9 \"`,
		"tab\there\t\tand a trailing tab\t",
		"   leading and trailing spaces   ",
		" ",
		"",
		`{"a":1}`,
		`[1,2]`,
		`42`,
		`-0.5e10`,
		`null`,
		`true`,
		`false`,
		`"a JSON string"`,
		`{"$binary":"AAEC"}`,
		"line\u2028separator\u2029paragraph\u0085next line", // JavaScript and Python line breaks
		"\ufeffbyte order mark, zero\u200bwidth, nul \x00 bel \x07 esc \x1b[31mred\x1b[0m del \x7f",
		"<script>alert('&amp;')</script>",
		"%s %d %% ${HOME} $(echo no) \\0",
	)
	// 500,000 characters, some of them two bytes in UTF-8.
	var long strings.Builder
	for long.Len() < 600000 {
		long.WriteString("abcdefghijklmnopqrstuvwxyzé0123456789-")
	}
	r := []rune(long.String())[:500000]
	return append(l, string(r))
}

// The implementations a pairing is made of. "sio" is ours.
var impls = []string{"sio", "node", "python"}

func implName(kind, role string) string {
	switch kind {
	case "sio":
		return map[string]string{"pub": "sio-pub", "relay": "sio-serve", "sub": "sio-sub"}[role]
	case "node":
		return role + ".js"
	}
	return role + ".py"
}

// startPeer runs scripts/peers/NAME with Node or Debian's python by its
// extension, like start does for the binaries.
func startPeer(t *testing.T, o procOpts, name string, args ...string) *proc {
	t.Helper()
	f := filepath.Join(repoRoot(), "scripts", "peers", name)
	if strings.HasSuffix(name, ".py") {
		return startPath(t, o, python, append([]string{f}, args...)...)
	}
	o.env = append(o.env, nodeEnv()...)
	return startPath(t, o, "node", append([]string{f}, args...)...)
}

func needPeersOf(t *testing.T, kinds ...string) {
	t.Helper()
	for _, k := range kinds {
		if k != "sio" {
			needPeer(t, k)
		}
	}
}

// anyRelay is sio-serve, relay.js or relay.py, running.
type anyRelay struct {
	name string
	URL  string
	srv  *server // sio-serve
	p    *proc   // a peer relay
}

var peerListening = regexp.MustCompile(`relay\.(?:js|py): listening on (http://[0-9.]+:\d+)\n`)

// startRelay starts a relay of that kind on a free port; extra namespaces
// are for relay.py, which serves only those it is told.
func startRelay(t *testing.T, kind string, namespaces ...string) *anyRelay {
	t.Helper()
	r := &anyRelay{name: implName(kind, "relay")}
	if kind == "sio" {
		r.srv = serve(t, "-q")
		r.URL = r.srv.URL
		return r
	}
	args := []string{"--port", "0", "-v"}
	if kind == "python" {
		for _, ns := range namespaces {
			args = append(args, "--namespace", ns)
		}
	}
	r.p = startPeer(t, procOpts{}, r.name, args...)
	r.URL = r.p.stderr.waitFor(t, peerListening, interopLimit)[1]
	return r
}

// waitClients waits until n clients are connected to namespace ns (sio-serve:
// n clients in all); when they are not within interopLimit it fails with
// the stderr of the clients it was waiting for.
func (r *anyRelay) waitClients(t *testing.T, n int, ns string, clients ...*proc) {
	t.Helper()
	deadline := time.Now().Add(interopLimit)
	for {
		var c int
		if r.srv != nil {
			c = r.srv.clients(t)
		} else {
			s := r.p.stderr.String()
			c = strings.Count(s, ": connect "+ns+"\n") - strings.Count(s, ": disconnect "+ns+"\n")
		}
		if c >= n {
			return
		}
		if time.Now().After(deadline) || (r.p != nil && r.p.exited()) {
			var b strings.Builder
			for _, p := range clients {
				fmt.Fprintf(&b, "\n%v stderr:\n%s", p.cmd.Args, p.stderr.String())
			}
			t.Fatalf("%s: %d clients on %s after %v, want %d%s", r.name, c, ns, interopLimit, n, b.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// startSub starts a subscriber of that kind that prints each event's
// argument as one line.
func startSub(t *testing.T, kind, url string, args ...string) *proc {
	t.Helper()
	if kind == "sio" {
		return start(t, procOpts{}, "sio-sub", append([]string{"--url", url}, args...)...)
	}
	return startPeer(t, procOpts{}, implName(kind, "sub"), append([]string{url}, args...)...)
}

// publish runs a publisher of that kind to completion on input; it must
// exit 0 (all delivered).
func publish(t *testing.T, kind, url string, input []byte, args ...string) {
	t.Helper()
	start := time.Now()
	if kind == "sio" {
		code, _, stderr := runCmd(t, input, interopLimit, "sio-pub", append([]string{"--url", url}, args...)...)
		if code != 0 {
			t.Fatalf("sio-pub exit %d: %s", code, stderr)
		}
	} else {
		p := startPeer(t, procOpts{stdin: bytes.NewReader(input)}, implName(kind, "pub"), append([]string{url}, args...)...)
		if code := p.wait(interopLimit); code != 0 {
			t.Fatalf("%s exit %d: %s", implName(kind, "pub"), code, p.stderr.String())
		}
	}
	t.Logf("%s published %d bytes in %v", implName(kind, "pub"), len(input), time.Since(start).Round(time.Millisecond))
}

// sameLines reports where got differs from want.
func sameLines(t *testing.T, who string, got, want []string) {
	t.Helper()
	short := func(s string) string {
		if len(s) > 80 {
			return fmt.Sprintf("%.80q... (%d bytes)", s, len(s))
		}
		return fmt.Sprintf("%q", s)
	}
	for i := range want {
		if i >= len(got) {
			t.Errorf("%s: %d lines, want %d; the first missing: %s", who, len(got), len(want), short(want[i]))
			return
		}
		if got[i] != want[i] {
			t.Errorf("%s: line %d is %s\n want %s", who, i+1, short(got[i]), short(want[i]))
			return
		}
	}
	if len(got) > len(want) {
		t.Errorf("%s: %d lines, want %d; the first extra: %s", who, len(got), len(want), short(got[len(want)]))
	}
}

// Every pairing of publisher, relay and subscriber with one of ours in it
// carries the same payload: exactly the lines sent, in order. The peers'
// own pairings (node and python throughout) are left out.
func TestInteropPairings(t *testing.T) {
	want := interopLines()
	input := []byte(strings.Join(want, "\n") + "\n")
	for _, pub := range impls {
		for _, rel := range impls {
			var subs []string
			for _, sub := range impls {
				if pub == "sio" || rel == "sio" || sub == "sio" {
					subs = append(subs, sub)
				}
			}
			name := implName(pub, "pub") + "_to_" + implName(rel, "relay")
			t.Run(name, func(t *testing.T) {
				needPeersOf(t, append([]string{pub, rel}, subs...)...)
				r := startRelay(t, rel)
				procs := make([]*proc, len(subs))
				for i, sub := range subs {
					procs[i] = startSub(t, sub, r.URL)
				}
				r.waitClients(t, len(subs), "/", procs...)
				publish(t, pub, r.URL, input)
				for i, sub := range subs {
					got := procs[i].stdout.waitLinesOr(len(want), interopLimit)
					sameLines(t, implName(sub, "sub"), got, want)
				}
				// Nothing more comes: a last line is the next one everywhere.
				publish(t, pub, r.URL, []byte("end\n"))
				for i, sub := range subs {
					got := procs[i].stdout.waitLinesOr(len(want)+1, interopLimit)
					if len(got) != len(want)+1 || got[len(want)] != "end" {
						t.Errorf("%s: after the end line: %d lines, want %d", implName(sub, "sub"), len(got), len(want)+1)
					}
				}
			})
		}
	}
}

// Through sio-serve (and, as the reference, relay.js), a Node client's emit
// with several arguments, nested objects and binary, and an ack callback,
// arrives at another Node client with the same arguments, binary as
// Buffers, and the sender's ack callback is called.
func TestNodeArgsBinaryAck(t *testing.T) {
	needPeer(t, "node")
	received := map[string]string{}
	for _, rel := range []string{"sio", "node"} {
		r := startRelay(t, rel)
		received[r.name] = checkArgs(t, r.name, r.URL)
	}
	// The one difference: sio-serve sorts object keys (docs/INTEROP.md).
	if received["sio-serve"] != received["relay.js"] {
		t.Logf("key order differs from the Node relay:\n sio-serve %s\n relay.js  %s", received["sio-serve"], received["relay.js"])
	}
}

// checkArgs runs args.js (its receiver on receiverURL, when given) and
// checks what arrived and the ack; it returns what arrived.
func checkArgs(t *testing.T, name, url string, receiverURL ...string) string {
	t.Helper()
	p := startPeer(t, procOpts{}, "args.js", append([]string{url}, receiverURL...)...)
	if code := p.wait(interopLimit); code != 0 {
		t.Fatalf("%s: args.js exit %d\nstdout:\n%s\nstderr:\n%s", name, code, p.stdout.String(), p.stderr.String())
	}
	lines := map[string]string{}
	for _, l := range p.stdout.Lines() {
		k, v, _ := strings.Cut(l, " ")
		lines[k] = v
	}
	if lines["equal"] != "true" {
		t.Errorf("%s: arguments differ: %s\nreceived %s", name, lines["equal"], lines["received"])
	}
	if lines["ack"] != "[]" {
		t.Errorf("%s: ack callback got %q, want []", name, lines["ack"])
	}
	if n := strings.Count(lines["received"], `{"$Buffer":`); n != 4 {
		t.Errorf("%s: %d Buffers arrived, want 4: %s", name, n, lines["received"])
	}
	return lines["received"]
}

// Namespaces: a Node client on /chat hears sio-pub --url .../chat and
// nothing published on /; a client on / hears only /.
func TestNodeNamespace(t *testing.T) {
	for _, rel := range impls {
		t.Run(implName(rel, "relay"), func(t *testing.T) {
			needPeersOf(t, "node", rel)
			r := startRelay(t, rel, "/chat")
			chat := startSub(t, "node", r.URL+"/chat")
			root := startSub(t, "node", r.URL)
			if r.srv != nil {
				r.waitClients(t, 2, "", chat, root)
			} else {
				r.waitClients(t, 1, "/chat", chat)
				r.waitClients(t, 1, "/", root)
			}
			publish(t, "sio", r.URL, []byte("root-1\n"))
			publish(t, "sio", r.URL+"/chat", []byte("chat-1\nchat-2\n"))
			publish(t, "sio", r.URL+"/", []byte("root-2\n"))
			publish(t, "sio", r.URL+"/chat", []byte("chat-end\n"))
			publish(t, "sio", r.URL, []byte("root-end\n"))
			sameLines(t, "sub.js on /chat", chat.stdout.waitLinesOr(3, interopLimit), []string{"chat-1", "chat-2", "chat-end"})
			sameLines(t, "sub.js on /", root.stdout.waitLinesOr(3, interopLimit), []string{"root-1", "root-2", "root-end"})
		})
	}
}

// sio-sub -f envelope --url A | sio-pub -f envelope --url B with a Node
// socket.io relay as A and sio-serve as B: events of several names and
// arguments cross, and sio-sub on B prints exactly what the one on A
// printed, in order.
func TestBridgeNodeRelayToSioServe(t *testing.T) {
	needPeer(t, "node")
	a, b := startRelay(t, "node"), serve(t, "-q")
	onA := start(t, procOpts{}, "sio-sub", "--url", a.URL, "-f", "envelope")
	onB := start(t, procOpts{}, "sio-sub", "--url", b.URL, "-f", "envelope")
	startBridge(t, a.URL, b.URL)
	a.waitClients(t, 2, "/", onA)
	(&anyRelay{name: "sio-serve", srv: b}).waitClients(t, 2, "", onB)

	// Keys in sorted order: sio-sub prints them so (docs/INTEROP.md).
	in := []string{
		`{"event":"one","data":"text with \"quotes\" and\nnewline, ü 😀"}`,
		`{"event":"two","args":[1,"b",{"k":[true,null]},{"$binary":"AAEC/w=="}]}`,
		`{"event":"three","args":[]}`,
		`{"event":"one","data":{"nested":{"bin":{"$binary":"aGk="},"list":[1.5,-2,"x"]}}}`,
		`{"event":"four","data":null}`,
		`{"event":"message","args":["a",["b"],{"c":"d"}]}`,
		`{"event":"five","data":"{\"a\":1}"}`,
	}
	publish(t, "sio", a.URL, []byte(strings.Join(in, "\n")+"\n"), "-f", "envelope")
	gotA := onA.stdout.waitLinesOr(len(in), interopLimit)
	gotB := onB.stdout.waitLinesOr(len(in), interopLimit)
	sameLines(t, "sio-sub on A (relay.js)", gotA, in)
	sameLines(t, "sio-sub on B (sio-serve)", gotB, gotA)
}
