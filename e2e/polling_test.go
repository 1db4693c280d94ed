package e2e

import (
	"strings"
	"testing"
	"time"
)

// pollingServerJS is a Node socket.io server that allows long-polling
// only (as behind a proxy that passes no websocket): a relay, and a
// handler that answers.
const pollingServerJS = `
const http = require("node:http");
const { Server } = require("socket.io");
const srv = http.createServer();
const io = new Server(srv, { transports: ["polling"] });
io.on("connection", (s) => {
  s.onAny((ev, ...args) => {
    if (typeof args[args.length - 1] === "function") return;
    s.broadcast.emit(ev, ...args);
  });
  s.on("echo", (x, cb) => cb(x, Buffer.from([7])));
});
srv.listen(0, "127.0.0.1", () =>
  process.stderr.write("app: listening on http://127.0.0.1:" + srv.address().port + "\n"));
`

// With --transport polling, sio-pub and sio-sub reach a server that
// allows no websocket: events both ways with an official Node client
// (binary too), --reply, and sio-serve's own long-polling. Without it,
// the websocket is refused and sio-pub says so.
func TestPollingTransport(t *testing.T) {
	for _, kind := range []string{"node", "sio-serve"} {
		t.Run(kind, func(t *testing.T) {
			var url string
			if kind == "node" {
				url = startApp(t, pollingServerJS)
			} else {
				url = serve(t, "-q").URL
			}
			node := startScript(t, procOpts{}, "node", canaryJS, url, "polling")
			node.stderr.waitFor(t, regexpMust(`(?m)^connected$`), 20*time.Second)
			sub := start(t, procOpts{}, "sio-sub", "--url", url, "--transport", "polling", "-f", "envelope")
			sub.stderr.waitFor(t, regexpMust(`subscribed to`), 20*time.Second)

			in := `{"event":"a","data":{"z":1,"a":"é"}}` + "\n" + `{"event":"b","args":["x",{"$binary":"AQID"}]}` + "\n"
			if c, _, errOut := runCmd(t, []byte(in), time.Minute, "sio-pub", "--url", url, "--transport", "polling", "-f", "envelope"); c != 0 {
				t.Fatalf("sio-pub --transport polling: exit %d: %s", c, errOut)
			}
			want := strings.Split(strings.TrimSpace(in), "\n")
			if kind == "sio-serve" {
				// An event sent over long-polling takes the library's way
				// through sio-serve: keys sorted (docs/LIBRARY.md).
				want[0] = `{"event":"a","data":{"a":"é","z":1}}`
			}
			got := sub.stdout.waitLines(t, 2, 20*time.Second)
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("sio-sub --transport polling printed %q, want %q", got, want)
			}
			if got := node.stdout.waitLines(t, 2, 20*time.Second); got[0] != "a object" || got[1] != "b x" {
				t.Errorf("the Node client got %q", got)
			}
			if kind != "node" {
				return
			}
			code, out, errOut := runCmd(t, []byte("\"hi\"\n"), time.Minute, "sio-pub", "--url", url, "--transport", "polling", "-f", "json", "-e", "echo", "--reply")
			if want := `["hi",{"$binary":"Bw=="}]` + "\n"; code != 0 || out != want {
				t.Errorf("--reply: exit %d, stdout %q, stderr %q; want %q", code, out, errOut, want)
			}
			if c, _, errOut := runCmd(t, []byte("x\n"), time.Minute, "sio-pub", "--url", url, "--connect-timeout", "3s"); c == 0 {
				t.Errorf("sio-pub over a websocket to a polling-only server: exit 0 (%s)", errOut)
			}
		})
	}
	if c, _, errOut := runCmd(t, nil, 10*time.Second, "sio-sub", "--transport", "carrier-pigeon"); c != 2 || !strings.Contains(errOut, "--transport") {
		t.Errorf("--transport carrier-pigeon: exit %d %q, want 2 naming it", c, errOut)
	}
}
