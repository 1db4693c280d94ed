package libfix

import (
	"reflect"
	"testing"
	"time"

	"github.com/zishang520/socket.io/v3/pkg/queue"
)

// A new queue's task slice is small once shrunk, and the queue still runs
// tasks in order, more than it had room for. If the library's queue
// changes shape, shrinkQueue does nothing and this fails.
func TestShrinkQueue(t *testing.T) {
	q := queue.New()
	defer q.TryClose()
	forgetQueue(&struct{ taskQueue *queue.Queue }{q}, "taskQueue")
	if c := reflect.ValueOf(q).Elem().FieldByName("tasks").Cap(); c != idleTasks {
		t.Fatalf("task slice of %d after shrinkQueue, want %d", c, idleTasks)
	}
	got := make(chan int, 100)
	for i := range 100 {
		q.Enqueue(func() { got <- i })
	}
	for want := range 100 {
		select {
		case i := <-got:
			if i != want {
				t.Fatalf("task %d ran in place of %d", i, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("task %d did not run", want)
		}
	}
}
