package conn

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fakeServer is an Engine.IO v4 websocket endpoint whose every move the
// test scripts: it accepts connections and hands them to the test.
type fakeServer struct {
	t     *testing.T
	srv   *httptest.Server
	conns chan *fakeConn
	n     atomic.Int64 // connections accepted
	// open is the open packet sent at once on upgrade, in the same
	// instant as the upgrade answer.
	open string
}

type fakeConn struct {
	ws   *websocket.Conn
	msgs chan string // text messages from the client, "4" and all
	bins chan []byte
}

func newFakeServer(t *testing.T) *fakeServer {
	t.Helper()
	s := &fakeServer{t: t, conns: make(chan *fakeConn, 100),
		open: `0{"sid":"s1","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}`}
	up := websocket.Upgrader{}
	var wg sync.WaitGroup
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/socket.io/" {
			http.NotFound(w, r)
			return
		}
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		s.n.Add(1)
		_ = ws.WriteMessage(websocket.TextMessage, []byte(s.open))
		fc := &fakeConn{ws: ws, msgs: make(chan string, 1000), bins: make(chan []byte, 100)}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer close(fc.msgs)
			for {
				typ, m, err := ws.ReadMessage()
				if err != nil {
					return
				}
				if typ == websocket.BinaryMessage {
					fc.bins <- m
					continue
				}
				fc.msgs <- string(m)
			}
		}()
		s.conns <- fc
	}))
	t.Cleanup(func() {
		s.srv.CloseClientConnections()
		s.srv.Close()
		wg.Wait()
	})
	return s
}

func (s *fakeServer) url(path string) *url.URL {
	u, _ := url.Parse(s.srv.URL + path)
	return u
}

// accept returns the next connection.
func (s *fakeServer) accept() *fakeConn {
	s.t.Helper()
	select {
	case c := <-s.conns:
		return c
	case <-time.After(10 * time.Second):
		s.t.Fatal("no connection")
		return nil
	}
}

// next returns the client's next text message.
func (c *fakeConn) next(t *testing.T) string {
	t.Helper()
	select {
	case m, ok := <-c.msgs:
		if !ok {
			t.Fatal("the client closed the connection")
		}
		return m
	case <-time.After(10 * time.Second):
		t.Fatal("no message from the client")
		return ""
	}
}

func (c *fakeConn) send(t *testing.T, m string) {
	t.Helper()
	if err := c.ws.WriteMessage(websocket.TextMessage, []byte(m)); err != nil {
		t.Fatal(err)
	}
}

// join reads the client's CONNECT and returns its auth.
func (c *fakeConn) join(t *testing.T) map[string]any {
	t.Helper()
	m := c.next(t)
	if !strings.HasPrefix(m, "40") {
		t.Fatalf("first message %q, want a CONNECT", m)
	}
	auth := map[string]any{}
	if i := strings.IndexByte(m, '{'); i >= 0 {
		if err := json.Unmarshal([]byte(m[i:]), &auth); err != nil {
			t.Fatalf("CONNECT %q: %v", m, err)
		}
	}
	return auth
}

// states collects a connection's state changes.
type states struct {
	mu   sync.Mutex
	list []State
	note chan struct{}
}

func newStates() *states { return &states{note: make(chan struct{}, 100)} }

func (s *states) on(st State) {
	s.mu.Lock()
	s.list = append(s.list, st)
	s.mu.Unlock()
	s.note <- struct{}{}
}

// wait returns the n-th state (from 1).
func (s *states) wait(t *testing.T, n int) State {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		s.mu.Lock()
		if len(s.list) >= n {
			st := s.list[n-1]
			s.mu.Unlock()
			return st
		}
		s.mu.Unlock()
		select {
		case <-s.note:
		case <-deadline:
			t.Fatalf("no state change %d", n)
		}
	}
}

func (s *states) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.list)
}

// A connection whose server answers at once stays up, and nothing of the
// client closes it after it connected. The zishang520 client's Manager
// armed its connect-attempt timer before it could cancel it: when the
// engine opened in between, the timer fired 2 s after a good connect,
// closed it, and the client never said "disconnect" (4% of connections in
// long runs). Each of 20 clients here gets its open packet in the same
// instant as the upgrade and its CONNECT answered at once; the test holds
// them past that 2 s, and past the client's own joinWait.
func TestConnStaysUp(t *testing.T) {
	s := newFakeServer(t)
	const n = 20
	var wg sync.WaitGroup
	conns := make(chan *fakeConn, n)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < n; i++ {
			fc := <-s.conns
			<-fc.msgs // the CONNECT
			_ = fc.ws.WriteMessage(websocket.TextMessage, []byte(`40{"sid":"x"}`))
			conns <- fc
		}
	}()
	clients := make([]*Conn, n)
	sts := make([]*states, n)
	for i := range clients {
		sts[i] = newStates()
		c, err := Dial(context.Background(), Options{URL: s.url("/"), OnState: sts[i].on})
		if err != nil {
			t.Fatal(err)
		}
		clients[i] = c
		defer c.Close()
	}
	wg.Wait()
	time.Sleep(joinWait + time.Second)
	for i, c := range clients {
		if !c.Connected() || sts[i].count() != 1 {
			t.Errorf("client %d: connected %v, %d state changes, want 1: %+v", i, c.Connected(), sts[i].count(), sts[i].list)
		}
	}
	if got := s.n.Load(); got != n {
		t.Errorf("%d connections made, want %d", got, n)
	}
}

