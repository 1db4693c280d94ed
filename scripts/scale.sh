#!/usr/bin/env bash
# Scale: 100,000 websocket clients (BENCH_SCALE_CONNS) from the loopback
# source addresses 127.0.0.2 and up connect to one sio-serve, stay 60 s
# (BENCH_SCALE_HOLD), then receive one broadcast each; the same against the
# Node reference relay. Prints connects/s, server RSS and CPU while idle,
# the time until every client got the broadcast and the connections lost,
# side by side. Raises ulimit -n to the clients + 200 first and fails, with
# the most this machine allows, when it cannot (BENCH_SCALE_FORCE=1 goes on
# to see where it stops). See scripts/bench.sh for the other variables.
#   scripts/scale.sh
#   BENCH_SCALE_CONNS=10000 BENCH_SCALE_HOLD=10s scripts/scale.sh
set -eu
cd "$(dirname "$0")/.."
BENCH_ONLY=scale BENCH_RUNS=${BENCH_RUNS:-1} exec scripts/bench.sh
