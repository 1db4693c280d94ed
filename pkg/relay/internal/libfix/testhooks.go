package libfix

import "github.com/zishang520/socket.io/parsers/engine/v3/packet"

// The functions here are for the relay's tests only.

// SetLateCleanupHook sets testHookLateCleanup (nil clears it).
func SetLateCleanupHook(f func()) {
	if f == nil {
		testHookLateCleanup.Store(nil)
		return
	}
	testHookLateCleanup.Store(&f)
}

// SetSendHook sets a function that sees the packets the engine hands to a
// websocket transport; the function it returns runs after they were
// handed to the writer, on the goroutine that flushed them. nil removes it.
func SetSendHook(f func([]*packet.Packet) func()) {
	if f == nil {
		testHookSend.Store(nil)
		return
	}
	testHookSend.Store(&f)
}
