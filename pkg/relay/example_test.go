package relay_test

import (
	"net/http"
	"time"

	"github.com/sio-tools/sio/pkg/relay"
)

// The relay mounted at /socket.io/ in a mux, as the package doc shows.
func Example() {
	r := relay.New(relay.Options{})
	defer r.Close(time.Second)
	mux := http.NewServeMux()
	mux.Handle("/socket.io/", r)
	_ = http.ListenAndServe // serve mux: http.ListenAndServe("127.0.0.1:31979", mux)
}
