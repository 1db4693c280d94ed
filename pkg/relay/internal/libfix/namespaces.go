package libfix

import (
	"reflect"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/zishang520/socket.io/servers/engine/v3"
	"github.com/zishang520/socket.io/servers/socket/v3"
	"github.com/zishang520/socket.io/v3/pkg/types"
	"github.com/zishang520/socket.io/v3/pkg/utils"
)

// Namespaces returns the library's map of the namespaces it serves,
// by name, or nil if the library no longer has it where it had (a test
// fails then: TestRecoveryForgetsLogsOfFreedNamespaces, as every
// namespace then counts as served).
//
// The relay only reads it, to tell whether a namespace a socket joined is
// still the one served under its name (Relay.orphan), and whether a
// namespace is served at all (Relay.served): the library frees
// an empty namespace (ServerOptions.CleanupEmptyChildNamespaces), and has
// no way to look one up that does not make it again.
func Namespaces(io *socket.Server) *types.Map[string, socket.Namespace] {
	v := reflect.ValueOf(io)
	if v.Kind() != reflect.Pointer || v.IsNil() {
		return nil
	}
	f := v.Elem().FieldByName("_nsps")
	if !f.IsValid() || f.Type() != reflect.TypeFor[*types.Map[string, socket.Namespace]]() {
		return nil
	}
	return *(**types.Map[string, socket.Namespace])(unsafe.Pointer(f.UnsafeAddr()))
}

// SocketPid returns a socket's private session id (the library keeps it
// unexported), or "" if it cannot be read.
func SocketPid(s *socket.Socket) socket.PrivateSessionId {
	f := reflect.ValueOf(s).Elem().FieldByName("pid")
	if !f.IsValid() || f.Kind() != reflect.String {
		return ""
	}
	return socket.PrivateSessionId(f.String())
}

// DropPid takes away a socket's private session id before its CONNECT
// answer is written, which then carries no "pid". With recovery on the
// library gives every socket one, and a pid tells the client its session
// can be resumed: a relay that keeps sessions only for the clients that
// asked (OffsetsKey) promised others what it would not do, and answered
// the protocol's own connect tests with a key they do not expect. It
// reports whether it could.
func DropPid(s *socket.Socket) bool {
	f := reflect.ValueOf(s).Elem().FieldByName("pid")
	if !f.IsValid() || f.Kind() != reflect.String {
		return false
	}
	*(*string)(unsafe.Pointer(f.UnsafeAddr())) = ""
	return true
}

// clearPingTimeout stops an engine connection's ping timeout timer (the
// library keeps it unexported; see heartbeat). It does nothing if the
// library no longer has it where it had.
func clearPingTimeout(conn engine.Socket) {
	v := reflect.ValueOf(conn)
	if v.Kind() != reflect.Pointer || v.IsNil() {
		return
	}
	f := v.Elem().FieldByName("pingTimeoutTimer")
	if !f.IsValid() || f.Type() != reflect.TypeFor[atomic.Pointer[utils.Timer]]() {
		return
	}
	utils.ClearTimeout((*atomic.Pointer[utils.Timer])(unsafe.Pointer(f.UnsafeAddr())).Load())
}

// GuardCleanup makes the library's freeing of an empty namespace (its
// cleanup, run whenever a socket leaves it) hold mu while it runs. The
// library looks whether the namespace is empty, closes its adapter, then
// forgets it: a socket that joins in between is recorded in a namespace
// about to be forgotten, and a check of the relay's (Relay.orphan) that
// ran before the namespace was forgotten passed it (the socket then
// stayed alone there, hearing nobody and heard by nobody). Holding mu
// around both makes them one step for whoever checks under mu. It
// reports whether it could (false: the library no longer keeps the
// cleanup where it did, or the namespace has none).
func GuardCleanup(nsp socket.Namespace, mu *sync.Mutex) bool {
	v := reflect.ValueOf(nsp)
	if v.Kind() != reflect.Pointer || v.IsNil() || v.Elem().Kind() != reflect.Struct {
		return false
	}
	f := v.Elem().FieldByName("_cleanup")
	if !f.IsValid() || f.Type() != reflect.TypeFor[types.Callable]() {
		return false
	}
	cleanup := *(*types.Callable)(unsafe.Pointer(f.UnsafeAddr()))
	if cleanup == nil {
		return false
	}
	nsp.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		cleanup()
	})
	return true
}
