package cli

import (
	"crypto/tls"
	"errors"
	"flag"
	"net/http"
	"net/url"
	"time"
)

// ClientFlags are the flags sio-pub and sio-sub share: which server, as
// whom, and how to connect to it. Their usage text stays in each command's
// own, beside its other options.
type ClientFlags struct {
	getenv         func(string) string
	url            string
	rooms          Strings
	token          string
	connectTimeout time.Duration
	tls            TLSFlags
	handshake      Handshake
}

// ClientConfig is what the ClientFlags say.
type ClientConfig struct {
	URL   *url.URL
	Rooms []string
	Token string
	// Auth, Header and Path add to the handshake (Handshake).
	Auth           map[string]any
	Header         http.Header
	Path           string
	Msgpack        bool // the msgpack parser (--parser msgpack)
	Polling        bool // long-polling only (--transport polling)
	Upgrade        bool // long-polling, then a websocket (--transport upgrade)
	TLS            *tls.Config
	ConnectTimeout time.Duration
}

// Register defines the flags on fs, with their defaults from getenv:
// -u/--url (SIO_URL, SIO_HOST, SIO_PORT), -r/--room, --token (SIO_TOKEN),
// --connect-timeout, the TLS and the handshake flags.
func (f *ClientFlags) Register(fs *flag.FlagSet, getenv func(string) string) {
	f.getenv = getenv
	for _, n := range []string{"u", "url"} {
		fs.StringVar(&f.url, n, DefaultURL(getenv), "")
	}
	for _, n := range []string{"r", "room"} {
		fs.Var(&f.rooms, n, "")
	}
	fs.StringVar(&f.token, "token", getenv("SIO_TOKEN"), "")
	DurationVar(fs, &f.connectTimeout, "connect-timeout", 10*time.Second)
	f.tls.Register(fs)
	f.handshake.Register(fs)
}

// Resolve checks the values fs parsed into the flags; a bad one is a usage
// error (exit 2).
func (f *ClientFlags) Resolve(fs *flag.FlagSet) (ClientConfig, error) {
	c := ClientConfig{Rooms: f.rooms, Token: f.token, ConnectTimeout: f.connectTimeout}
	var err error
	if c.TLS, err = f.tls.Config(); err != nil {
		return c, err
	}
	if c.URL, err = f.parseURL(fs); err != nil {
		return c, err
	}
	if c.Auth, c.Header, c.Path, err = f.handshake.Apply(c.URL); err != nil {
		return c, err
	}
	if c.Msgpack, err = f.handshake.Msgpack(); err != nil {
		return c, err
	}
	if c.Polling, c.Upgrade, err = f.handshake.Transport(); err != nil {
		return c, err
	}
	if err := PositiveDuration("connect-timeout", c.ConnectTimeout); err != nil {
		return c, err
	}
	return c, nil
}

// parseURL parses --url. A bad URL that came from the environment names
// the variables, as the user may not know they are set.
func (f *ClientFlags) parseURL(fs *flag.FlagSet) (*url.URL, error) {
	u, err := ParseURL(f.url)
	if err == nil {
		return u, nil
	}
	urlSet := false
	fs.Visit(func(fl *flag.Flag) { urlSet = urlSet || fl.Name == "url" || fl.Name == "u" })
	if env := URLFromEnv(f.getenv); env != "" && !urlSet {
		return nil, Errorf(ExitUsage, "%v (from %s)", errors.Unwrap(err), env)
	}
	return nil, err
}
