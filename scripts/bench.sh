#!/usr/bin/env bash
# make bench: sio-serve against the reference relay (the official Node
# socket.io server, scripts/peers/relay.js), both driven by the same Go load
# generator (internal/cmd/sio-load), one after the other on 127.0.0.1.
#
#   1. 1 publisher -> 1 subscriber, 50,000 events of 100 bytes, window 1000
#   2. 1 -> 100 subscribers, 5,000 events (500,000 deliveries)
#   3. 10 publishers -> 10 subscribers, 5,000 events each
#   4. 1 -> 1 at 2,000 events/s for 10 s: latency
#   5. 2,000 idle connections held 30 s: server RSS per connection
#   5n. scenario 5 with the official Node client as the generator
#      (scripts/peers/load.js idle), transports: ["websocket"]
#   5u. the same with the official client's default transports: long-polling,
#      then the upgrade to websocket (browsers' default too; sio-serve
#      serves such sessions through the library, docs/ARCHITECTURE.md)
#   6. scenario 3 across two nodes on one redis-server: 10 publishers on one
#      node, 10 subscribers on the other (sio-serve --redis; relay.js --redis
#      with @socket.io/redis-adapter)
#   7. scenario 6 on a Redis stream (sio-serve --redis-streams; relay.js
#      --redis-streams with @socket.io/redis-streams-adapter), recovery off
#      on both: every node reads every entry of the stream. Server CPU is
#      the publishers' node's only, as in 6. The load generator is not the
#      bound here (0.3 to 0.4 of a core, docs/BENCHMARKS.md): the two nodes
#      are, sharing the machine with it and redis-server
#   8. 10 -> 10 at 250 events/s per publisher, 2,500 events each, driven by
#      the official Node client instead (scripts/peers/load.js: the
#      subscribers in one node process, the publishers in another), so the
#      ratios do not rest on our own generator alone. Node's client is
#      single-threaded: where either process used 0.9 of a core or more in
#      any run (gen_bound), the table says "load generator bound" instead of
#      a ratio for deliveries/s and latency
#   scale (on demand, scripts/scale.sh): BENCH_SCALE_CONNS websocket
#      clients (100,000) from the loopback source addresses 127.0.0.2 and up
#      connect to one fresh server, stay BENCH_SCALE_HOLD (60s), then one
#      more client emits one event the server relays to all: connects/s,
#      server RSS and CPU while idle, the time until every client got it,
#      connections lost. Raises ulimit -n first (conns + 200 for each
#      process) and fails if it cannot
#   pipeline: seq 1 100000 | sio-pub -> sio-serve -> sio-sub, against Node
#      clients through the Node relay and mosquitto_pub -l -> mosquitto ->
#      mosquitto_sub
#
# Two more columns measure what sio's delivery guarantees cost, as ratios
# against sio's own default:
#   sio-norecover  sio-serve --recover 0 (scenarios 1 to 4 and pipeline):
#                  the cost of connection state recovery, which sio-serve
#                  gives sio-pub and sio-sub by default (in 1 to 4 the load
#                  generator's clients ask for it as they do, with
#                  -auth '{"sio_offsets":true}')
#   sio-nowindow   the pipeline with sio-pub --window 1000000: the cost of
#                  sio-pub keeping at most --window lines unconfirmed
#   sio-ack        the pipeline with sio-pub --ack: every line acknowledged
#                  by the server (its lines/s against mosquitto's is in the
#                  raw results; the table gives sio/sio-ack)
#
# Every scenario runs BENCH_RUNS times (default 3) per server, each run on a
# freshly started server. Prints one markdown table (median, min..max, ratio
# sio/reference) and appends the raw results as JSON lines to
# bench/results/<UTC date>.jsonl; the table goes to bench/results/last.md.
#
# Environment:
#   BENCH_QUICK=1    a smoke run: a tenth of the events, 1 run, 200 idle
#                    connections for 3 s (about 30 s)
#   BENCH_RUNS=N     runs per scenario and server
#   BENCH_ONLY=LIST  only these scenarios, a comma list of 1 2 3 4 5 5n 5u 6 7
#                    8 pipeline storm scale (default: all but storm, which
#                    scripts/connect-storm.sh runs, and scale,
#                    scripts/scale.sh)
#   BENCH_IDLE_CONNS=N      connections in 5, 5n and 5u (2000; BENCH_QUICK: 200)
#   BENCH_IDLE_HOLD=D       how long they stay idle (30s; BENCH_QUICK: 3s)
#   BENCH_STORM_PARALLEL=N  connects in flight at once in storm (100)
#   BENCH_SCALE_CONNS=N     clients in scale (100000; BENCH_QUICK: 10000)
#   BENCH_SCALE_HOLD=D      how long they stay idle (60s; BENCH_QUICK: 6s)
#   BENCH_SCALE_PARALLEL=N  connects in flight at once (200)
#   BENCH_SCALE_PER_SOURCE=N  clients per source address (5000)
#   BENCH_SCALE_FORCE=1     run scale even when ulimit -n is too low, to
#                    see where the server or the generator stops
# Every process it starts is stopped on exit, Ctrl-C or SIGTERM.
set -eu
cd "$(dirname "$0")/.."

