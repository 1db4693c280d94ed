package libfix

import (
	"testing"
	"time"

	"github.com/zishang520/socket.io/parsers/engine/v3/packet"
	"github.com/zishang520/socket.io/v3/pkg/types"
)

func msg(s string) *packet.Packet {
	return &packet.Packet{Type: packet.MESSAGE, Data: types.NewStringBufferString(s)}
}

// passes reports whether Received lets a packet through within d (it
// blocks while the packet's namespace is being joined).
func passes(j *JoinGate, p *packet.Packet, d time.Duration) bool {
	done := make(chan struct{})
	go func() {
		j.Received(p)
		close(done)
	}()
	select {
	case <-done:
		return true
	case <-time.After(d):
		return false
	}
}

// The join gate, without sockets: a packet for a namespace being joined
// waits until the join is settled (the relay has the socket, or the
// server refused), other namespaces' packets and those with no CONNECT
// before them pass at once, and a closed connection lets everything go.
func TestJoinGate(t *testing.T) {
	const soon = 200 * time.Millisecond
	t.Run("held until joined", func(t *testing.T) {
		var j JoinGate
		j.Received(msg("0/chat,{}"))
		ev := msg(`2/chat,["a"]`)
		done := make(chan struct{})
		go func() { j.Received(ev); close(done) }()
		select {
		case <-done:
			t.Fatal("an event for a namespace being joined passed before the join")
		case <-time.After(soon):
		}
		if !passes(&j, msg(`2["b"]`), soon) {
			t.Error("an event for another namespace (/) waited")
		}
		j.Done("/chat")
		select {
		case <-done:
		case <-time.After(time.Second):
			t.Fatal("the event still waits after the join")
		}
		if !passes(&j, msg(`2/chat,["c"]`), soon) {
			t.Error("an event after the join waited")
		}
	})
	t.Run("binary event and ack", func(t *testing.T) {
		var j JoinGate
		j.Received(msg("0/chat,"))
		if passes(&j, msg(`51-/chat,["a",{"_placeholder":true,"num":0}]`), soon) {
			t.Error("a binary event for a namespace being joined passed")
		}
		j.Done("/chat")
	})
	t.Run("refused", func(t *testing.T) {
		var j JoinGate
		j.Received(msg("0/x,"))
		j.Sent(msg(`2/x,["not for the gate"]`)) // an EVENT, not a CONNECT_ERROR
		if passes(&j, msg(`2/x,["a"]`), soon) {
			t.Fatal("an event passed before the join was settled")
		}
		j.Sent(msg(`4/x,{"message":"unauthorized"}`))
		if !passes(&j, msg(`2/x,["b"]`), soon) {
			t.Error("an event waited after the CONNECT_ERROR")
		}
	})
	t.Run("no CONNECT", func(t *testing.T) {
		var j JoinGate
		if !passes(&j, msg(`2/never,["a"]`), soon) {
			t.Error("a packet for a namespace never asked for waited (the library closes the connection for it)")
		}
	})
	t.Run("closed", func(t *testing.T) {
		var j JoinGate
		j.Received(msg("0/a,"))
		j.Received(msg("0/b,"))
		j.CloseAll()
		if !passes(&j, msg(`2/a,["x"]`), soon) || !passes(&j, msg(`2/b,["x"]`), soon) {
			t.Error("a packet waited on a closed connection")
		}
	})
	t.Run("join again", func(t *testing.T) {
		var j JoinGate
		j.Received(msg("0/a,"))
		j.Done("/a")
		j.Received(msg("0/a,")) // a second join of the namespace, after leaving it
		if passes(&j, msg(`2/a,["x"]`), soon) {
			t.Error("an event passed during a second join")
		}
		j.Done("/a")
	})
}
