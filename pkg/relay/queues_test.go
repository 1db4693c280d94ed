package relay_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/sio-tools/sio/pkg/relay"
	"github.com/zishang520/socket.io/v3/pkg/queue"
)

// liveHeap is the live heap after garbage collection, in bytes.
func liveHeap() int64 {
	var m runtime.MemStats
	for range 3 {
		runtime.GC()
	}
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}

// The library's task queues are never freed once closed (a finalizer on a
// cycle; queues.go): this is the library's behaviour the relay works
// around. When this test fails, the library was fixed and queues.go can
// go.
func TestLibraryQueuesLeak(t *testing.T) {
	const n = 1000
	before := liveHeap()
	for range n {
		queue.New().TryClose()
	}
	time.Sleep(100 * time.Millisecond) // the queues' goroutines end
	if grown := (liveHeap() - before) / n; grown < 4<<10 {
		t.Fatalf("a closed queue keeps %d bytes: the library frees them now, queues.go can go", grown)
	}
}

// leakPerRound runs round (which makes n connections, each closed before
// it returns) a first time, which grows pools and maps to their size,
// then twice more, and fails when the live heap grew by more than 512 bytes
// per connection of those two rounds: a leak grows with every round.
func leakPerRound(t *testing.T, n int, round func(n int)) {
	t.Helper()
	round(n)
	time.Sleep(500 * time.Millisecond)
	before := liveHeap()
	const rounds = 2
	for range rounds {
		round(n)
	}
	// Closed connections finish closing (timers, queues) shortly after.
	var per int64
	for deadline := time.Now().Add(10 * time.Second); ; {
		time.Sleep(200 * time.Millisecond)
		per = (liveHeap() - before) / (rounds * int64(n))
		if per <= 512 || time.Now().After(deadline) {
			break
		}
	}
	if per > 512 {
		t.Fatalf("the live heap grew %d bytes per closed connection", per)
	}
	t.Logf("%d bytes per closed connection", per)
}

// Nothing a client leaves is kept once its connection is closed: a join,
// a CONNECT refused for its token, over websocket and over polling, a
// namespace of its own with its rooms. The library kept about 9.7 KB of
// each connection, forever (a refused CONNECT is what every
// unauthenticated client and sio-pub's confirmation request over polling
// make), and every namespace; and a client that left as soon as it was
// told it joined could stay "connected" in its namespace (the library's
// race), or in the relay's count (the relay's).
func TestRelayKeepsNothingOfClosedConnections(t *testing.T) {
	r, base := serverWith(t, relay.Options{Token: "good"})
	t.Cleanup(func() {
		if n := r.Clients(); n != 0 {
			t.Errorf("%d clients counted after all left", n)
		}
	})
	wsConnect := func(auth, want string) func(int) {
		return func(n int) {
			for range n {
				ws := rawDial(t, websocket.DefaultDialer, base)
				if err := ws.WriteMessage(websocket.TextMessage, []byte(`40{"token":"`+auth+`"}`)); err != nil {
					t.Fatal(err)
				}
				_ = ws.SetReadDeadline(time.Now().Add(10 * time.Second))
				if _, m, err := ws.ReadMessage(); err != nil || !strings.HasPrefix(string(m), want) {
					t.Fatalf("connect answer %q, %v; want %s...", m, err, want)
				}
				ws.Close()
			}
		}
	}
	pollConnect := func(auth, want string) func(int) {
		return func(n int) {
			for range n {
				poll := base + "/socket.io/?EIO=4&transport=polling"
				open := httpGet(t, poll)
				sid := between(open, `"sid":"`, `"`)
				if sid == "" {
					t.Fatalf("polling handshake %q", open)
				}
				poll += "&sid=" + sid
				post(t, poll, `40{"token":"`+auth+`"}`)
				if got := httpGet(t, poll); !strings.HasPrefix(got, want) {
					t.Fatalf("polling connect answer %q, want %s...", got, want)
				}
				post(t, poll, "1") // close
			}
		}
	}
	t.Run("websocket joined", func(t *testing.T) { leakPerRound(t, 400, wsConnect("good", "40{")) })
	// Clients choose namespaces and rooms: each client here joins a
	// namespace of its own, with 50 rooms.
	fresh := 0
	t.Run("websocket to a new namespace with rooms", func(t *testing.T) {
		rooms := make([]string, 50)
		for i := range rooms {
			rooms[i] = fmt.Sprintf("room-%d", i)
		}
		auth, _ := json.Marshal(map[string]any{"token": "good", "room": rooms})
		leakPerRound(t, 300, func(n int) {
			for range n {
				fresh++
				nsp := fmt.Sprintf("/ns-%d", fresh)
				ws := rawDial(t, websocket.DefaultDialer, base)
				if err := ws.WriteMessage(websocket.TextMessage, []byte("40"+nsp+","+string(auth))); err != nil {
					t.Fatal(err)
				}
				_ = ws.SetReadDeadline(time.Now().Add(10 * time.Second))
				if _, m, err := ws.ReadMessage(); err != nil || !strings.HasPrefix(string(m), "40"+nsp+",{") {
					t.Fatalf("connect answer %q, %v", m, err)
				}
				ws.Close()
			}
		})
	})
	t.Run("websocket refused", func(t *testing.T) { leakPerRound(t, 400, wsConnect("bad", "44{")) })
	t.Run("polling joined", func(t *testing.T) { leakPerRound(t, 200, pollConnect("good", "40{")) })
	t.Run("polling refused", func(t *testing.T) { leakPerRound(t, 200, pollConnect("bad", "44{")) })
}

func between(s, from, to string) string {
	_, after, ok := strings.Cut(s, from)
	if !ok {
		return ""
	}
	v, _, _ := strings.Cut(after, to)
	return v
}

// bounded is an HTTP client for requests that must be answered soon.
var bounded = &http.Client{Timeout: 5 * time.Second}

func post(t *testing.T, url, body string) {
	t.Helper()
	resp, err := bounded.Post(url, "text/plain", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
}

// Every GET of a polling session is answered, also when the library runs
// the clean-up of the GET before it late: it ran it twice, the second time
// after the client had sent its next GET, which it then forgot (that GET
// was never answered; about 1 in 1,500 polling joins on a loaded machine).
// The test pauses that late clean-up until the next GET is in.
func TestRelayAnswersEveryPoll(t *testing.T) {
	_, base := server(t)
	relay.SetLateCleanupHook(func() { time.Sleep(300 * time.Millisecond) })
	t.Cleanup(func() { relay.SetLateCleanupHook(nil) })
	for range 3 {
		poll := base + "/socket.io/?EIO=4&transport=polling"
		sid := between(httpGet(t, poll), `"sid":"`, `"`)
		if sid == "" {
			t.Fatal("no polling handshake")
		}
		poll += "&sid=" + sid
		post(t, poll, "40")
		if got := httpGet(t, poll); !strings.HasPrefix(got, "40{") {
			t.Fatalf("polling connect answer %q", got)
		}
		post(t, poll, "1")
	}
}