quick=${BENCH_QUICK:-}
runs=${BENCH_RUNS:-3}
only=${BENCH_ONLY:-1,2,3,4,5,5n,5u,6,7,8,pipeline}
scale=1
idle_conns=2000
idle_hold=30s
if [ -n "$quick" ] && [ "$quick" != 0 ]; then
	scale=10
	runs=${BENCH_RUNS:-1}
	idle_conns=200
	idle_hold=3s
fi
idle_conns=${BENCH_IDLE_CONNS:-$idle_conns}
idle_hold=${BENCH_IDLE_HOLD:-$idle_hold}
export NODE_PATH=$PWD/node_modules

log() { printf 'bench: %4ds %s\n' "$SECONDS" "$*" >&2; }

want() { case ",$only," in *",$1,"*) return 0 ;; esac; return 1; }

# scale: every connection is an open file in the server and one in the
# generator; each process needs sc_conns plus 200 for itself. Raise the
# limit here, before anything starts, so that both inherit it.
if want scale; then
	sc_conns=${BENCH_SCALE_CONNS:-$((100000 / scale))}
	sc_hold=${BENCH_SCALE_HOLD:-$((60 / scale))s}
	sc_parallel=${BENCH_SCALE_PARALLEL:-200}
	sc_per_source=${BENCH_SCALE_PER_SOURCE:-5000}
	sc_runs=${BENCH_RUNS:-1}
	sc_need=$((sc_conns + 200))
	sc_err=
	sc_hard=$(ulimit -Hn)
	if [ "$sc_hard" != unlimited ] && [ "$sc_hard" -lt "$sc_need" ]; then
		sc_err=$(ulimit -Hn "$sc_need" 2>&1) || true
		sc_hard=$(ulimit -Hn)
	fi
	if [ "$(ulimit -Sn)" != unlimited ] && [ "$(ulimit -Sn)" -lt "$sc_need" ]; then
		if [ "$sc_hard" = unlimited ] || [ "$sc_hard" -ge "$sc_need" ]; then
			ulimit -Sn "$sc_need"
		else
			ulimit -Sn "$sc_hard"
		fi
	fi
	log "scale: ulimit -n: wanted $sc_need ($sc_conns connections + 200), got $(ulimit -Sn) (hard limit $(ulimit -Hn))"
	if [ "$(ulimit -Sn)" != unlimited ] && [ "$(ulimit -Sn)" -lt "$sc_need" ]; then
		sc_why=${sc_err:+ (raising it: ${sc_err##*: })}
		sc_cap=$(awk '/^CapEff:/ { print $2 }' /proc/self/status 2>/dev/null || true)
		if [ -n "$sc_cap" ] && [ $((0x$sc_cap >> 24 & 1)) = 0 ]; then
			sc_why="$sc_why; this process lacks CAP_SYS_RESOURCE$([ "$(id -u)" != 0 ] || echo ', root or not (a container that keeps the limit)')"
		fi
		log "scale: cannot hold $sc_conns connections: the server (one process) needs an open file for each, and so does the generator, but the hard limit of open files is $sc_hard$sc_why"
		log "scale: hint: at most $((sc_hard - 200)) here (BENCH_SCALE_CONNS=$((sc_hard - 200))); or raise the hard limit as root with CAP_SYS_RESOURCE (ulimit -Hn, LimitNOFILE= in a unit, /etc/security/limits.conf)"
		if [ "${BENCH_SCALE_FORCE:-0}" = 0 ]; then
			exit 1
		fi
		log "scale: BENCH_SCALE_FORCE: going on to see where it stops"
	fi
	sc_sources=$(((sc_conns + sc_per_source - 1) / sc_per_source))
	read -r sc_lo sc_hi </proc/sys/net/ipv4/ip_local_port_range
	log "scale: $sc_sources source addresses 127.0.0.2..127.0.0.$((sc_sources + 1)), $sc_per_source clients each; $((sc_hi - sc_lo + 1)) ephemeral ports per address"
	if [ "$sc_per_source" -gt $((sc_hi - sc_lo + 1)) ]; then
		log "scale: BENCH_SCALE_PER_SOURCE=$sc_per_source is more than the $((sc_hi - sc_lo + 1)) ephemeral ports of one address"
		exit 1
	fi
	if [ -r /proc/sys/net/netfilter/nf_conntrack_max ] && [ "$(cat /proc/sys/net/netfilter/nf_conntrack_max)" -lt "$sc_need" ]; then
		log "scale: warning: net.netfilter.nf_conntrack_max is $(cat /proc/sys/net/netfilter/nf_conntrack_max): connections past it may be dropped"
	fi
fi

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
scripts/peers.sh node mosquitto || log "some peers are missing; their rows stay empty"

# The generator is built without -race: the race detector allows at most
# 8128 goroutines, and it would slow the client side down.
tmp=$(mktemp -d)
log "building bin/ and the load generator"
go build -o bin/ ./cmd/...
go build -o "$tmp/sio-load" ./internal/cmd/sio-load
load=$tmp/sio-load

mkdir -p bench/results
date=$(date -u +%Y-%m-%d)
stamp=$(date -u +%Y-%m-%dT%H:%M:%SZ)
out=bench/results/$date.jsonl
results=$tmp/results.jsonl
: >"$results"

pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do
		kill "$p" 2>/dev/null || true
	done
	for p in "${pids[@]}"; do
		wait "$p" 2>/dev/null || true
	done
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# stop PID: stop one process we started and forget it.
stop() {
	local p=$1 keep=() q
	kill "$p" 2>/dev/null || true
	wait "$p" 2>/dev/null || true
	for q in "${pids[@]}"; do
		[ "$q" = "$p" ] || keep+=("$q")
	done
	pids=("${keep[@]}")
}

# start_server NAME [ARGS]: starts a fresh sio-serve or Node relay on a free
# port, with ARGS; sets srv_pid and srv_url.
start_server() {
	local name=$1 errlog i
	shift
	errlog=$(mktemp "$tmp/$name.XXXX.log")
	case $name in
	sio | sio-nowindow | sio-ack) bin/sio-serve --port 0 --quiet "$@" 2>"$errlog" & ;;
	sio-norecover) bin/sio-serve --port 0 --quiet --recover 0 "$@" 2>"$errlog" & ;;
	node) node scripts/peers/relay.js --port 0 "$@" 2>"$errlog" & ;;
	esac
	srv_pid=$!
	pids+=("$srv_pid")
	srv_url=
	for i in $(seq 100); do
		srv_url=$(grep -o 'listening on http://[0-9.:]*' "$errlog" | sed 's/listening on //' || true)
		[ -n "$srv_url" ] && return 0
		kill -0 "$srv_pid" 2>/dev/null || break
		sleep 0.1
	done
	log "$name did not start: $(cat "$errlog")"
	return 1
}

