package libfix

import (
	"sync"
	"time"

	"github.com/zishang520/socket.io/parsers/engine/v3/packet"
	"github.com/zishang520/socket.io/v3/pkg/types"
)

// joinWait bounds how long a client's packets for a namespace wait for its
// join to complete. The library's own bound on joining is ConnectTimeout.
const joinWait = 5 * time.Second

// JoinGate holds back a client's packets for a namespace until its join of
// that namespace is settled (joined or refused).
//
// The library joins a namespace on a queue of its own, writes the CONNECT
// answer, and only then records the namespace as joined. A packet for the
// namespace that the connection's reader gets before that closes the whole
// connection ("invalid state"): a client that emits the moment it is told
// it is connected, as clients do, loses that event and its connection
// once in a while on a loaded machine, and a client that sends an event
// right behind its CONNECT loses it every time. The engine hands every
// packet to the relay ("packet") before it hands it to the library
// ("data"), so the reader waits here instead.
//
// The relay sees every packet of a connection (guardTransports holds them
// until its listeners are in place), so a packet for a namespace the
// client sent no CONNECT for is not held: the library closes the
// connection for it at once, rather than after joinWait (a 100 MB POST
// was read for 5 s).
type JoinGate struct {
	mu      sync.Mutex
	settled map[string]chan struct{} // by namespace; closed once joined or refused
}

// Received looks at a packet the client sent. A CONNECT starts a join; any
// other packet for a namespace waits until its join is settled.
func (j *JoinGate) Received(p *packet.Packet) {
	typ, nsp, ok := socketPacket(p)
	if !ok {
		return
	}
	j.mu.Lock()
	ch := j.settled[nsp]
	if typ == '0' {
		if ch == nil || isClosed(ch) {
			j.set(nsp, make(chan struct{}))
		}
		j.mu.Unlock()
		return
	}
	j.mu.Unlock()
	// No CONNECT for it came first: the library closes the connection at
	// once ("invalid state"), as it should.
	j.Wait(nsp)
}

// Wait blocks while a join of nsp is under way, up to joinWait.
func (j *JoinGate) Wait(nsp string) {
	j.mu.Lock()
	ch := j.settled[nsp]
	j.mu.Unlock()
	if ch == nil || isClosed(ch) {
		return
	}
	t := time.NewTimer(joinWait)
	defer t.Stop()
	select {
	case <-ch:
	case <-t.C:
	}
}

func (j *JoinGate) set(nsp string, ch chan struct{}) {
	if j.settled == nil {
		j.settled = make(map[string]chan struct{})
	}
	j.settled[nsp] = ch
}

// Sent looks at a packet for the client: a CONNECT_ERROR ends a join.
// It runs for every packet to every client: only a CONNECT_ERROR is
// parsed.
func (j *JoinGate) Sent(p *packet.Packet) {
	if p == nil || p.Type != packet.MESSAGE {
		return
	}
	if s, ok := p.Data.(*types.StringBuffer); !ok || s == nil || s.Buffer == nil || s.Len() == 0 || s.Bytes()[0] != '4' {
		return
	}
	if typ, nsp, ok := socketPacket(p); ok && typ == '4' {
		j.Done(nsp)
	}
}

// Done settles the join of nsp: the relay has the client's socket, or the
// server refused the namespace.
func (j *JoinGate) Done(nsp string) {
	j.mu.Lock()
	defer j.mu.Unlock()
	ch := j.settled[nsp]
	if ch == nil {
		ch = make(chan struct{})
		j.set(nsp, ch)
	}
	if !isClosed(ch) {
		close(ch)
	}
}

// CloseAll ends every join: the connection is gone.
func (j *JoinGate) CloseAll() {
	j.mu.Lock()
	defer j.mu.Unlock()
	for _, ch := range j.settled {
		if !isClosed(ch) {
			close(ch)
		}
	}
}

func isClosed(ch chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// socketPacket returns the type (an ASCII digit) and the namespace of the
// Socket.IO packet that an Engine.IO message carries as text:
// TYPE [ATTACHMENTS "-"] ["/" NSP ","] ... (binary attachments carry
// neither).
func socketPacket(p *packet.Packet) (typ byte, nsp string, ok bool) {
	if p == nil || p.Type != packet.MESSAGE {
		return 0, "", false
	}
	s, isText := p.Data.(*types.StringBuffer)
	if !isText || s == nil || s.Buffer == nil {
		return 0, "", false
	}
	b := s.Bytes()
	if len(b) == 0 || b[0] < '0' || b[0] > '6' {
		return 0, "", false
	}
	typ, b = b[0], b[1:]
	if typ == '5' || typ == '6' { // binary event or ack: "N-" attachments
		i := 0
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		if i < len(b) && b[i] == '-' {
			b = b[i+1:]
		}
	}
	if len(b) == 0 || b[0] != '/' {
		return typ, "/", true
	}
	end := len(b)
	for i, c := range b {
		if c == ',' {
			end = i
			break
		}
	}
	return typ, string(b[:end]), true
}
