package relay_test

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/sio-tools/sio/pkg/relay"
)

// watch collects every message a raw client receives until it is closed.
type watch struct {
	mu   sync.Mutex
	msgs []message
	done chan struct{}
}

type message struct {
	binary bool
	data   []byte
}

func watchAll(ws *websocket.Conn) *watch {
	w := &watch{done: make(chan struct{})}
	go func() {
		defer close(w.done)
		for {
			typ, m, err := ws.ReadMessage()
			if err != nil {
				return
			}
			w.mu.Lock()
			w.msgs = append(w.msgs, message{typ == websocket.BinaryMessage, m})
			w.mu.Unlock()
		}
	}()
	return w
}

// A packet the official parsers would refuse is never relayed: the
// connection that sends it is closed at once (not held), it is counted by
// reason, and the clients listening are never disconnected. The library
// decoded most of these and encoded them again as something every
// receiver refuses.
func TestRelayClosesWhoSendsPoison(t *testing.T) {
	r, base := server(t)
	honest := dial(t, base, "/")
	watcher := rawJoin(t, base)
	seen := watchAll(watcher)
	waitClients(t, r, 2)

	ph := func(n int) string { return `{"_placeholder":true,"num":` + string(rune('0'+n)) + `}` }
	for _, c := range []struct {
		name   string
		text   string
		blobs  int
		reason string
	}{
		{"placeholder in a placeholder", `451-["a",{"_placeholder":true,"num":` + ph(0) + `}]`, 1, "placeholder"},
		{"one attachment referenced 11 times", `451-["a"` + strings.Repeat(","+ph(0), 11) + `]`, 1, "placeholder"},
		{"11 attachments", `4511-["a"]`, 0, "attachments"},
		{"an attachment never referenced", `452-["a",` + ph(0) + `]`, 2, "placeholder"},
		{"a placeholder out of range", `451-["a",` + ph(3) + `]`, 1, "placeholder"},
		{"a placeholder as the name", `451-[` + ph(0) + `]`, 1, "payload"},
		{"an attachment with no packet", "", 1, "unexpected_binary"},
		{"a text before the attachment", `451-["a",` + ph(0) + `]`, -1, "missing_attachment"},
		{"an event without arguments", `42`, 0, "payload"},
		{"an event of null", `42[null]`, 0, "payload"},
		{"an event that is an object", `42{}`, 0, "payload"},
		{"broken JSON", `42["a",]`, 0, "payload"},
		{"invalid UTF-8", "42[\"\xff\xfe\"]", 0, "payload"},
		{"a CONNECT_ERROR", `44{"message":"x"}`, 0, "type"},
		{"an unknown type", `49`, 0, "type"},
		{"an ack id too long", `421234567890123456789["a"]`, 0, "ack_id"},
		{"a number beyond float64", `42["a",1e999]`, 0, "number"},
		{"a 5,000-digit number", `42["a",` + strings.Repeat("9", 5000) + `]`, 0, "number"},
		{"a number beyond float64 with an ack", `4212["a",-1e400]`, 0, "number"},
	} {
		t.Run(c.name, func(t *testing.T) {
			ws := rawJoin(t, base)
			if c.text != "" {
				if err := ws.WriteMessage(websocket.TextMessage, []byte(c.text)); err != nil {
					t.Fatal(err)
				}
			}
			if c.blobs < 0 {
				_ = ws.WriteMessage(websocket.TextMessage, []byte(`42["b"]`))
			}
			for i := 0; i < c.blobs; i++ {
				_ = ws.WriteMessage(websocket.BinaryMessage, []byte{byte(i)})
			}
			_ = ws.SetReadDeadline(time.Now().Add(10 * time.Second))
			for {
				_, m, err := ws.ReadMessage()
				if err == nil {
					if string(m) == "2" { // a ping
						continue
					}
					t.Fatalf("the sender got %q, want its connection closed", m)
				}
				if ne, ok := err.(interface{ Timeout() bool }); ok && ne.Timeout() {
					t.Fatal("the sender's connection is still open")
				}
				break
			}
			wantMetric(t, r, `sio_invalid_packets_total{reason="`+c.reason+`"}`)
		})
	}

	// Valid numbers at the edges are relayed as sent.
	sender := rawJoin(t, base)
	valid := []string{`42["n",1e308]`, `42["n",12345678901234567890123]`, `42["n",-0.0e-7]`}
	for _, m := range valid {
		if err := sender.WriteMessage(websocket.TextMessage, []byte(m)); err != nil {
			t.Fatal(err)
		}
	}
	got := honest.wait(t, len(valid))
	if len(got) != len(valid) {
		t.Fatalf("the honest client got %d events, want %d", len(got), len(valid))
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		seen.mu.Lock()
		n := len(seen.msgs)
		seen.mu.Unlock()
		if n >= len(valid) || time.Now().After(deadline) {
			break
		}
	}
	for {
		select {
		case s := <-honest.states:
			if !s.Connected {
				t.Fatalf("the honest client was disconnected: %s", s.Reason)
			}
			continue
		default:
		}
		break
	}
	seen.mu.Lock()
	defer seen.mu.Unlock()
	var texts []string
	for _, m := range seen.msgs {
		if m.binary {
			t.Errorf("the watcher got a binary message %q", m.data)
			continue
		}
		if string(m.data) != "2" {
			texts = append(texts, string(m.data))
		}
	}
	if strings.Join(texts, "\n") != strings.Join(valid, "\n") {
		t.Fatalf("the watcher got\n%.200q\nwant the valid events only, as sent", texts)
	}
}

