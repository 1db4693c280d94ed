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

// --redis-streams (or SIO_REDIS_STREAMS_URL) with its stream flags; it
// does not go with --redis, and bad values are usage errors naming the
// flag.
func TestRedisStreamsFlags(t *testing.T) {
	cfg, err := serve.ParseFlags([]string{"--stream-name", "s", "--stream-maxlen", "5", "--stream-read-count", "7"},
		func(k string) string { return map[string]string{"SIO_REDIS_STREAMS_URL": "redis://h:1/0"}[k] }, io.Discard)
	if err != nil || cfg.RedisStreams != "redis://h:1/0" || cfg.Streams.StreamName != "s" || cfg.Streams.MaxLen != 5 ||
		cfg.Streams.ReadCount != 7 || cfg.Recover != 0 {
		t.Errorf("got %+v, %v", cfg, err)
	}
	for _, c := range []struct {
		args []string
		name string
	}{
		{[]string{"--redis-streams", "http://x"}, "--redis-streams"},
		{[]string{"--redis-streams", "redis://h:1/0", "--redis", "redis://h:1/0"}, "--redis-streams"},
		{[]string{"--stream-maxlen", "0"}, "--stream-maxlen"},
		{[]string{"--stream-read-count", "-1"}, "--stream-read-count"},
		{[]string{"--stream-name", ""}, "--stream-name"},
	} {
		if _, err := serve.ParseFlags(c.args, func(string) string { return "" }, io.Discard); err == nil || !strings.Contains(err.Error(), c.name) {
			t.Errorf("%v: %v, want an error naming %s", c.args, err, c.name)
		}
	}
}
