package libfix

import (
	"reflect"
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
