package sub

import (
	"io"
	"testing"
)

// A flag beats the environment, which beats the default.
func TestFlagsOverEnvironment(t *testing.T) {
	for _, c := range []struct {
		name     string
		args     []string
		env      map[string]string
		url, tok string
	}{
		{"defaults", nil, nil, "http://127.0.0.1:31979", ""},
		{"host and port", nil, map[string]string{"SIO_HOST": "10.0.0.2", "SIO_PORT": "8080"}, "http://10.0.0.2:8080", ""},
		{"IPv6 host", nil, map[string]string{"SIO_HOST": "::1"}, "http://[::1]:31979", ""},
		{"SIO_URL over host and port", nil, map[string]string{"SIO_URL": "http://a:1/chat", "SIO_HOST": "b"}, "http://a:1/chat", ""},
		{"--url over SIO_URL", []string{"--url", "http://c:2"}, map[string]string{"SIO_URL": "http://a:1"}, "http://c:2", ""},
		{"-u over SIO_URL", []string{"-u", "ws://c:3/x"}, map[string]string{"SIO_URL": "http://a:1"}, "ws://c:3/x", ""},
		{"SIO_TOKEN", nil, map[string]string{"SIO_TOKEN": "e"}, "http://127.0.0.1:31979", "e"},
		{"--token over SIO_TOKEN", []string{"--token", "f"}, map[string]string{"SIO_TOKEN": "e"}, "http://127.0.0.1:31979", "f"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := ParseFlags(c.args, func(k string) string { return c.env[k] }, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			if cfg.URL.String() != c.url || cfg.Token != c.tok {
				t.Errorf("URL %s, token %q; want %s, %q", cfg.URL, cfg.Token, c.url, c.tok)
			}
		})
	}
}