// wantMetric fails unless r's metrics have the line want.
func wantMetric(t *testing.T, r *relay.Relay, want string) {
	t.Helper()
	var b bytes.Buffer
	r.WriteMetrics(&b)
	if !strings.Contains(b.String(), want) {
		t.Fatalf("metrics lack %s:\n%s", want, grepLines(b.String(), "sio_"))
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// A connection that joins no namespace goes soon after the connect
// timeout, long-polling ones too: the library closed those politely,
// waiting up to 30 s for a poll to carry the close, and bare handshakes
// from one client held every --max-conns slot meanwhile.
func TestRelayDropsBareHandshakes(t *testing.T) {
	r, base := serverWith(t, relay.Options{ConnectTimeout: 500 * time.Millisecond})
	const n = 100
	for range n {
		if sid := between(httpGet(t, base+"/socket.io/?EIO=4&transport=polling"), `"sid":"`, `"`); sid == "" {
			t.Fatal("no polling handshake")
		}
	}
	ws := rawDial(t, websocket.DefaultDialer, base)
	defer ws.Close()
	if got := r.EngineClients(); got < n {
		t.Fatalf("%d connections open, want %d", got, n+1)
	}
	// The library's own way takes 30 s; 15 s tells them apart.
	for deadline := time.Now().Add(15 * time.Second); r.EngineClients() > 0; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d bare connections still open", r.EngineClients())
		}
	}
}

// A packet for a namespace the client never asked to join closes its
// connection at once: it was held for the join that never came (5 s),
// and the rest of its request read meanwhile.
func TestRelayClosesAtOnceOnAPacketWithoutJoin(t *testing.T) {
	_, base := server(t)
	for _, m := range []string{`42["a"]`, `42/chat,["a"]`, `41`} {
		ws := rawDial(t, websocket.DefaultDialer, base)
		if err := ws.WriteMessage(websocket.TextMessage, []byte(m)); err != nil {
			t.Fatal(err)
		}
		// The hold was 5 s; 3 s tells them apart.
		_ = ws.SetReadDeadline(time.Now().Add(3 * time.Second))
		for {
			_, got, err := ws.ReadMessage()
			if err == nil {
				t.Logf("got %q", got)
				continue
			}
			if ne, ok := err.(interface{ Timeout() bool }); ok && ne.Timeout() {
				t.Fatalf("%s: the connection is still open", m)
			}
			break
		}
		ws.Close()
	}
}

