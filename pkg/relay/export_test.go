package relay

import (
	"strings"

	"github.com/sio-tools/sio/pkg/relay/internal/libfix"
	"github.com/zishang520/socket.io/parsers/engine/v3/packet"
)

// SetRestoreHook sets a function that runs after a session was restored
// and before its socket is registered; nil removes it.
func SetRestoreHook(f func()) { testHookRestored = f }

// SetLateCleanupHook sets a function that runs as a long-polling GET's
// clean-up is written late (libfix; nil clears it).
func SetLateCleanupHook(f func()) { libfix.SetLateCleanupHook(f) }

// SetEngineCloseHook sets a function that runs when the relay sees an
// engine connection end, before the library does; nil removes it.
func SetEngineCloseHook(f func()) {
	if f == nil {
		testHookEngineClose.Store(nil)
		return
	}
	testHookEngineClose.Store(&f)
}

// SetSendHook sets a function that sees the packets the engine hands to a
// websocket transport; the function it returns runs after they were
// handed to the writer, on the goroutine that flushed them. nil removes it.
func SetSendHook(f func([]*packet.Packet) func()) { libfix.SetSendHook(f) }

// PollWaiting reports whether the long-polling connection sid has a GET
// waiting for data.
func PollWaiting(r *Relay, sid string) bool {
	if r.lite != nil {
		r.lite.mu.RLock()
		lc := r.lite.sids[sid]
		r.lite.mu.RUnlock()
		if lc != nil {
			return lc.c.GetHeld()
		}
	}
	s, ok := r.io.Engine().Clients().Load(sid)
	return ok && s.Transport().Name() == "polling" && s.Transport().Writable()
}

// OwnSessions returns the number of open sessions of the relay's own.
func OwnSessions(r *Relay) int {
	if r.lite == nil {
		return 0
	}
	return r.lite.count()
}

// SetHandOverRounds sets the batches a sender hands over before a
// goroutine of its own takes over, and returns a function that restores it.
func SetHandOverRounds(n int) func() {
	old := maxRounds
	maxRounds = n
	return func() { maxRounds = old }
}

// HandOffs returns how often a goroutine of its own took over handing the
// events of namespace nsp to their recipients.
func HandOffs(r *Relay, nsp string) int {
	l := r.recovery.log(nsp)
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.handOffs
}

// Logs returns the number of namespaces whose events recovery numbers.
func Logs(r *Relay) int {
	n := 0
	r.recovery.logs.Range(func(any, any) bool { n++; return true })
	return n
}

// KeptBytes returns the bytes recovery keeps, events and their overhead.
func KeptBytes(r *Relay) int64 { return r.recovery.bytes.Load() }

// SendTwice hands the long-polling connection sid's transport two
// messages, one send each, as the engine's flush and its upgrade check
// may at once; it reports whether the connection was there.
func SendTwice(r *Relay, sid, first, second string) bool {
	s, ok := r.io.Engine().Clients().Load(sid)
	if !ok {
		return false
	}
	t := s.Transport()
	t.Send([]*packet.Packet{{Type: packet.MESSAGE, Data: strings.NewReader(first)}})
	t.Send([]*packet.Packet{{Type: packet.MESSAGE, Data: strings.NewReader(second)}})
	return true
}

// SetShutdownHooks sets the functions that run as a joined socket is
// about to be recorded, and once Close has listed the sockets to tell.
func SetShutdownHooks(joining, closing func()) { testHookJoining, testHookClosing = joining, closing }

// Guarded is how many namespaces had their freeing guarded
// (libfix.GuardCleanup).
func Guarded(r *Relay) int64 { return r.guarded.Load() }
