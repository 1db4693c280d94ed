package relay_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// Upgrades from long-polling to websocket hold under CPU load, every
// time: the probe is answered, the GET waiting is answered (noop) so the
// client can finish the upgrade, polling is refused afterwards, and the
// upgraded connection carries events. Under a CPU burner, about 1 run in
// 8 to 40 lost the probe or left the waiting GET hung (the library's
// polling transport; a browser then stays on polling, or hangs).
func TestUpgradesUnderLoad(t *testing.T) {
	n := 500
	if testing.Short() {
		n = 50
	}
	burner := exec.Command("sh", "-c", "while :; do :; done")
	if err := burner.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = burner.Process.Kill()
		_ = burner.Wait()
	})
	_, base := server(t)
	listener := dial(t, base, "")
	// Ten clients at a time: the engine answers the waiting GET of an
	// upgrade on its next check, 100 ms after the probe (as Node does).
	const workers = 10
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n && !t.Failed(); i += workers {
				if err := upgradeOnce(base, listener, i); err != nil {
					t.Errorf("upgrade %d: %v", i, err)
				}
			}
		}()
	}
	wg.Wait()
}

// waitArg waits up to 10 s for an event whose first argument is the
// string s.
func (c *client) waitArg(s string) error {
	want := strconv.Quote(s)
	for deadline := time.Now().Add(10 * time.Second); ; {
		c.mu.Lock()
		for _, r := range c.got {
			if len(r.args) > 0 && string(r.args[0].(json.RawMessage)) == want {
				c.mu.Unlock()
				return nil
			}
		}
		c.mu.Unlock()
		if time.Now().After(deadline) {
			return fmt.Errorf("no event %s within 10 s", want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// upgradeOnce opens a long-polling connection, joins, and upgrades it as
// the official clients do.
func upgradeOnce(base string, listener *client, i int) error {
	poll := base + "/socket.io/?EIO=4&transport=polling"
	sid := between(request(context.Background(), "GET", poll, "").body, `"sid":"`, `"`)
	if sid == "" {
		return errors.New("no polling handshake")
	}
	poll += "&sid=" + sid
	if a := request(context.Background(), "POST", poll, "40"); a.status != http.StatusOK {
		return fmt.Errorf("CONNECT: %d %q %v", a.status, a.body, a.err)
	}
	// The CONNECT answer; the other upgraders' events may come before it
	// (the library joins a socket to its room before it answers).
	for answered := false; !answered; {
		a := request(context.Background(), "GET", poll, "")
		if a.status != http.StatusOK {
			return fmt.Errorf("CONNECT answer %d %q %v", a.status, a.body, a.err)
		}
		for _, p := range strings.Split(a.body, "\x1e") {
			answered = answered || strings.HasPrefix(p, "40{")
		}
	}
	held := make(chan answer, 1)
	go func() { held <- request(context.Background(), "GET", poll, "") }()

	u := "ws" + strings.TrimPrefix(base, "http") + "/socket.io/?EIO=4&transport=websocket&sid=" + sid
	ws, _, err := websocket.DefaultDialer.Dial(u, nil)
	if err != nil {
		return err
	}
	defer ws.Close()
	_ = ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	if err := ws.WriteMessage(websocket.TextMessage, []byte("2probe")); err != nil {
		return err
	}
	if _, m, err := ws.ReadMessage(); err != nil || string(m) != "3probe" {
		return fmt.Errorf("the probe's answer: %q %v", m, err)
	}
	// The GET that waited ends: a noop, or what came first (a ping, the
	// other upgraders' events).
	select {
	case a := <-held:
		if a.status != http.StatusOK {
			return fmt.Errorf("the waiting GET: %d %q %v, want 200", a.status, a.body, a.err)
		}
	case <-time.After(5 * time.Second):
		return errors.New("the waiting GET was not answered")
	}
	// The upgrade, then an event behind it: once another client got the
	// event, the server has read the upgrade, and refuses polling. (A GET
	// sent at once, before the server read the upgrade, is the protocol
	// suite's test: TestConformance.)
	ev := `42["up",` + strconv.Quote(strconv.Itoa(i)) + `]`
	for _, m := range []string{"5", ev} {
		if err := ws.WriteMessage(websocket.TextMessage, []byte(m)); err != nil {
			return err
		}
	}
	if err := listener.waitArg(strconv.Itoa(i)); err != nil {
		return err
	}
	if a := request(context.Background(), "GET", poll, ""); a.status != http.StatusBadRequest {
		return fmt.Errorf("polling after the upgrade: %d %q %v, want 400", a.status, a.body, a.err)
	}
	return nil
}
