package relay

import (
	"sync"
	"sync/atomic"

	"github.com/zishang520/socket.io/parsers/engine/v3/packet"
	"github.com/zishang520/socket.io/servers/engine/v3/transports"
	"github.com/zishang520/socket.io/v3/pkg/types"
)

// pollingTransport is the library's long-polling transport with one fix:
// a poll request's clean-up runs once.
//
// The library sets a clean-up on each GET it holds (it forgets the
// request) and runs it twice: when it writes the response, and again
// when the request's context ends, after the handler returned. A client
// that sends its next GET as soon as it has read the response (every
// client does) can have that GET taken in between: the second clean-up
// then forgets the new GET, which is never answered, and the session
// hangs until the ping timeout. About 1 in 600 polling joins here
// (TestRelayAnswersEveryPoll).
type pollingTransport struct {
	transports.Polling
}

func fixPolling(t transports.Transport) transports.Transport {
	p, ok := t.(transports.Polling)
	if !ok {
		return t
	}
	w := &pollingTransport{p}
	p.Prototype(w) // the library's own calls to DoWrite come here
	return w
}

// DoWrite answers a poll request; its clean-up now runs once.
func (p *pollingTransport) DoWrite(ctx *types.HttpContext, data types.BufferInterface, opts *packet.Options, done func(error)) {
	if cleanup := ctx.Cleanup; cleanup != nil {
		var once sync.Once
		var calls atomic.Int32
		ctx.Cleanup = func() {
			if hook := testHookLateCleanup.Load(); calls.Add(1) > 1 && hook != nil {
				(*hook)()
			}
			once.Do(cleanup)
		}
	}
	p.Polling.DoWrite(ctx, data, opts, done)
}

// testHookLateCleanup, when set, runs before a poll request's clean-up is
// run again (a test pauses there: the client's next GET is taken).
var testHookLateCleanup atomic.Pointer[func()]
