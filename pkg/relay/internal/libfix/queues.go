package libfix

import (
	"reflect"
	"runtime"

	"github.com/zishang520/socket.io/v3/pkg/queue"
)

// The library's task queue (queue.New) sets a finalizer on a struct that
// points to itself (its sync.Cond holds the queue's own mutex). Go never
// collects a cycle that holds an object with a finalizer, so every queue
// the library ever made stays in memory, about 9.7 KB each (a 1,024-slot
// task slice), after it was closed: one per Socket.IO socket (joined or
// refused: a refused CONNECT, a bad token, sio-pub's confirmation request
// over polling) and one per polling transport. Over days that is the
// server's whole memory (docs/LIBRARY.md: queues never freed).
//
// The finalizer never runs anyway (the queue's goroutine holds it while it
// runs, the cycle after), so taking it off changes nothing but this: a
// closed queue is freed like any other garbage. TestLibraryQueuesLeak
// shows the library's behaviour; when it fails, the library was fixed and
// this file can go.

// forgetQueue takes the finalizer off the queue in the field named field
// of the struct that v points to, if there is one.
func forgetQueue(v any, field string) {
	rv := reflect.ValueOf(v)
	for rv.Kind() == reflect.Interface || rv.Kind() == reflect.Pointer {
		if rv.IsNil() {
			return
		}
		rv = rv.Elem()
	}
	if rv.Kind() != reflect.Struct {
		return
	}
	f := rv.FieldByName(field)
	if !f.IsValid() || f.Type() != queueType || f.IsNil() {
		return
	}
	runtime.SetFinalizer((*queue.Queue)(f.UnsafePointer()), nil)
}

var queueType = reflect.TypeFor[*queue.Queue]()
