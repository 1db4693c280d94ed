#!/usr/bin/env bash
# The demo: sio-serve, a publisher that emits a counter every second (like
# the original demo_final task), and a sio-sub printing it. Ctrl-C stops all.
set -eu
cd "$(dirname "$0")/.."
export PATH="$PWD/bin:$PATH"

host=${SIO_HOST:-127.0.0.1}
port=${SIO_PORT:-31979}
url="http://$host:$port"
log=$(mktemp)
pids=()
cleanup() {
	trap - EXIT INT TERM
	# Ctrl-C (or a TERM to the group) reached every process already; else
	# stop them here. The clients first, then the server: newest first.
	for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
		[ "$1" != EXIT ] || kill "${pids[i]}" 2>/dev/null || true
		wait "${pids[i]}" 2>/dev/null || true
	done
	rm -f "$log"
}
trap 'cleanup EXIT' EXIT
trap 'cleanup INT' INT
trap 'cleanup TERM' TERM

sio-serve --host "$host" --port "$port" -q 2>"$log" &
pids+=($!)
for _ in $(seq 1 100); do
	grep -q 'listening on' "$log" && break
	kill -0 "${pids[0]}" 2>/dev/null || { cat "$log" >&2; exit 3; }
	sleep 0.1
done
grep 'listening on' "$log" >&2
echo "demo: open $url/ in a browser, or run: sio-sub --url $url -e demo_final" >&2
echo "demo: Ctrl-C stops it" >&2

sio-sub --url "$url" -e demo_final -v &
pids+=($!)
# The counter, one event a second, once sio-sub is there to print it.
until curl -fsS "$url/metrics" 2>/dev/null | grep -q '^sio_connected_clients [1-9]'; do sleep 0.1; done
(i=0; while :; do i=$((i+1)); echo "$i"; sleep 1; done) | sio-pub --url "$url" -e demo_final &
pids+=($!)
wait "${pids[1]}"
