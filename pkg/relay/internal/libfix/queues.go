package libfix

import (
	"reflect"
	"runtime"
	"sync"
	"unsafe"

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
// of the struct that v points to, if there is one, and gives it a small
// task slice (shrinkQueue).
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
	q := (*queue.Queue)(f.UnsafePointer())
	runtime.SetFinalizer(q, nil)
	shrinkQueue(q)
}

// shrinkQueue gives an idle queue room for a few tasks instead of the
// 1,024 (8 KB) the library makes every queue with: one per socket, most
// of a connection's memory while it is idle (a busy queue grows, as any
// slice). It does nothing if the queue is not as the library had it
// (TestShrinkQueue fails then).
func shrinkQueue(q *queue.Queue) {
	v := reflect.ValueOf(q).Elem()
	mu, tasks := v.FieldByName("mu"), v.FieldByName("tasks")
	if !mu.IsValid() || mu.Type() != reflect.TypeFor[sync.Mutex]() ||
		!tasks.IsValid() || tasks.Type() != reflect.TypeFor[[]func()]() {
		return
	}
	lock := (*sync.Mutex)(unsafe.Pointer(mu.UnsafeAddr()))
	t := (*[]func())(unsafe.Pointer(tasks.UnsafeAddr()))
	lock.Lock()
	if len(*t) == 0 && cap(*t) > idleTasks {
		*t = make([]func(), 0, idleTasks)
	}
	lock.Unlock()
}

// idleTasks is the room an idle queue keeps.
const idleTasks = 4

var queueType = reflect.TypeFor[*queue.Queue]()
