package serve_test

import (
	"io"
	"strings"
	"testing"

	"github.com/sio-tools/sio/pkg/serve"
)

// A flag beats the environment, which beats the default.
func TestFlagsOverEnvironment(t *testing.T) {
	type want struct {
		host                 string
		port                 int
		token, redis, static string
	}
	def := want{host: "127.0.0.1", port: 31979}
	with := func(f func(*want)) want { w := def; f(&w); return w }
	for _, c := range []struct {
		name string
		args []string
		env  map[string]string
		want want
	}{
		{"defaults", nil, nil, def},
		{"environment", nil, map[string]string{"SIO_HOST": "0.0.0.0", "SIO_PORT": "8080", "SIO_TOKEN": "t",
			"SIO_REDIS_URL": "redis://r:6379/0", "SIO_STATIC": "/srv"},
			want{"0.0.0.0", 8080, "t", "redis://r:6379/0", "/srv"}},
		{"flags over environment", []string{"-H", "::1", "-p", "0", "--token", "u", "--redis", "redis://s:1/0", "--static", "site"},
			map[string]string{"SIO_HOST": "0.0.0.0", "SIO_PORT": "8080", "SIO_TOKEN": "t", "SIO_REDIS_URL": "redis://r:6379/0", "SIO_STATIC": "/srv"},
			want{"::1", 0, "u", "redis://s:1/0", "site"}},
		{"long host and port", []string{"--host", "10.0.0.1", "--port", "9"}, map[string]string{"SIO_PORT": "8080"},
			with(func(w *want) { w.host, w.port = "10.0.0.1", 9 })},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := serve.ParseFlags(c.args, func(k string) string { return c.env[k] }, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			got := want{cfg.Host, cfg.Port, cfg.Token, cfg.Redis, cfg.Static}
			if got != c.want {
				t.Errorf("got %+v, want %+v", got, c.want)
			}
		})
	}
}

// --parser takes default or msgpack; anything else is a usage error
// naming the flag.
func TestParserFlag(t *testing.T) {
	for _, c := range []struct {
		arg     string
		msgpack bool
		ok      bool
	}{{"", false, true}, {"default", false, true}, {"msgpack", true, true}, {"json", false, false}} {
		args := []string{}
		if c.arg != "" {
			args = append(args, "--parser", c.arg)
		}
		cfg, err := serve.ParseFlags(args, func(string) string { return "" }, io.Discard)
		switch {
		case c.ok && (err != nil || cfg.Msgpack != c.msgpack):
			t.Errorf("--parser %q: msgpack %v, err %v; want %v", c.arg, cfg.Msgpack, err, c.msgpack)
		case !c.ok && (err == nil || !strings.Contains(err.Error(), "--parser")):
			t.Errorf("--parser %q: err %v, want one naming --parser", c.arg, err)
		}
	}
}
