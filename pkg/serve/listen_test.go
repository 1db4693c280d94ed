package serve

import (
	"errors"
	"net"
	"testing"
)

// A host that does not resolve is named in the error (Go's own error has
// no address then: the message read "listen: %!s(<nil>): ...").
func TestListenErrorNamesTheAddress(t *testing.T) {
	err := listenError("999.1.1.1:80", &net.OpError{Op: "listen", Net: "tcp", Err: errors.New("lookup 999.1.1.1: no such host")})
	if got, want := err.Error(), "999.1.1.1:80: lookup 999.1.1.1: no such host"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