# measure SERVER RUN TITLE KIND -- generator arguments: one measured run,
# its JSON line appended to the results.
measure() {
	local server=$1 run=$2 title=$3 kind=$4
	shift 5
	log "$title: $server, run $run/$runs"
	if [ "$server" = sio ] && [ "$1" = flow ]; then
		set -- "$@" -auth '{"sio_offsets":true}' # recovery on, as sio-sub asks
	fi
	"$load" "$@" -label "scenario=$title" -label "kind=$kind" -label "server=$server" \
		-label "run=$run" -label "time=$stamp" >>"$results" ||
		log "$title: $server run $run failed"
}

# scenario ID KIND TITLE WARM -- generator arguments
# The servers compared: $servers (sio first).
# With WARM > 0 both servers are started once, warmed up with a run of WARM
# events (not counted: Node's JIT and Go's heap settle), then measured RUNS
# times, alternating. With WARM 0 every run gets a fresh server (idle
# connections: the RSS baseline must be the empty server's).
scenario() {
	local id=$1 kind=$2 title=$3 warm=$4 run server
	shift 5
	want "$id" || return 0
	declare -A url=() pid=()
	if [ "$warm" -gt 0 ]; then
		for server in $servers; do
			start_server "$server" || continue
			url[$server]=$srv_url
			pid[$server]=$srv_pid
			log "$title: $server, warm-up"
			"$load" "$@" -events "$warm" -url "$srv_url" >/dev/null || log "$title: $server warm-up failed"
		done
	fi
	for run in $(seq "$runs"); do
		for server in $servers; do
			if [ "$warm" -eq 0 ]; then
				start_server "$server" || continue
				url[$server]=$srv_url
				pid[$server]=$srv_pid
			fi
			[ -n "${url[$server]:-}" ] || continue
			measure "$server" "$run" "$title" "$kind" -- "$@" -url "${url[$server]}" -pid "${pid[$server]}"
			if [ "$warm" -eq 0 ]; then
				stop "${pid[$server]}"
				unset "url[$server]" "pid[$server]"
			fi
		done
	done
	for server in "${!pid[@]}"; do
		stop "${pid[$server]}"
	done
}

