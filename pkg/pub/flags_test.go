package pub

import (
	"io"
	"strings"
	"testing"
	"time"

	"github.com/sio-tools/sio/pkg/cli"
	"github.com/sio-tools/sio/pkg/lines"
)

// A flag beats the environment, which beats the default. Of these flags
// only --url and --token read the environment.
func TestFlagsOverEnvironment(t *testing.T) {
	type want struct {
		url, token, event          string
		format                     lines.Format
		window                     int
		ackTimeout, connectTimeout time.Duration
		rooms                      string
	}
	def := want{url: "http://127.0.0.1:31979", event: "message", format: lines.Text, window: 5000,
		ackTimeout: 30 * time.Second, connectTimeout: 10 * time.Second}
	with := func(f func(*want)) want { w := def; f(&w); return w }
	env := map[string]string{"SIO_URL": "http://a:1/chat", "SIO_HOST": "b", "SIO_PORT": "2", "SIO_TOKEN": "e"}
	for _, c := range []struct {
		name string
		args []string
		env  map[string]string
		want want
	}{
		{"defaults", nil, nil, def},
		{"host and port", nil, map[string]string{"SIO_HOST": "10.0.0.2", "SIO_PORT": "8080"},
			with(func(w *want) { w.url = "http://10.0.0.2:8080" })},
		{"IPv6 host", nil, map[string]string{"SIO_HOST": "::1"}, with(func(w *want) { w.url = "http://[::1]:31979" })},
		{"environment", nil, env, with(func(w *want) { w.url, w.token = "http://a:1/chat", "e" })},
		{"--url and --token over the environment", []string{"--url", "http://c:3", "--token", "f"}, env,
			with(func(w *want) { w.url, w.token = "http://c:3", "f" })},
		{"-u over SIO_URL", []string{"-u", "ws://c:4/x"}, env, with(func(w *want) { w.url, w.token = "ws://c:4/x", "e" })},
		{"empty --token over SIO_TOKEN", []string{"--token", ""}, env, with(func(w *want) { w.url = "http://a:1/chat" })},
		{"a URL without a scheme is http", []string{"-u", "127.0.0.1:5/ns"}, nil, with(func(w *want) { w.url = "http://127.0.0.1:5/ns" })},
		{"short flags", []string{"-e", "log", "-f", "envelope", "-r", "a,b", "-r", "c"}, nil,
			with(func(w *want) { w.event, w.format, w.rooms = "log", lines.Envelope, "a,b,c" })},
		{"long flags", []string{"--event", "item", "--format", "json", "--room", "r", "--window", "7",
			"--ack-timeout", "1m30s", "--connect-timeout", "2"}, nil,
			with(func(w *want) {
				w.event, w.format, w.rooms, w.window = "item", lines.JSON, "r", 7
				w.ackTimeout, w.connectTimeout = 90*time.Second, 2*time.Second
			})},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := ParseFlags(c.args, func(k string) string { return c.env[k] }, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			got := want{cfg.URL.String(), cfg.Token, cfg.Event, cfg.Format, cfg.Window, cfg.AckTimeout,
				cfg.ConnectTimeout, strings.Join(cfg.Rooms, ",")}
			if got != c.want {
				t.Errorf("got %+v\nwant %+v", got, c.want)
			}
		})
	}
}

// A bad value is a usage error (exit 2) whose message names the flag, or
// the environment variable the value came from.
func TestBadFlagValues(t *testing.T) {
	for _, c := range []struct {
		args []string
		env  map[string]string
		msg  string
	}{
		{[]string{"--url", "ftp://a:1"}, nil, `bad url "ftp://a:1": scheme must be http, https, ws or wss`},
		{[]string{"-u", "http://a:99999"}, nil, `bad url "http://a:99999": bad port "99999"`},
		{nil, map[string]string{"SIO_URL": "ftp://a:1"}, `bad url "ftp://a:1": scheme must be http, https, ws or wss (from SIO_URL)`},
		{nil, map[string]string{"SIO_PORT": "x"}, `(from SIO_HOST, SIO_PORT)`},
		{[]string{"-e", ""}, nil, "empty event name"},
		{[]string{"--event", "connect"}, nil, `invalid value "connect" for --event`},
		{[]string{"-f", "yaml"}, nil, `unknown format "yaml": want text, json or envelope`},
		{[]string{"--window", "0"}, nil, "invalid value 0 for --window: must be above zero"},
		{[]string{"--window", "many"}, nil, `invalid value "many" for flag -window`},
		{[]string{"--ack-timeout", "0"}, nil, `invalid value "0s" for flag -ack-timeout: must be above zero`},
		{[]string{"--ack-timeout", "soon"}, nil, `invalid value "soon" for flag -ack-timeout: want a duration`},
		{[]string{"--connect-timeout", "0s"}, nil, `invalid value "0s" for flag -connect-timeout: must be above zero`},
		{[]string{"--connect-timeout", "-1"}, nil, `invalid value "-1" for flag -connect-timeout: out of range`},
		{[]string{"--retry-for", "-1s"}, nil, "invalid value -1s for --retry-for: must not be negative"},
		{[]string{"--max-bytes", "0"}, nil, "invalid value 0 for --max-bytes"},
		{[]string{"--buffer", "-1"}, nil, "invalid value -1 for --buffer: must be above zero"},
		{[]string{"-C", "-1"}, nil, "invalid value -1 for --count: must not be negative"},
		{[]string{"--rate", "-1"}, nil, "invalid value -1 for --rate"},
		{[]string{"--transport", "carrier-pigeon"}, nil, `invalid value "carrier-pigeon" for --transport`},
		{[]string{"--auth", "[]"}, nil, `invalid value "[]" for --auth: want a JSON object`},
		{[]string{"-m", "x", "--file", "f"}, nil, "-m and --file do not go together"},
	} {
		_, err := ParseFlags(c.args, func(k string) string { return c.env[k] }, io.Discard)
		if cli.ExitCode(err) != cli.ExitUsage || err == nil || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%q %v: exit %d, %v; want exit %d, %q", c.args, c.env, cli.ExitCode(err), err, cli.ExitUsage, c.msg)
		}
	}
}
