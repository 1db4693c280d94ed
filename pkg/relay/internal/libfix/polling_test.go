package libfix

import (
	"strings"
	"testing"

	"github.com/zishang520/socket.io/parsers/engine/v3/packet"
	"github.com/zishang520/socket.io/servers/engine/v3/transports"
)

// fakePolling is the library's polling transport as far as the relay's
// wrapper uses it: it records what it was handed.
type fakePolling struct {
	transports.Polling
	sent [][]*packet.Packet
}

func (f *fakePolling) Send(p []*packet.Packet) { f.sent = append(f.sent, p) }
func (f *fakePolling) Writable() bool          { return true }

// A long-polling transport says how many of the engine's flushes each
// write carried: none for the upgrade check's noop, two when a flush held
// for the next GET goes with that GET's own; and hands what it held over
// on an upgrade, with their count.
func TestPollingFlushesPerWrite(t *testing.T) {
	f := &fakePolling{}
	p := &pollingTransport{Polling: f}
	msg := func(s string) *packet.Packet { return &packet.Packet{Type: packet.MESSAGE, Data: strings.NewReader(s)} }

	p.Send([]*packet.Packet{{Type: packet.NOOP}}) // the upgrade check takes the GET
	p.Send([]*packet.Packet{msg("a")})            // an engine flush: held
	p.Send([]*packet.Packet{{Type: packet.NOOP}}) // dropped
	if n := p.drained(); n != 0 {
		t.Errorf("the noop's write carried %d flushes, want 0", n)
	}
	p.smu.Lock()
	p.sending = false // a new GET (OnRequest)
	p.smu.Unlock()
	p.Send([]*packet.Packet{msg("b")})
	if n := p.drained(); n != 2 {
		t.Errorf("the write with a held flush carried %d flushes, want 2", n)
	}
	if len(f.sent) != 2 || len(f.sent[1]) != 2 {
		t.Fatalf("handed over %d writes (%v), want the noop, then a and b together", len(f.sent), f.sent)
	}

	p.Send([]*packet.Packet{msg("c")}) // the GET is taken: held
	p.Send([]*packet.Packet{msg("d")})
	held, k := p.takeHeld()
	if len(held) != 2 || k != 2 {
		t.Errorf("on the upgrade: %d packets of %d flushes, want 2 of 2", len(held), k)
	}
	p.Send([]*packet.Packet{msg("e")})
	if held, k := p.takeHeld(); len(held) != 1 || k != 1 {
		t.Errorf("after the upgrade: %d packets of %d flushes held, want 1 of 1", len(held), k)
	}
}