servers="sio node sio-norecover"
n1=$((50000 / scale))
n2=$((5000 / scale))
n4=$((20000 / scale))
scenario 1 flow "1. 1->1, $n1 events" $((n1 / 5)) -- flow -pubs 1 -subs 1 -events "$n1" -window 1000
scenario 2 flow "2. 1->100, $n2 events" $((n2 / 5)) -- flow -pubs 1 -subs 100 -events "$n2" -window 1000
scenario 3 flow "3. 10->10, $n2 events each" $((n2 / 5)) -- flow -pubs 10 -subs 10 -events "$n2" -window 1000
scenario 4 rate "4. 1->1 at 2,000/s, $n4 events" 1000 -- flow -pubs 1 -subs 1 -events "$n4" -rate 2000 -window 100000
servers="sio node"
scenario 5 idle "5. $idle_conns idle conns, $idle_hold" 0 -- idle -conns "$idle_conns" -hold "$idle_hold"

# node_idle ID TITLE TRANSPORTS: scenario 5 driven by scripts/peers/load.js
# idle (the official Node client), a fresh server per run.
node_idle() {
	local id=$1 title=$2 tr=$3 run server
	want "$id" || return 0
	for run in $(seq "$runs"); do
		for server in sio node; do
			start_server "$server" || continue
			log "$title: $server, run $run/$runs"
			if node scripts/peers/load.js idle --url "$srv_url" --pid "$srv_pid" --conns "$idle_conns" \
				--hold "${idle_hold%s}" --transports "$tr" >"$tmp/idle.json"; then
				sed 's/}$/,"scenario":"'"$title"'","kind":"idle","server":"'"$server"'","run":'"$run"',"time":"'"$stamp"'"}/' \
					"$tmp/idle.json" >>"$results"
			else
				log "$title: $server run $run failed"
			fi
			stop "$srv_pid"
		done
	done
}
node_idle 5n "5n. $idle_conns idle conns, $idle_hold, Node client, websocket" websocket
node_idle 5u "5u. $idle_conns idle conns, $idle_hold, Node client, polling then upgrade" polling,websocket
# Issue 7 (scripts/connect-storm.sh): connect time of storm_conns clients,
# storm_parallel connecting at once, against a fresh server each run; with
# the sio commands' own client (pkg/conn.Dial) and a raw websocket client.
storm_conns=$((2000 / scale))
storm_parallel=${BENCH_STORM_PARALLEL:-100}
if want storm; then
	only=$only,storm-conn,storm-raw
