#!/usr/bin/env bash
# make soak: the soak and fault harness (internal/cmd/sio-soak) against the
# binaries of this tree. It builds bin/sio-serve, bin/sio-pub, bin/sio-sub
# and bin/sio-soak, then runs the pipelines users build (plain, ack,
# fanout, multipub, bridge) again and again for SOAK_DURATION while it
# injects faults (a server killed, processes stopped, connections cut or
# held, CPU burners, a connection storm), checks every line and prints one
# table. Everything listens on 127.0.0.1 only; every process it starts is
# stopped by the harness, each by its PID.
#
# Environment:
#   SOAK_DURATION=D   start no run after D (default 10m)
# Extra arguments go to sio-soak (sio-soak -h), e.g.
#   scripts/soak.sh --faults cut-sub --serve-args "--recover 30s" --keep /tmp/soak
#
# Exit status: 0 when every run passed, 1 when one failed, 2 usage.
set -eu
cd "$(dirname "$0")/.."

duration=${SOAK_DURATION:-10m}
go build -o bin/ ./cmd/...
go build -o bin/sio-soak ./internal/cmd/sio-soak
exec bin/sio-soak --bin bin --duration "$duration" "$@"
