package e2e

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/sio-tools/sio/internal/soak"
)

// tWriter logs each write of the soak's progress through t.Log.
type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// TestSoakShort runs the soak harness (internal/soak) for a few short runs
// against the binaries under test: several modes and faults, 20,000
// lines per publisher, about 90 s in all. A failed run fails the test.
// scripts/soak.sh (make soak) runs the long soak. SIO_SOAK_SHORT=0 skips
// it.
func TestSoakShort(t *testing.T) {
	if os.Getenv("SIO_SOAK_SHORT") == "0" {
		t.Skip("SIO_SOAK_SHORT=0")
	}
	cfg := soak.Config{
		Bin:      binDir,
		Lines:    20000,
		Duration: 75 * time.Second, // no run starts after this; a run takes seconds
		Seed:     time.Now().UnixNano() % 1_000_000_000,
		Combos: []soak.Combo{
			{Mode: "plain", Fault: "none"},
			{Mode: "fanout", Fault: "cut-sub"},
			{Mode: "ack", Fault: "kill"},
			{Mode: "plain", Fault: "storm"},
			{Mode: "multipub", Fault: "cut-pub"},
			{Mode: "bridge", Fault: "stop-sub"},
			{Mode: "fanout", Fault: "burn"},
			{Mode: "plain", Fault: "pause"},
		},
		Runs:      8,
		Settle:    3 * time.Second,
		StormSize: 50,
		Log:       tWriter{t},
	}
	sum, err := soak.Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	var table strings.Builder
	if err := sum.Table(&table); err != nil {
		t.Fatal(err)
	}
	t.Logf("seed %d, %d run(s):\n%s", sum.Seed, sum.Runs, table.String())
	if sum.Failed > 0 {
		for _, f := range sum.Failures {
			t.Error(f.String())
		}
	}
}