fi
scenario storm-conn storm "connect storm, $storm_conns conns, pkg/conn.Dial" 0 -- \
	storm -conns "$storm_conns" -parallel "$storm_parallel" -client conn
scenario storm-raw storm "connect storm, $storm_conns conns, raw websocket" 0 -- \
	storm -conns "$storm_conns" -parallel "$storm_parallel" -client raw

# scale_scenario: see the top. A fresh server per run, sio-serve with no
# limit on connections (its default is 10,000), then the Node relay.
scale_scenario() {
	local runs=$sc_runs run server title
	title="scale, $sc_conns conns held $sc_hold, then 1 broadcast"
	for run in $(seq "$runs"); do
		for server in sio node; do
			case $server in
			sio) start_server sio --max-conns 0 || continue ;;
			node) start_server node || continue ;;
			esac
			measure "$server" "$run" "$title" scale -- \
				scale -conns "$sc_conns" -hold "$sc_hold" -parallel "$sc_parallel" -per-source "$sc_per_source" \
				-timeout 15s -wait 60s -url "$srv_url" -pid "$srv_pid"
			stop "$srv_pid"
		done
	done
}
if want scale; then
	scale_scenario
fi

# cluster ID TITLE ADAPTER-FLAG: scenario 3 across two nodes of each kind
# joined by ADAPTER-FLAG (--redis or --redis-streams) on $redis_url, a fresh
# pair per run: publishers on the first node, subscribers on the second.
cluster() {
	local id=$1 title=$2 flag=$3 run server a_pid a_url b_pid b_url
	want "$id" || return 0
	[ -n "$redis_url" ] || return 0
	for run in $(seq "$runs"); do
		for server in sio node; do
			start_server "$server" "$flag" "$redis_url" || continue
			a_pid=$srv_pid a_url=$srv_url
			start_server "$server" "$flag" "$redis_url" || { stop "$a_pid"; continue; }
			b_pid=$srv_pid b_url=$srv_url
			measure "$server" "$run" "$title" flow -- \
				flow -pubs 10 -subs 10 -events "$n2" -window 1000 -url "$a_url" -sub-url "$b_url" -pid "$a_pid"
			stop "$a_pid"
			stop "$b_pid"
		done
	done
}

# 6 and 7 share one redis-server.
redis_url=
if want 6 || want 7; then
	if ! command -v redis-server >/dev/null; then
		log "6, 7: no redis-server (scripts/peers.sh redis); skipped"
	else
		redis_port=$("$load" port)
		redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no >"$tmp/redis.log" 2>&1 &
		redis_pid=$!
		pids+=("$redis_pid")
		sleep 0.5
		redis_url=redis://127.0.0.1:$redis_port/0
	fi
fi
cluster 6 "6. 10->10 over 2 nodes + Redis, $n2 events each" --redis
cluster 7 "7. 10->10 over 2 nodes + Redis streams, $n2 events each" --redis-streams
[ -z "$redis_url" ] || stop "$redis_pid"

