# sio: Socket.IO for shell pipelines.
GO      ?= go
BIN     := bin
GOFLAGS ?=

.PHONY: all build peers test race lint bench demo clean

all: build

build:
	$(GO) build -o $(BIN)/ ./cmd/...

# The real peers the tests use (Node, python-socketio, Chromium, Redis,
# mosquitto). A peer that cannot be installed makes its tests skip, or
# fail under CI=true; the tests say which.
peers:
	-scripts/peers.sh

# The suite CI runs (.ci/run): vet, then every test with the race detector.
# The e2e tests build their own race-enabled binaries.
test: peers
	$(GO) vet ./...
	$(GO) test -race -count=1 -timeout 18m -p 2 ./...

race: test

lint:
	$(GO) vet ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@2025.1.1 ./...

bench: build
	scripts/bench.sh

demo: build
	scripts/demo.sh

clean:
	rm -rf $(BIN)
