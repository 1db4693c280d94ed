#!/usr/bin/env bash
# Issue 7: how long can a connect take? 2,000 clients connect to a fresh
# sio-serve (and, for comparison, to the Node reference relay), 100 at a
# time, 10 times, with the sio commands' own client (pkg/conn.Dial) and
# with a raw websocket client; prints connect p50/p99/max and failures.
# A stuck connect (the library's lost first packet and its client's lost open event) shows as a time over 2 s.
#   scripts/connect-storm.sh            # 10 runs
#   BENCH_RUNS=3 scripts/connect-storm.sh
set -eu
cd "$(dirname "$0")/.."
BENCH_ONLY=storm BENCH_RUNS=${BENCH_RUNS:-10} exec scripts/bench.sh