# node_load URL PID EVENTS AUTH: one run of scripts/peers/load.js, the
# subscribers first, the publishers once they are all in; the subscribers'
# JSON line goes to $tmp/nl-sub.json, the publishers' to $tmp/nl-pub.json.
node_load() {
	local url=$1 spid=$2 n=$3 auth=$4 sub_pid i ok=1
	: >"$tmp/nl-sub.err"
	node scripts/peers/load.js sub --url "$url" --subs 10 --pubs 10 --events "$n" --pid "$spid" \
		${auth:+--auth "$auth"} >"$tmp/nl-sub.json" 2>"$tmp/nl-sub.err" &
	sub_pid=$!
	pids+=("$sub_pid")
	for i in $(seq 300); do
		grep -q '^ready' "$tmp/nl-sub.err" && break
		kill -0 "$sub_pid" 2>/dev/null || break
		sleep 0.05
	done
	node scripts/peers/load.js pub --url "$url" --pubs 10 --events "$n" --rate "$r8" \
		${auth:+--auth "$auth"} >"$tmp/nl-pub.json" || ok=
	wait "$sub_pid" || ok=
	stop "$sub_pid"
	[ -n "$ok" ] || log "load.js: $(cat "$tmp/nl-sub.err")"
	[ -n "$ok" ] && [ -s "$tmp/nl-sub.json" ] && [ -s "$tmp/nl-pub.json" ]
}

# 8: a fresh server per run, warmed up with a tenth of the events first.
# The result is the subscribers' line with their generator figures renamed
# sub_*, the publishers' as pub_*, and gen_bound.
n8=$((2500 / scale))
r8=250
if want 8; then
	title8="8. 10->10 at $r8/s each, $n8 events each, Node client"
	for run in $(seq "$runs"); do
		for server in sio node; do
			start_server "$server" || continue
			auth8=
			[ "$server" = node ] || auth8='{"sio_offsets":true}' # as in 1 to 4
			log "$title8: $server, warm-up and run $run/$runs"
			if node_load "$srv_url" "$srv_pid" $((n8 / 10)) "$auth8" &&
				node_load "$srv_url" "$srv_pid" "$n8" "$auth8"; then
				pub8=$(cat "$tmp/nl-pub.json")
				sed 's/"generator_cpu_s"/"sub_cpu_s"/; s/"generator_cores"/"sub_cores"/; s/}$//' "$tmp/nl-sub.json" |
					awk -v pub="$pub8" -v s="$server" -v r="$run" -v ts="$stamp" -v title="$title8" '{
					pc = pub; sub(/.*"generator_cpu_s":/, "", pc); sub(/[,}].*/, "", pc)
					pk = pub; sub(/.*"generator_cores":/, "", pk); sub(/[,}].*/, "", pk)
					sk = $0; sub(/.*"sub_cores":/, "", sk); sub(/[,}].*/, "", sk)
					printf "%s,\"pub_cpu_s\":%s,\"pub_cores\":%s,\"gen_bound\":%d,\"scenario\":\"%s\",\"kind\":\"nodeflow\",\"server\":\"%s\",\"run\":%d,\"time\":\"%s\"}\n",
						$0, pc, pk, (sk + 0 >= 0.9 || pk + 0 >= 0.9), title, s, r, ts
				}' >>"$results"
			else
				log "$title8: $server run $run failed"
			fi
			stop "$srv_pid"
		done
	done
fi