// One address cannot take every slot: past its handshakes in flight or
// its connections, a new connection from it gets 503, while another
// address (here: one exempt) connects at once; and the count goes back
// down as its connections close.
func TestRelayLimitsPerAddress(t *testing.T) {
	r, base := serverWith(t, relay.Options{MaxConnsPerIP: 20, MaxHandshakesPerIP: 5,
		Exempt: func(ip net.IP) bool { return ip.Equal(net.ParseIP("127.0.0.3")) }})
	handshake := func(url string) int {
		resp, err := bounded.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	poll := base + "/socket.io/?EIO=4&transport=polling"
	for i := range 5 {
		if code := handshake(poll); code != 200 {
			t.Fatalf("bare handshake %d: %d", i+1, code)
		}
	}
	if code := handshake(poll); code != 503 {
		t.Fatalf("a 6th bare handshake from one address: %d, want 503", code)
	}
	// Another address is not held back, nor an exempt one.
	from := func(local string) *http.Client {
		d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}}
		return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DialContext: d.DialContext}}
	}
	for _, local := range []string{"127.0.0.2", "127.0.0.3", "127.0.0.3", "127.0.0.3", "127.0.0.3", "127.0.0.3", "127.0.0.3"} {
		resp, err := from(local).Get(poll)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("a handshake from %s: %d, want 200", local, resp.StatusCode)
		}
	}
	// Joined connections no longer count as handshakes, but as
	// connections.
	r2, base2 := serverWith(t, relay.Options{MaxConnsPerIP: 3, MaxHandshakesPerIP: 2})
	var held []*websocket.Conn
	for range 3 {
		held = append(held, rawJoin(t, base2))
	}
	waitClients(t, r2, 3)
	if code := handshake(base2 + "/socket.io/?EIO=4&transport=polling"); code != 503 {
		t.Fatalf("a 4th connection from one address: %d, want 503", code)
	}
	held[0].Close()
	for deadline := time.Now().Add(10 * time.Second); r2.EngineClients() > 2; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the closed connection is still counted")
		}
	}
	if code := handshake(base2 + "/socket.io/?EIO=4&transport=polling"); code != 200 {
		t.Fatalf("a connection after one closed: %d, want 200", code)
	}
	wantMetric(t, r, `sio_refused_total{reason="handshakes_per_ip"} 1`)
}

// A client that asks for more rooms than MaxRooms is refused at connect,
// and says so; one at the limit joins them all.
func TestRelayRefusesTooManyRooms(t *testing.T) {
	r, base := serverWith(t, relay.Options{MaxRooms: 3})
	ws := rawDial(t, websocket.DefaultDialer, base)
	defer ws.Close()
	connect := func(rooms string) string {
		if err := ws.WriteMessage(websocket.TextMessage, []byte(`40{"room":"`+rooms+`"}`)); err != nil {
			t.Fatal(err)
		}
		_ = ws.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, m, err := ws.ReadMessage()
		if err != nil {
			t.Fatal(err)
		}
		return string(m)
	}
	if got := connect("a,b,c,d"); !strings.HasPrefix(got, `44{`) || !strings.Contains(got, `"message":"too many rooms"`) {
		t.Fatalf("4 rooms: %q, want a refusal", got)
	}
	if got := connect("a,b,c"); !strings.HasPrefix(got, `40{`) {
		t.Fatalf("3 rooms: %q, want joined", got)
	}
	wantMetric(t, r, `sio_refused_total{reason="rooms"} 1`)
}

// Over long-polling too, a malformed packet closes its sender's session
// and reaches nobody.
func TestRelayClosesPoisonOverPolling(t *testing.T) {
	r, base := server(t)
	listener := rawJoin(t, base)
	seen := watchAll(listener)
	poll := pollJoin(t, base)
	if got := httpGet(t, poll); !strings.HasPrefix(got, "40{") {
		t.Fatalf("polling connect answer %q", got)
	}
	waitClients(t, r, 2)
	// A GET waits, as a client's almost always does: the close packet
	// goes there (with none waiting the library keeps the closed
	// transport 30 s for the next GET, a goroutine that outlived the
	// package's tests once they got faster).
	got := make(chan string, 1)
	go func() {
		resp, err := bounded.Get(poll)
		if err != nil {
			got <- err.Error()
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		got <- string(b)
	}()
	time.Sleep(50 * time.Millisecond)
	// A binary event over polling: the packet, then its attachment as
	// base64 ("b" + base64), one payload.
	post(t, poll, `451-["a",{"_placeholder":true,"num":{"_placeholder":true,"num":0}}]`+"\x1e"+"bAQI=")
	for deadline := time.Now().Add(10 * time.Second); r.EngineClients() > 1; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the polling session that sent a malformed packet is still open")
		}
	}
	wantMetric(t, r, `sio_invalid_packets_total{reason="placeholder"} 1`)
	t.Logf("the waiting GET got %q", <-got)
	time.Sleep(100 * time.Millisecond)
	seen.mu.Lock()
	defer seen.mu.Unlock()
	for _, m := range seen.msgs {
		if string(m.data) != "2" {
			t.Fatalf("the listener got %q", m.data)
		}
	}
}
