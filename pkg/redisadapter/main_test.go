package redisadapter

import (
	"testing"

	"github.com/sio-tools/sio/internal/leaktest"
)

func TestMain(m *testing.M) { leaktest.Main(m) }