# pipeline_run SERVER RUN: one pipeline of n lines; appends a JSON line.
pipeline_run() {
	local server=$1 run=$2 sub_pid port i t0 t1 got ok=1
	local sink=$tmp/sink.txt subout=$tmp/sub.log
	: >"$subout"
	case $server in
	sio | sio-norecover | sio-nowindow | sio-ack)
		start_server "$server" || return 1
		timeout 30 bin/sio-sub -C "$np" --url "$srv_url" >"$sink" 2>"$subout" &
		sub_pid=$!
		pids+=("$sub_pid")
		# Ready when the server counts a client.
		for i in $(seq 100); do
			curl -fsS "$srv_url/metrics" 2>/dev/null | grep -q '^sio_connected_clients [1-9]' && break
			sleep 0.05
		done
		t0=$(date +%s.%N)
		if [ "$server" = sio-nowindow ]; then
			seq 1 "$np" | bin/sio-pub --window 1000000 --url "$srv_url" || ok=
		elif [ "$server" = sio-ack ]; then
			seq 1 "$np" | bin/sio-pub --ack --url "$srv_url" || ok=
		else
			seq 1 "$np" | bin/sio-pub --url "$srv_url" || ok=
		fi
		;;
	node)
		start_server node || return 1
		timeout 30 node scripts/peers/sub.js "$srv_url" -C "$np" >"$sink" 2>"$subout" &
		sub_pid=$!
		pids+=("$sub_pid")
		for i in $(seq 100); do
			grep -q connected "$subout" && break
			sleep 0.05
		done
		t0=$(date +%s.%N)
		seq 1 "$np" | node scripts/peers/pub.js "$srv_url" || ok=
		;;
	mosquitto)
		port=$("$load" port)
		mosquitto -p "$port" 2>"$tmp/mosquitto.log" &
		srv_pid=$!
		pids+=("$srv_pid")
		for i in $(seq 100); do
			mosquitto_sub -p "$port" -t bench/ready -W 1 -C 1 -E >/dev/null 2>&1 && break
			sleep 0.05
		done
		timeout 30 mosquitto_sub -p "$port" -t bench -C "$np" >"$sink" 2>"$subout" &
		sub_pid=$!
		pids+=("$sub_pid")
		# mosquitto_sub says nothing once subscribed: give it a moment.
		sleep 1
		t0=$(date +%s.%N)
		seq 1 "$np" | mosquitto_pub -p "$port" -t bench -l || ok=
		;;
	esac
	# The subscriber ends after n lines; a lost line would keep it waiting
	# until its timeout (30 s). Its end is waited for, not polled: a poll
	# every 50 ms added 25 ms on average to each figure, 6% of sio's.
	wait "$sub_pid" 2>/dev/null
	t1=$(date +%s.%N)
	stop "$sub_pid"
	stop "$srv_pid"
	got=$(wc -l <"$sink")
	[ -n "$ok" ] || log "pipeline: $server publisher failed"
	awk -v s="$server" -v r="$run" -v t0="$t0" -v t1="$t1" -v n="$np" -v got="$got" -v ts="$stamp" \
		-v title="pipeline, seq 1 $np" 'BEGIN {
		d = t1 - t0
		printf "{\"scenario\":\"%s\",\"kind\":\"pipeline\",\"server\":\"%s\",\"run\":%d,\"time\":\"%s\",\"lines\":%d,\"received\":%d,\"lost\":%d,\"seconds\":%.4f,\"lines_per_s\":%.1f}\n",
			title, s, r, ts, n, got, n - got, d, got / d
	}' >>"$results"
}

np=$((100000 / scale))
if want pipeline; then
	for run in $(seq "$runs"); do
		for server in sio node mosquitto sio-norecover sio-nowindow sio-ack; do
			if [ "$server" = mosquitto ] && ! command -v mosquitto >/dev/null; then
				continue
			fi
			log "pipeline, seq 1 $np: $server, run $run/$runs"
			pipeline_run "$server" "$run" || log "pipeline: $server run $run failed"
		done
	done
fi

log "finished in ${SECONDS}s"
machine="$(nproc) cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1), $(go env GOVERSION), node $(node --version 2>/dev/null || echo none)"
cat "$results" >>"$out"
{
	echo "$stamp on $machine, load average before $load_before$([ "$scale" = 1 ] || echo ' (BENCH_QUICK)')"
	echo
	"$load" table <"$results"
} | tee bench/results/last.md
log "results appended to $out"
