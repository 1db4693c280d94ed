package cli_test

import (
	"io"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sio-tools/sio/pkg/cli"
)

// resolve parses args into a fresh flag set holding only the ClientFlags.
func resolve(args []string, env map[string]string) (cli.ClientConfig, error) {
	fs := cli.NewFlagSet("sio-test")
	var f cli.ClientFlags
	f.Register(fs, func(k string) string { return env[k] })
	if err := cli.Parse(fs, "", args, io.Discard); err != nil {
		return cli.ClientConfig{}, err
	}
	return f.Resolve(fs)
}

func TestClientFlagsDefaults(t *testing.T) {
	c, err := resolve(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := cli.ClientConfig{ConnectTimeout: 10 * time.Second, Upgrade: true}
	if c.URL.String() != "http://127.0.0.1:31979" {
		t.Errorf("URL %s", c.URL)
	}
	c.URL = nil
	if !reflect.DeepEqual(c, want) {
		t.Errorf("got %+v, want %+v", c, want)
	}
}

func TestClientFlagsEnvironment(t *testing.T) {
	env := map[string]string{"SIO_URL": "http://a:1/chat", "SIO_TOKEN": "e"}
	c, err := resolve(nil, env)
	if err != nil {
		t.Fatal(err)
	}
	if c.URL.String() != "http://a:1/chat" || c.Token != "e" {
		t.Errorf("URL %s, token %q; want the environment's", c.URL, c.Token)
	}
	c, err = resolve([]string{"-u", "ws://b:2", "--token", "f"}, env)
	if err != nil {
		t.Fatal(err)
	}
	if c.URL.String() != "ws://b:2" || c.Token != "f" {
		t.Errorf("URL %s, token %q; want the flags'", c.URL, c.Token)
	}
}

// Every flag lands in its field; the handshake's query joins the URL's.
func TestClientFlagsAll(t *testing.T) {
	c, err := resolve([]string{
		"--url", "wss://h:3/ns?a=1", "-r", "x,y", "--room", "z", "--token", "t", "--connect-timeout", "2",
		"--insecure", "--auth", `{"k":"v"}`, "-H", "X-A: b", "--query", "q=r", "--path", "/p/",
		"--parser", "msgpack", "--transport", "polling",
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.URL.String() != "wss://h:3/ns?a=1&q=r" {
		t.Errorf("URL %s", c.URL)
	}
	if strings.Join(c.Rooms, ",") != "x,y,z" || c.Token != "t" || c.ConnectTimeout != 2*time.Second {
		t.Errorf("rooms %q, token %q, connect timeout %v", c.Rooms, c.Token, c.ConnectTimeout)
	}
	if c.TLS == nil || !c.TLS.InsecureSkipVerify {
		t.Errorf("TLS %+v: want InsecureSkipVerify", c.TLS)
	}
	if c.Auth["k"] != "v" || c.Header.Get("X-A") != "b" || c.Path != "/p/" || !c.Msgpack || !c.Polling {
		t.Errorf("auth %v, header %v, path %q, msgpack %v, polling %v", c.Auth, c.Header, c.Path, c.Msgpack, c.Polling)
	}
}

// A bad value is a usage error; a bad URL from the environment names the
// variables, one from the flag does not.
func TestClientFlagsErrors(t *testing.T) {
	for _, c := range []struct {
		args []string
		env  map[string]string
		msg  string
	}{
		{nil, map[string]string{"SIO_URL": "ftp://a:1"}, `bad url "ftp://a:1": scheme must be http, https, ws or wss (from SIO_URL)`},
		{nil, map[string]string{"SIO_HOST": "a", "SIO_PORT": "0"}, `bad url "http://a:0": bad port "0" (from SIO_HOST, SIO_PORT)`},
		{[]string{"--url", "ftp://b:1"}, map[string]string{"SIO_URL": "http://a:1"}, `bad url "ftp://b:1": scheme must be http, https, ws or wss`},
		{[]string{"--connect-timeout", "0"}, nil, `invalid value "0s" for flag -connect-timeout: must be above zero`},
		{[]string{"--cacert", "/nonexistent"}, nil, "--cacert: open /nonexistent: no such file or directory"},
		{[]string{"-H", "nocolon"}, nil, `invalid value "nocolon" for --header: want 'Name: value'`},
		{[]string{"--parser", "cbor"}, nil, `invalid value "cbor" for --parser: want default or msgpack`},
		{[]string{"--transport", "udp"}, nil, `invalid value "udp" for --transport: want upgrade, websocket or polling`},
	} {
		_, err := resolve(c.args, c.env)
		if cli.ExitCode(err) != cli.ExitUsage || err == nil || err.Error() != c.msg {
			t.Errorf("%q %v: exit %d, %v; want exit %d, %s", c.args, c.env, cli.ExitCode(err), err, cli.ExitUsage, c.msg)
		}
	}
}
