package cli

import (
	"crypto/tls"
	"crypto/x509"
	"flag"
	"os"
)

// TLSFlags are the client's --cacert and --insecure.
type TLSFlags struct {
	CACert   string
	Insecure bool
}

// TLSUsage is their help text, for the options of sio-pub and sio-sub.
const TLSUsage = `      --cacert FILE         trust the certificates in FILE (PEM) for https
                            and wss URLs, besides the system's
      --insecure            do not verify the server's certificate`

// Register adds the flags to fs.
func (f *TLSFlags) Register(fs *flag.FlagSet) {
	fs.StringVar(&f.CACert, "cacert", "", "")
	fs.BoolVar(&f.Insecure, "insecure", false, "")
}

// Config returns the TLS configuration the flags ask for; nil when they ask
// for nothing (the system's roots).
func (f *TLSFlags) Config() (*tls.Config, error) {
	if f.CACert == "" && !f.Insecure {
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: f.Insecure}
	if f.CACert != "" {
		pem, err := os.ReadFile(f.CACert)
		if err != nil {
			return nil, Errorf(ExitUsage, "--cacert: %v", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, Errorf(ExitUsage, "--cacert %s: no PEM certificate in it", f.CACert)
		}
		cfg.RootCAs = pool
	}
	return cfg, nil
}
