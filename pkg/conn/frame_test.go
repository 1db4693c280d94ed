package conn

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// SendAll writes its events' frames itself, masked, several with one
// write: gorilla's server side reads each as the message it is, at every
// length encoding (7 bits, 16 bits, 64 bits), with acks numbered in order.
func TestSendAllFrames(t *testing.T) {
	s := newFakeServer(t)
	go func() {
		fc := <-s.conns
		<-fc.msgs
		_ = fc.ws.WriteMessage(websocket.TextMessage, []byte(`40{"sid":"x"}`))
		s.conns <- fc
	}()
	c, err := Dial(context.Background(), Options{URL: s.url("/")})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fc := s.accept()
	var bodies [][]byte
	for _, n := range []int{0, 1, 7, 8, 9, 118, 119, 120, 121, 122, 65526, 65527, 65528, 70000} {
		bodies = append(bodies, []byte(`["e","`+strings.Repeat("x", n)+`"]`))
	}
	done := make([]func([]any, error), len(bodies))
	for i := range done {
		if i%2 == 1 {
			done[i] = func([]any, error) {}
		}
	}
	n, err := c.SendAll(bodies, done)
	if err != nil || n != len(bodies) {
		t.Fatalf("SendAll: %d, %v", n, err)
	}
	// The caller's bodies are not masked in place (a resend sends them
	// again).
	if string(bodies[0]) != `["e",""]` {
		t.Fatalf("body changed to %q", bodies[0])
	}
	id := 0
	for i, b := range bodies {
		want := "42" + string(b)
		if done[i] != nil {
			want = "42" + string(rune('0'+id)) + string(b)
			id++
		}
		if m := fc.next(t); m != want {
			t.Fatalf("message %d: %.40q... (%d bytes), want %.40q... (%d bytes)", i, m, len(m), want, len(want))
		}
	}
}

func TestWholeFrames(t *testing.T) {
	msgs := []out{{body: make([]byte, 10)}, {body: make([]byte, 200)}, {body: make([]byte, 70000)}}
	sizes := []int{16, 4 + 4 + 200, 10 + 4 + 70000}
	for _, c := range []struct{ written, want int }{
		{0, 0}, {15, 0}, {16, 1}, {16 + sizes[1] - 1, 1}, {16 + sizes[1], 2},
		{16 + sizes[1] + sizes[2] - 1, 2}, {16 + sizes[1] + sizes[2], 3},
	} {
		if got := wholeFrames(msgs, c.written); got != c.want {
			t.Errorf("wholeFrames after %d bytes: %d, want %d", c.written, got, c.want)
		}
	}
	for i, m := range msgs {
		if got := len(appendFrame(nil, m)); got != sizes[i] || frameSize(m) != sizes[i] {
			t.Errorf("frame %d: %d bytes, frameSize %d, want %d", i, got, frameSize(m), sizes[i])
		}
	}
}

// Events that arrive together go to OnEvent one after the other, and
// OnIdle comes once they all went, before the reader waits for more.
func TestOnIdleAfterWhatArrivedTogether(t *testing.T) {
	s := newFakeServer(t)
	go func() {
		fc := <-s.conns
		<-fc.msgs
		_ = fc.ws.WriteMessage(websocket.TextMessage, []byte(`40{"sid":"x"}`))
		s.conns <- fc
	}()
	var mu sync.Mutex
	got := 0
	idle := make(chan int, 100)
	c, err := Dial(context.Background(), Options{URL: s.url("/"),
		OnEvent: func(string, []any) {
			mu.Lock()
			got++
			mu.Unlock()
		},
		OnIdle: func() {
			mu.Lock()
			n := got
			mu.Unlock()
			select {
			case idle <- n:
			default:
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fc := s.accept()
	// Three events in one write of the server's frames (unmasked).
	var frames []byte
	for _, m := range []string{`42["e",1]`, `42["e",2]`, `42["e",3]`} {
		frames = append(append(frames, 0x81, byte(len(m))), m...)
	}
	if _, err := fc.ws.NetConn().Write(frames); err != nil {
		t.Fatal(err)
	}
	deadline := time.After(10 * time.Second)
	for {
		select {
		case n := <-idle:
			switch n {
			case 0:
				continue // before the events came
			case 3:
				return
			default:
				t.Fatalf("OnIdle after %d of the 3 events that arrived together", n)
			}
		case <-deadline:
			t.Fatal("no OnIdle after the events")
		}
	}
}

// Over long-polling the messages of one write go in one POST, packets
// separated by \x1e (binary as "b" and base64), and in more POSTs when
// one would be over the server's maxPayload.
func TestPostAllSplitsAtTheLimit(t *testing.T) {
	var mu sync.Mutex
	var posts []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		posts = append(posts, string(b))
		mu.Unlock()
		_, _ = io.WriteString(w, "ok")
	}))
	defer srv.Close()
	p := &pollFrames{client: srv.Client(), url: srv.URL, done: make(chan struct{})}
	p.ctx, p.cancel = context.WithCancel(context.Background())
	defer p.Close()
	msgs := []out{
		{typ: websocket.TextMessage, head: []byte("4"), body: []byte(`2["a"]`)},
		{typ: websocket.BinaryMessage, body: []byte{1, 2, 3}},
		{typ: websocket.TextMessage, body: []byte(strings.Repeat("x", 20))},
		{typ: websocket.TextMessage, body: []byte("3")},
	}
	n, err := p.postAll(msgs, 24)
	if err != nil || n != len(msgs) {
		t.Fatalf("postAll: %d, %v", n, err)
	}
	want := []string{"42[\"a\"]\x1ebAQID", strings.Repeat("x", 20) + "\x1e3"}
	if fmt.Sprintf("%q", posts) != fmt.Sprintf("%q", want) {
		t.Errorf("POSTs %q, want %q", posts, want)
	}
}
