package cli

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// NewFlagSet returns a flag set that reports nothing by itself: Parse
// prints the usage for -h and turns a bad flag into a usage *Error.
func NewFlagSet(prog string) *flag.FlagSet {
	fs := flag.NewFlagSet(prog, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return fs
}

// Parse parses args. For -h or --help it writes usage to stdout, for
// --version the version, and returns flag.ErrHelp; a bad flag or a stray
// argument is a usage error (exit 2).
func Parse(fs *flag.FlagSet, usage string, args []string, stdout io.Writer) error {
	version := fs.Bool("version", false, "")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, usage)
			return flag.ErrHelp
		}
		return Errorf(ExitUsage, "%v", err)
	}
	if *version {
		fmt.Fprint(stdout, Version(fs.Name()))
		return flag.ErrHelp
	}
	if fs.NArg() > 0 {
		return Errorf(ExitUsage, "unexpected argument %q", fs.Arg(0))
	}
	return nil
}

// Strings is a repeatable string flag; each value may also be a comma list.
type Strings []string

func (s *Strings) String() string { return strings.Join(*s, ",") }

// Set appends the comma-separated names in v, skipping empty ones.
func (s *Strings) Set(v string) error {
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			*s = append(*s, p)
		}
	}
	return nil
}

// Env returns the first non-empty value of the named environment variables,
// or def.
func Env(getenv func(string) string, def string, names ...string) string {
	for _, n := range names {
		if v := getenv(n); v != "" {
			return v
		}
	}
	return def
}

// DefaultHost and DefaultPort are where sio-serve listens and where sio-pub
// and sio-sub connect when nothing else is said.
const (
	DefaultHost = "127.0.0.1"
	DefaultPort = 31979
)

// DefaultURL is the server URL from SIO_URL, else from SIO_HOST and
// SIO_PORT, else http://127.0.0.1:31979.
func DefaultURL(getenv func(string) string) string {
	if u := getenv("SIO_URL"); u != "" {
		return u
	}
	host := Env(getenv, DefaultHost, "SIO_HOST")
	port := Env(getenv, strconv.Itoa(DefaultPort), "SIO_PORT")
	if strings.Contains(host, ":") && !strings.HasPrefix(host, "[") {
		host = "[" + host + "]"
	}
	return "http://" + host + ":" + port
}

// URLFromEnv names the environment variables DefaultURL took the URL
// from, or "" if it took none.
func URLFromEnv(getenv func(string) string) string {
	switch {
	case getenv("SIO_URL") != "":
		return "SIO_URL"
	case getenv("SIO_HOST") != "" || getenv("SIO_PORT") != "":
		return "SIO_HOST, SIO_PORT"
	}
	return ""
}

// ParseURL checks a server URL: http, https, ws or wss, with a host; one
// without a scheme is http ("127.0.0.1:31979/chat"). The path is the
// Socket.IO namespace ("/" when empty).
func ParseURL(s string) (*url.URL, error) {
	if !strings.Contains(s, "://") {
		s = "http://" + s
	}
	u, err := url.Parse(s)
	if err != nil {
		return nil, Errorf(ExitUsage, "bad url %q: %v", s, unwrapURLError(err))
	}
	switch u.Scheme {
	case "http", "https", "ws", "wss":
	default:
		return nil, Errorf(ExitUsage, "bad url %q: scheme must be http, https, ws or wss", s)
	}
	if u.Host == "" || u.Hostname() == "" {
		return nil, Errorf(ExitUsage, "bad url %q: no host", s)
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return nil, Errorf(ExitUsage, "bad url %q: bad port %q", s, p)
		}
	}
	return u, nil
}

func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// PositiveDuration checks that d is above zero.
func PositiveDuration(name string, d time.Duration) error {
	if d <= 0 {
		return Errorf(ExitUsage, "invalid value %q for flag -%s: must be above zero", d, name)
	}
	return nil
}

// DurationVar defines a duration flag that also takes a bare number, in
// seconds ("-W 30"), and says what a duration looks like when a value is
// not one.
func DurationVar(fs *flag.FlagSet, p *time.Duration, name string, value time.Duration) {
	*p = value
	fs.Var((*durationValue)(p), name, "")
}

type durationValue time.Duration

func (d *durationValue) String() string { return time.Duration(*d).String() }