// A session that the server resumes is reported as recovered; one it
// does not, as a reconnect with the time the last connection last heard
// from the server. The client asks to resume with the session id and the
// offset of the last event, which it takes off the event's arguments.
func TestConnResumesSession(t *testing.T) {
	s := newFakeServer(t)
	sts := newStates()
	var mu sync.Mutex
	var got []string
	dialed := make(chan *Conn, 1)
	go func() {
		c, err := Dial(context.Background(), Options{URL: s.url("/chat"), OnState: sts.on, Reconnect: true, Token: "t",
			OnEvent: func(ev string, args []any) {
				mu.Lock()
				defer mu.Unlock()
				b, _ := json.Marshal(args)
				got = append(got, ev+string(b))
			}})
		if err != nil {
			t.Error(err)
		}
		dialed <- c
	}()
	fc := s.accept()
	if auth := fc.join(t); auth["token"] != "t" || auth["pid"] != nil || auth[offsetsKey] != true {
		t.Fatalf("first CONNECT auth %v", auth)
	}
	fc.send(t, `40/chat,{"sid":"a","pid":"P1"}`)
	c := <-dialed
	if c == nil {
		return
	}
	defer c.Close()
	sts.wait(t, 1)
	fc.send(t, `42/chat,["e",1,"5"]`)
	fc.send(t, `42/chat,["e",{"b":1,"a":2},"6"]`)
	waitFor(t, func() bool { mu.Lock(); defer mu.Unlock(); return len(got) == 2 })
	fc.ws.Close() // cut

	fc = s.accept()
	if auth := fc.join(t); auth["pid"] != "P1" || auth["offset"] != "6" || auth["token"] != "t" {
		t.Fatalf("CONNECT after a cut: auth %v, want pid P1, offset 6 and the token", auth)
	}
	// Missed events may come before the answer (Node sends them so).
	fc.send(t, `42/chat,["e",3,"7"]`)
	fc.send(t, `40/chat,{"sid":"a","pid":"P1"}`)
	if st := sts.wait(t, 2); st.Connected {
		t.Fatalf("state 2: %+v, want the loss", st)
	}
	if st := sts.wait(t, 3); !st.Connected || !st.Reconnected || !st.Recovered {
		t.Fatalf("state 3: %+v, want a recovered reconnect", st)
	}
	fc.send(t, `42/chat,["e",4,"8"]`)
	waitFor(t, func() bool { mu.Lock(); defer mu.Unlock(); return len(got) == 4 })
	before := time.Now()
	fc.ws.Close()

	fc = s.accept()
	if auth := fc.join(t); auth["pid"] != "P1" || auth["offset"] != "8" {
		t.Fatalf("second CONNECT after a cut: auth %v", auth)
	}
	fc.send(t, `40/chat,{"sid":"b","pid":"P2"}`) // a new session
	st := sts.wait(t, 5)
	if !st.Connected || !st.Reconnected || st.Recovered || st.LastHeard.After(before) || st.LastHeard.IsZero() {
		t.Fatalf("state 5: %+v, want a reconnect not recovered, last heard before the cut", st)
	}
	fc.send(t, `42/chat,["e",5]`)
	waitFor(t, func() bool { mu.Lock(); defer mu.Unlock(); return len(got) == 5 })
	fc.ws.Close()
	fc = s.accept()
	// No event since the new session began: "0" asks to resume from its
	// start.
	if auth := fc.join(t); auth["pid"] != "P2" || auth["offset"] != noOffset {
		t.Fatalf("third CONNECT: auth %v, want pid P2 and offset %q", auth, noOffset)
	}
	mu.Lock()
	defer mu.Unlock()
	// The offsets are taken off; the last event, of a session without
	// recovery, keeps its arguments.
	if strings.Join(got, " ") != `e[1] e[{"b":1,"a":2}] e[3] e[4] e[5]` {
		t.Errorf("events %q", got)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// A server that stops talking is given up on after its ping interval and
// timeout, and a new connection is made.
func TestConnPingTimeout(t *testing.T) {
	s := newFakeServer(t)
	s.open = `0{"sid":"s1","upgrades":[],"pingInterval":200,"pingTimeout":100,"maxPayload":1000}`
	sts := newStates()
	go func() {
		fc := <-s.conns
		<-fc.msgs
		_ = fc.ws.WriteMessage(websocket.TextMessage, []byte(`40{"sid":"x"}`))
		// then silence
	}()
	c, err := Dial(context.Background(), Options{URL: s.url("/"), OnState: sts.on, Reconnect: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.MaxPayload() != 1000 {
		t.Errorf("MaxPayload %d, want the server's 1000", c.MaxPayload())
	}
	if st := sts.wait(t, 2); st.Connected || st.Reason != "ping timeout" {
		t.Errorf("state %+v, want lost by ping timeout", st)
	}
	s.accept() // the first
	s.accept() // and the new one
}

// A server's ping is answered with a pong.
func TestConnAnswersPing(t *testing.T) {
	s := newFakeServer(t)
	go func() {
		fc := <-s.conns
		<-fc.msgs
		_ = fc.ws.WriteMessage(websocket.TextMessage, []byte(`40{"sid":"x"}`))
		_ = fc.ws.WriteMessage(websocket.TextMessage, []byte(`2`))
		s.conns <- fc
	}()
	c, err := Dial(context.Background(), Options{URL: s.url("/")})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if m := s.accept().next(t); m != "3" {
		t.Errorf("answer to a ping %q, want 3", m)
	}
}

// What trying again cannot mend fails at once: an HTTP answer that is not
// Socket.IO's, a namespace the server refuses.
func TestConnFailsAtOnce(t *testing.T) {
	s := newFakeServer(t)
	start := time.Now()
	_, err := Dial(context.Background(), Options{URL: s.url("/"), Path: "/nothing/", ConnectTimeout: 30 * time.Second})
	var de *DialError
	if !errors.As(err, &de) || !strings.Contains(err.Error(), "not a Socket.IO v4 server? /nothing/ answered 404") {
		t.Errorf("err %v", err)
	}
	go func() {
		fc := <-s.conns
		<-fc.msgs
		_ = fc.ws.WriteMessage(websocket.TextMessage, []byte(`44{"message":"unauthorized"}`))
	}()
	_, err = Dial(context.Background(), Options{URL: s.url("/"), ConnectTimeout: 30 * time.Second, Reconnect: true})
	if !errors.As(err, &de) || !de.Refused || de.Reason != "unauthorized" {
		t.Errorf("refused: err %v", err)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("took %v", took)
	}
}

// Events with binary attachments go out as a BINARY_EVENT and its frames,
// come in with the attachments in place; acks carry their arguments; an
// event the server wants acknowledged is acknowledged.
func TestConnBinaryAndAcks(t *testing.T) {
	s := newFakeServer(t)
	evs := make(chan []any, 10)
	go func() {
		fc := <-s.conns
		<-fc.msgs
		_ = fc.ws.WriteMessage(websocket.TextMessage, []byte(`40{"sid":"x"}`))
		s.conns <- fc
	}()
	c, err := Dial(context.Background(), Options{URL: s.url("/"), OnEvent: func(ev string, args []any) { evs <- args }})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fc := s.accept()
	acked := make(chan []any, 1)
	if err := c.Emit("b", []any{"x", map[string]any{"k": []byte{1, 2}}}, func(args []any, err error) {
		if err != nil {
			t.Error(err)
		}
		acked <- args
	}); err != nil {
		t.Fatal(err)
	}
	if m := fc.next(t); m != `451-0["b","x",{"k":{"_placeholder":true,"num":0}}]` {
		t.Errorf("binary event %q", m)
	}
	if b := <-fc.bins; string(b) != "\x01\x02" {
		t.Errorf("attachment %q", b)
	}
	fc.send(t, `430[{"ok":true}]`)
	if args := <-acked; fmt.Sprint(args) != `[[123 34 111 107 34 58 116 114 117 101 125]]` {
		t.Errorf("ack args %s", args)
	}
	fc.send(t, `451-7["in",{"_placeholder":true,"num":0}]`)
	if err := fc.ws.WriteMessage(websocket.BinaryMessage, []byte{9}); err != nil {
		t.Fatal(err)
	}
	select {
	case args := <-evs:
		if b, ok := args[0].([]byte); len(args) != 1 || !ok || string(b) != "\x09" {
			t.Errorf("binary event args %v", args)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("binary event not delivered")
	}
	if m := fc.next(t); m != "437[]" {
		t.Errorf("ack of an event %q, want 437[]", m)
	}
}
