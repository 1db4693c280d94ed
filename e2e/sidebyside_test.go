package e2e

import (
	"fmt"
	"math/rand/v2"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// TestHostileSideBySide is a measurement, not a check: the hostile inputs
// of docs/HOSTILE.md, sent to sio-serve and to the official Node server
// (scripts/peers/relay.js), each with three honest clients listening (an
// official Node client on websocket, one on long-polling, and sio-sub).
// It prints one markdown table: for each input and server, what the
// sender's connection got, and which listeners lost their connection.
// Run it with `make hostile` (SIO_SIDE_BY_SIDE=1); the docs' Node column
// comes from it. TestPoisonNeverReachesClients is the check for sio-serve.
func TestHostileSideBySide(t *testing.T) {
	if os.Getenv("SIO_SIDE_BY_SIDE") == "" {
		t.Skip("a measurement: set SIO_SIDE_BY_SIDE=1 (make hostile)")
	}
	needPeer(t, "node")
	ph := func(n int) string { return fmt.Sprintf(`{"_placeholder":true,"num":%d}`, n) }
	nest := func(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }
	type input struct {
		name  string
		text  string
		blobs int
	}
	inputs := []input{
		{"placeholder whose num is a placeholder", `451-["a",{"_placeholder":true,"num":` + ph(0) + `}]`, 1},
		{"one attachment, 11 placeholders", `451-["a"` + strings.Repeat(","+ph(0), 11) + `]`, 1},
		{"11 attachments", `4511-["a"` + func() string {
			var b strings.Builder
			for i := range 11 {
				b.WriteString("," + ph(i))
			}
			return b.String()
		}() + `]`, 11},
		{"placeholder as the event name", `451-[` + ph(0) + `]`, 1},
		{"an attachment never referenced", `452-["a",` + ph(0) + `]`, 2},
		{`placeholder num "__proto__" (CVE-2022-2421)`, `451-["a",{"_placeholder":true,"num":"__proto__"}]`, 1},
		{"`42`", `42`, 0},
		{"`42[null]`", `42[null]`, 0},
		{"event name an object (CVE-2023-32695)", `42[{"toString":"x"}]`, 0},
		{`event named "error" (CVE-2024-38355)`, `42["error","x"]`, 0},
		{"`1e999`", `42["a",1e999]`, 0},
		{"a 5,000-digit integer", `42["a",` + strings.Repeat("7", 5000) + `]`, 0},
		{"invalid UTF-8", "42[\"a\",\"\xff\"]", 0},
		{"5,000 levels of nesting", `42["a",` + nest(5000) + `]`, 0},
		{"100,000 levels of nesting", `42["a",` + nest(100000) + `]`, 0},
	}
	const fuzzName = "a seeded stream of 500 mutated packets over websocket"
	seed := uint64(time.Now().UnixNano())
	t.Logf("fuzz seed %d", seed)
	servers := []string{"sio", "node"}
	results := map[string]map[string]string{}
	for _, kind := range servers {
		results[kind] = map[string]string{}
		var r *anyRelay
		var canaries map[string]*proc
		startAll := func() {
			r = startRelay(t, kind)
			canaries = map[string]*proc{
				"Node ws":      startScript(t, procOpts{}, "node", canaryJS, r.URL, "websocket"),
				"Node polling": startScript(t, procOpts{}, "node", canaryJS, r.URL, "polling"),
			}
			for _, c := range canaries {
				c.stderr.waitFor(t, regexpMust(`(?m)^connected$`), 20*time.Second)
			}
			canaries["sio-sub"] = start(t, procOpts{}, "sio-sub", "--url", r.URL)
			time.Sleep(time.Second) // sio-sub joins
		}
		startAll()
		host := strings.TrimPrefix(r.URL, "http://")
		for _, in := range inputs {
			marks := map[string]int{}
			for name, c := range canaries {
				marks[name] = len(c.stderr.Lines())
			}
			ws := wsJoin(t, host)
			_ = ws.WriteMessage(websocket.TextMessage, []byte(in.text))
			for i := range in.blobs {
				_ = ws.WriteMessage(websocket.BinaryMessage, []byte{byte(i), 0xff})
			}
			verdict := answer(ws)
			ws.Close()
			time.Sleep(1500 * time.Millisecond) // the listeners read it, or fail and say so
			var lost []string
			for _, name := range []string{"Node ws", "Node polling", "sio-sub"} {
				c := canaries[name]
				said := c.stderr.Lines()[marks[name]:]
				if c.exited() || hasLost(name, said) {
					lost = append(lost, name+" ("+strings.Join(said, "; ")+")")
				}
			}
			res := "sender: " + verdict + "; "
			if len(lost) == 0 {
				res += "no listener lost its connection"
			} else {
				res += "lost their connection: " + strings.Join(lost, ", ")
			}
			if (r.p != nil && r.p.exited()) || (r.srv != nil && r.srv.exited()) {
				res += "; **the server process ended**"
				results[kind][in.name] = res
				startAll()
				host = strings.TrimPrefix(r.URL, "http://")
				continue
			}
			results[kind][in.name] = res
		}
		results[kind][fuzzName] = fuzzSideBySide(t, r, canaries, seed)
	}
	var b strings.Builder
	b.WriteString("\n| input | sio-serve | Node (socket.io 4, relay.js) |\n| --- | --- | --- |\n")
	for _, in := range append(inputs, input{name: fuzzName}) {
		fmt.Fprintf(&b, "| %s | %s | %s |\n", in.name, results["sio"][in.name], results["node"][in.name])
	}
	t.Log(b.String())
}

var sioSubLost = regexp.MustCompile(`connection|reconnect|missed|lost|parse`)

// hasLost tells whether a listener's new stderr lines say it lost its
// connection.
func hasLost(name string, said []string) bool {
	for _, l := range said {
		if name == "sio-sub" && sioSubLost.MatchString(l) {
			return true
		}
		if strings.HasPrefix(l, "disconnect") || strings.HasPrefix(l, "connect_error") {
			return true
		}
	}
	return false
}

// fuzzSideBySide sends 500 mutated packets (the same for every server,
// from seed) from clients that join again when closed, and says how many
// connections the server closed and how often the listeners lost theirs.
func fuzzSideBySide(t *testing.T, r *anyRelay, canaries map[string]*proc, seed uint64) string {
	rnd := rand.New(rand.NewPCG(seed, 1))
	host := strings.TrimPrefix(r.URL, "http://")
	marks := map[string]int{}
	for name, c := range canaries {
		marks[name] = len(c.stderr.Lines())
	}
	closed := 0
	var ws *websocket.Conn
	var dead chan struct{}
	for range 500 {
		if ws != nil {
			select {
			case <-dead:
				ws.Close()
				ws = nil
				closed++
			default:
			}
		}
		if ws == nil {
			if (r.p != nil && r.p.exited()) || (r.srv != nil && r.srv.exited()) {
				return "**the server process ended**"
			}
			ws, dead = wsJoinWatched(t, host)
		}
		msg := append([]byte("4"), mutate(rnd, fuzzBases[rnd.IntN(len(fuzzBases))])...)
		_ = ws.WriteMessage(websocket.TextMessage, msg)
		if len(msg) > 1 && (msg[1] == '5' || msg[1] == '6') {
			_ = ws.WriteMessage(websocket.BinaryMessage, []byte{1, 2})
		}
		select { // the server's verdict on it, before the next one
		case <-dead:
		case <-time.After(5 * time.Millisecond):
		}
	}
	if ws != nil {
		ws.Close()
	}
	time.Sleep(1500 * time.Millisecond)
	var lost []string
	for _, name := range []string{"Node ws", "Node polling", "sio-sub"} {
		n := 0
		for _, l := range canaries[name].stderr.Lines()[marks[name]:] {
			if hasLost(name, []string{l}) && !strings.Contains(l, "gap") {
				n++
			}
		}
		if n > 0 || canaries[name].exited() {
			lost = append(lost, fmt.Sprintf("%s %d times", name, n))
		}
	}
	res := fmt.Sprintf("the server closed %d senders; ", closed)
	if len(lost) == 0 {
		return res + "no listener lost its connection"
	}
	return res + "listeners lost their connection: " + strings.Join(lost, ", ")
}