func (d *durationValue) Set(s string) error {
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		if f < 0 || f > float64(1<<63-1)/float64(time.Second) {
			return errors.New("out of range")
		}
		*d = durationValue(time.Duration(f * float64(time.Second)))
		return nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return errors.New("want a duration such as 30s, 1m30s or 500ms (a bare number is seconds)")
	}
	*d = durationValue(v)
	return nil
}

// Repeated is a repeatable string flag whose values are taken whole (a
// header's value may hold commas).
type Repeated []string

func (r *Repeated) String() string { return strings.Join(*r, "\n") }

func (r *Repeated) Set(v string) error {
	*r = append(*r, v)
	return nil
}

// Handshake is what a client may add to its Socket.IO handshake, for
// servers that ask for it: --auth, -H/--header, --query, --path.
type Handshake struct {
	auth      string
	headers   Repeated
	query     Repeated
	path      string
	parser    string
	transport string
}

// HandshakeUsage is the usage of the Handshake flags.
const HandshakeUsage = `      --auth JSON           a JSON object sent as the handshake auth (with
                            --token and --room merged over it)
  -H, --header 'N: V'       an HTTP header sent with the websocket handshake
                            (repeatable)
      --query K=V           a query parameter sent with the handshake
                            (repeatable; also from the URL's own query)
      --path P              the server's Socket.IO path (default /socket.io/)
      --parser P            default, or msgpack for a server that uses
                            socket.io-msgpack-parser
      --transport T         upgrade (default: long-polling first, then a
                            websocket where one passes, as browsers do),
                            websocket (only), or polling (only: it never
                            upgrades)`

// Register defines the flags on fs.
func (h *Handshake) Register(fs *flag.FlagSet) {
	fs.StringVar(&h.auth, "auth", "", "")
	fs.Var(&h.headers, "H", "")
	fs.Var(&h.headers, "header", "")
	fs.Var(&h.query, "query", "")
	fs.StringVar(&h.path, "path", "", "")
	fs.StringVar(&h.parser, "parser", "default", "")
	fs.StringVar(&h.transport, "transport", "upgrade", "")
}

// Transport tells how --transport asks to connect: over long-polling
// only (polling), or first over long-polling and then a websocket
// (upgrade), or else over a websocket only.
func (h *Handshake) Transport() (polling, upgrade bool, err error) {
	switch h.transport {
	case "upgrade":
		return false, true, nil
	case "websocket":
		return false, false, nil
	case "polling":
		return true, false, nil
	}
	return false, false, Errorf(ExitUsage, "invalid value %q for --transport: want upgrade, websocket or polling", h.transport)
}

// Msgpack tells whether --parser asks for the msgpack parser.
func (h *Handshake) Msgpack() (bool, error) {
	switch h.parser {
	case "default":
		return false, nil
	case "msgpack":
		return true, nil
	}
	return false, Errorf(ExitUsage, "invalid value %q for --parser: want default or msgpack", h.parser)
}

// Apply checks the flags' values and returns the auth, the headers and
// the path, adding the query parameters to u.
func (h *Handshake) Apply(u *url.URL) (auth map[string]any, header http.Header, path string, err error) {
	if h.auth != "" {
		if err := json.Unmarshal([]byte(h.auth), &auth); err != nil || auth == nil {
			return nil, nil, "", Errorf(ExitUsage, "invalid value %q for --auth: want a JSON object", h.auth)
		}
	}
	for _, v := range h.headers {
		name, value, ok := strings.Cut(v, ":")
		name = strings.TrimSpace(name)
		if !ok || name == "" || strings.ContainsAny(name, " \t") {
			return nil, nil, "", Errorf(ExitUsage, "invalid value %q for --header: want 'Name: value'", v)
		}
		if header == nil {
			header = http.Header{}
		}
		header.Add(name, strings.TrimSpace(value))
	}
	if len(h.query) > 0 {
		q := u.Query()
		for _, v := range h.query {
			k, val, ok := strings.Cut(v, "=")
			if !ok || k == "" {
				return nil, nil, "", Errorf(ExitUsage, "invalid value %q for --query: want KEY=VALUE", v)
			}
			q.Add(k, val)
		}
		u.RawQuery = q.Encode()
	}
	if h.path != "" && !strings.HasPrefix(h.path, "/") {
		return nil, nil, "", Errorf(ExitUsage, "invalid value %q for --path: want an absolute path such as /socket.io/", h.path)
	}
	return auth, header, h.path, nil
}
