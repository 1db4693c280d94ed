package e2e

import (
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// canary.js: an official Node client that prints each event's name and
// its first argument if it is a string (its type if not), and says on stderr when it connects and when it is
// disconnected (and why).
const canaryJS = `
const { io } = require("socket.io-client");
const socket = io(process.argv[2], { transports: process.argv[3] === "polling" ? ["polling"] : ["websocket"] });
socket.on("connect", () => process.stderr.write("connected\n"));
socket.on("disconnect", (r) => process.stderr.write("disconnect: " + r + "\n"));
socket.on("connect_error", (e) => process.stderr.write("connect_error: " + e.message + "\n"));
socket.onAny((ev, ...args) => process.stdout.write(ev + " " + (typeof args[0] === "string" ? args[0] : typeof args[0]) + "\n"));
`

// Packets built to break the clients listening (the shapes the library
// used to relay, and a seeded stream of mutated packets) never disconnect
// an honest client: official Node clients on websocket and on
// long-polling, and sio-sub. Each keeps its one connection and gets the
// line published afterwards.
func TestPoisonNeverReachesClients(t *testing.T) {
	needPeer(t, "node")
	srv := serve(t)
	defer func() {
		if t.Failed() {
			t.Logf("sio-serve stderr:\n%.4000s", srv.stderr.String())
		}
	}()
	host := strings.TrimPrefix(srv.URL, "http://")
	wsCanary := startScript(t, procOpts{}, "node", canaryJS, srv.URL, "websocket")
	pollCanary := startScript(t, procOpts{}, "node", canaryJS, srv.URL, "polling")
	sub := start(t, procOpts{}, "sio-sub", "-e", "last", "--url", srv.URL)
	for _, c := range []*proc{wsCanary, pollCanary} {
		c.stderr.waitFor(t, regexpMust(`(?m)^connected$`), 20*time.Second)
	}
	srv.waitClients(t, 3)

	ph := func(n int) string { return fmt.Sprintf(`{"_placeholder":true,"num":%d}`, n) }
	shapes := []struct {
		text  string
		blobs int
	}{
		{`451-["a",{"_placeholder":true,"num":` + ph(0) + `}]`, 1},
		{`451-["a"` + strings.Repeat(","+ph(0), 11) + `]`, 1},
		{`4511-["a"` + func() string {
			var b strings.Builder
			for i := range 11 {
				b.WriteString("," + ph(i))
			}
			return b.String()
		}() + `]`, 11},
		{`451-[` + ph(0) + `]`, 1},
		{`452-["a",` + ph(0) + `]`, 2},
		{`42["a",1e999]`, 0},
		{`42["a",` + strings.Repeat("7", 5000) + `]`, 0},
		{`42["a",` + strings.Repeat("[", 5000) + strings.Repeat("]", 5000) + `]`, 0},
		{"42[\"a\",\"\xff\"]", 0},
	}
	for _, s := range shapes {
		ws := wsJoin(t, host)
		_ = ws.WriteMessage(websocket.TextMessage, []byte(s.text))
		for i := range s.blobs {
			_ = ws.WriteMessage(websocket.BinaryMessage, []byte{byte(i), 0xff})
		}
		t.Logf("%.60q + %d attachments: %s", s.text, s.blobs, answer(ws))
		ws.Close()
	}

	// A seeded stream of mutated packets, text and binary.
	seed := uint64(time.Now().UnixNano())
	t.Logf("fuzz seed %d", seed)
	rnd := rand.New(rand.NewPCG(seed, 1))
	var ws *websocket.Conn
	dead := make(chan struct{})
	closed, sent := 0, 0
	for range 1500 {
		select {
		case <-dead:
			ws = nil
			closed++
		default:
		}
		if ws == nil {
			ws, dead = wsJoinWatched(t, host)
		}
		msg := mutate(rnd, fuzzBases[rnd.IntN(len(fuzzBases))])
		switch {
		case rnd.IntN(10) == 0: // as a binary frame
			_ = ws.WriteMessage(websocket.BinaryMessage, msg)
		case rnd.IntN(10) == 0: // as an Engine.IO packet of its own
			_ = ws.WriteMessage(websocket.TextMessage, msg)
		default:
			_ = ws.WriteMessage(websocket.TextMessage, append([]byte("4"), msg...))
			if len(msg) > 0 && (msg[0] == '5' || msg[0] == '6') {
				for range rnd.IntN(3) {
					_ = ws.WriteMessage(websocket.BinaryMessage, []byte{1, 2})
				}
			}
		}
		sent++
		// The server's verdict on it, before the next one.
		select {
		case <-dead:
		case <-time.After(3 * time.Millisecond):
		}
	}
	if ws != nil {
		ws.Close()
	}
	t.Logf("fuzz: %d packets sent, the server closed %d connections", sent, closed)

	// The same over long-polling: payloads of one to three mutated
	// packets, posted to a session joined to "/".
	pollURL := ""
	posted, ended := 0, 0
	client := &http.Client{Timeout: 10 * time.Second}
	for range 300 {
		if pollURL == "" {
			pollURL = pollJoinE2E(t, client, srv.URL)
		}
		var payload []string
		for range 1 + rnd.IntN(3) {
			payload = append(payload, "4"+string(mutate(rnd, fuzzBases[rnd.IntN(len(fuzzBases))])))
		}
		resp, err := client.Post(pollURL, "text/plain;charset=UTF-8", strings.NewReader(strings.Join(payload, "\x1e")))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		posted++
		if resp.StatusCode != 200 {
			pollURL = ""
			ended++
		}
	}
	t.Logf("fuzz over polling: %d payloads posted, %d refused", posted, ended)

	if c, _, errOut := runCmd(t, []byte("still here\n"), 20*time.Second, "sio-pub", "-e", "last", "--url", srv.URL); c != 0 {
		t.Fatalf("sio-pub after the inputs: exit %d: %s", c, errOut)
	}
	for name, c := range map[string]*proc{"node websocket": wsCanary, "node polling": pollCanary} {
		if c.exited() {
			t.Errorf("the %s client ended: %s\n%.2000s", name, c.stderr.String(), c.stdout.String())
			continue
		}
		c.stdout.waitFor(t, regexpMust(`(?m)^last still here$`), 20*time.Second)
		errs := c.stderr.Lines()
		if len(errs) != 1 || errs[0] != "connected" {
			t.Errorf("the %s client said %q, want only that it connected once", name, errs)
		}
	}
	sub.stdout.waitFor(t, regexpMust(`(?m)^still here$`), 20*time.Second)
	if e := sub.stderr.Lines(); len(e) != 1 || !strings.HasPrefix(e[0], "sio-sub: subscribed to ") {
		t.Errorf("sio-sub said %q, want only that it subscribed (its connection was never replaced)", e)
	}
}

// A server under the load of normal use keeps a flat live heap: a
// publisher sending steadily (its confirmation requests included), a
// subscriber, and clients refused for a bad token again and again (50
// a second). The library kept about 9.7 KB of every refused CONNECT and
// every connection: about 15 MB over the 30 s measured here.
func TestNoLeakInNormalUse(t *testing.T) {
	// A collection every few MB, so that the live heap it reports is
	// recent.
	srv := serveEnv(t, []string{"GOGC=25"}, "--recover", "0", "--token", "good")
	sub := start(t, procOpts{}, "sio-sub", "--token", "good", "--url", srv.URL)
	pub := start(t, procOpts{}, "sio-pub", "--token", "good", "--url", srv.URL)
	srv.waitClients(t, 2)
	live := func() float64 { return srv.metric(t, "go_gc_heap_live_bytes") }
	host := strings.TrimPrefix(srv.URL, "http://")
	line := 0
	send := func(d time.Duration) {
		for end := time.Now().Add(d); time.Now().Before(end); {
			for range 20 {
				line++
				fmt.Fprintf(pub.stdin, "line %d\n", line)
			}
			// Clients refused for their token: 5 raw ones each tick,
			// and a sio-sub each second.
			for range 5 {
				refusedConnect(t, host)
			}
			if line%200 == 0 {
				if c, _, _ := runCmd(t, nil, 20*time.Second, "sio-sub", "--token", "bad", "--no-reconnect", "--url", srv.URL); c == 0 {
					t.Fatal("sio-sub with a bad token: exit 0")
				}
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	send(10 * time.Second)
	before := live()
	send(30 * time.Second)
	after := live()
	pub.stdin.Close()
	if c := pub.wait(30 * time.Second); c != 0 {
		t.Fatalf("sio-pub: exit %d: %s", c, pub.stderr.String())
	}
	sub.stdout.waitLines(t, line, 30*time.Second)
	t.Logf("%d lines; live heap %.1f MB after 10 s, %.1f MB after 40 s", line, before/1e6, after/1e6)
	if after-before > 4e6 {
		t.Fatalf("the live heap grew %.1f MB in 30 s of normal use", (after-before)/1e6)
	}
}

// refusedConnect opens a websocket connection, asks to join with a bad
// token, reads the refusal and closes.
func refusedConnect(t *testing.T, host string) {
	t.Helper()
	ws, _, err := websocket.DefaultDialer.Dial("ws://"+host+"/socket.io/?EIO=4&transport=websocket", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	_ = ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, m, err := ws.ReadMessage(); err != nil || !strings.HasPrefix(string(m), "0{") {
		t.Fatalf("engine open: %q %v", m, err)
	}
	if err := ws.WriteMessage(websocket.TextMessage, []byte(`40{"token":"bad"}`)); err != nil {
		t.Fatal(err)
	}
	for {
		_, m, err := ws.ReadMessage()
		if err != nil {
			t.Fatalf("no refusal: %v", err)
		}
		if strings.HasPrefix(string(m), "44") {
			return
		}
	}
}

// pollJoinE2E opens a long-polling session, joins "/" and returns the
// session's URL.
func pollJoinE2E(t *testing.T, client *http.Client, base string) string {
	t.Helper()
	u := base + "/socket.io/?EIO=4&transport=polling"
	resp, err := client.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	_, after, ok := strings.Cut(string(b), `"sid":"`)
	sid, _, _ := strings.Cut(after, `"`)
	if !ok || sid == "" {
		t.Fatalf("polling handshake %q", b)
	}
	u += "&sid=" + sid
	resp, err = client.Post(u, "text/plain;charset=UTF-8", strings.NewReader("40"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return u
}

// fuzzBases are the Socket.IO packets (without the Engine.IO "4") the
// fuzz streams mutate.
var fuzzBases = []string{`2["a","b",{"c":[1,2.5,null,true]}]`, `2/x,["a"]`, `212["a",1]`, `312["a"]`,
	`51-["a",` + placeholder(0) + `]`, `52-["a",[` + placeholder(1) + `,` + placeholder(0) + `]]`, `0`, `0/x,`, `1`}

func placeholder(n int) string { return fmt.Sprintf(`{"_placeholder":true,"num":%d}`, n) }

// mutate changes one to three bytes or pieces of s.
func mutate(rnd *rand.Rand, s string) []byte {
	b := []byte(s)
	for range 1 + rnd.IntN(3) {
		i := rnd.IntN(len(b) + 1)
		switch rnd.IntN(4) {
		case 0: // replace
			if i < len(b) {
				b[i] = "[]{}\",:-0123456789_/\\ \x00\xff"[rnd.IntN(24)]
			}
		case 1: // insert
			b = append(b[:i], append([]byte{`"[]{},:-019`[rnd.IntN(11)]}, b[i:]...)...)
		case 2: // delete
			if i < len(b) {
				b = append(b[:i], b[i+1:]...)
			}
		case 3: // duplicate a piece
			j := min(len(b), i+rnd.IntN(8))
			b = append(b[:j], append(append([]byte(nil), b[i:j]...), b[j:]...)...)
		}
	}
	return b
}

// wsJoinWatched is wsJoin with a reader that drops what the server sends
// and closes dead when the server closed the connection.
func wsJoinWatched(t *testing.T, host string) (*websocket.Conn, chan struct{}) {
	t.Helper()
	ws := wsJoin(t, host)
	dead := make(chan struct{})
	go func() {
		defer close(dead)
		for {
			if _, _, err := ws.ReadMessage(); err != nil {
				return
			}
		}
	}()
	return ws, dead
}
