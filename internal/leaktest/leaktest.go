// Package leaktest checks that tests leave no goroutine behind, allowing
// exactly the ones the Socket.IO client library is known to leave.
//
// The zishang520 client's Manager starts a task-queue goroutine that
// nothing ever stops (clients/socket/v3 manager.go: queue.New, and the
// queue has no Close). sio-pub and sio-sub make one Manager per process, so
// it is one goroutine for the life of the process; tests that dial many
// times see one per dial. Main allows at most one such goroutine per
// Dial the tests made, and nothing else.
package leaktest

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// Dials counts client connections made by tests; add one per conn.Dial.
var Dials atomic.Int64

const queueLoop = "github.com/zishang520/socket.io/v3/pkg/queue.(*Queue).loop"

// Main runs the tests and then the leak check; it calls os.Exit.
func Main(m *testing.M) {
	code := m.Run()
	if code == 0 {
		if err := Check(); err != nil {
			fmt.Fprintf(os.Stderr, "leaktest: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}

// Check returns an error naming the goroutines left behind.
func Check() error {
	opts := []goleak.Option{
		goleak.IgnoreAnyFunction(queueLoop),
		// The client library's init starts a network monitor (a
		// process-wide interval) and its timers share one loop.
		goleak.IgnoreAnyFunction("github.com/zishang520/socket.io/v3/pkg/utils.SetInterval.func1"),
		goleak.IgnoreAnyFunction("github.com/zishang520/socket.io/v3/pkg/utils.(*Timer).run"),
	}
	if err := goleak.Find(opts...); err != nil {
		return err
	}
	allowed := Dials.Load()
	var loops map[string]int64
	deadline := time.Now().Add(2 * time.Second)
	for {
		loops = queueLoops()
		if sum(loops) <= allowed || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if n := sum(loops); n > allowed && os.Getenv("SIO_LEAKDUMP") != "" {
		buf := make([]byte, 1<<22)
		fmt.Fprintf(os.Stderr, "%s\n", buf[:runtime.Stack(buf, true)])
	}
	if n := sum(loops); n > allowed {
		return fmt.Errorf("%d library task-queue goroutines left, more than the %d client managers made; created by: %v", n, allowed, loops)
	}
	return nil
}

// queueLoops counts the library's queue goroutines by the function that
// created them.
func queueLoops() map[string]int64 {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	loops := map[string]int64{}
	for _, g := range strings.Split(string(buf), "\n\n") {
		if !strings.Contains(g, queueLoop+"(") {
			continue
		}
		by := "?"
		if i := strings.Index(g, "created by "); i >= 0 {
			by = strings.Fields(g[i+len("created by "):])[0]
		}
		loops[by]++
	}
	return loops
}

func sum(m map[string]int64) (n int64) {
	for _, v := range m {
		n += v
	}
	return n
}
