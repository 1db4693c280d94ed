// Package leaktest checks that tests leave no goroutine behind.
//
// The zishang520 server library starts process-wide timer goroutines in
// its init (a network monitor on an interval, and the loop its timers
// share); they are allowed. Nothing else is: every client connection and
// every server connection must end its goroutines when it closes.
package leaktest

import (
	"fmt"
	"os"
	"testing"

	"go.uber.org/goleak"
)

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
	return goleak.Find(
		goleak.IgnoreAnyFunction("github.com/zishang520/socket.io/v3/pkg/utils.SetInterval.func1"),
		goleak.IgnoreAnyFunction("github.com/zishang520/socket.io/v3/pkg/utils.(*Timer).run"),
	)
}
