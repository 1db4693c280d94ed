#!/usr/bin/env bash
# Installs the real peers the tests and benchmarks run, on a fresh machine:
#   node      npm ci: socket.io, socket.io-client, @socket.io/redis-adapter,
#             redis, playwright-core, pinned by package-lock.json
#   python    Debian's python3-socketio and python3-aiohttp (asyncio client
#             and server), run with /usr/bin/python3
#   chromium  Debian's chromium, driven headless by playwright-core
#   redis     Debian's redis-server
#   mosquitto Debian's mosquitto and mosquitto-clients (benchmark reference)
#   systemd   Debian's systemd, for systemd-analyze verify of the units
#   man       Debian's man-db, for man -l on the generated man pages
# Usage: scripts/peers.sh [node|python|chromium|redis|mosquitto|systemd|man|all]...
# With no argument: all. Prints what is missing; exits 1 if anything could
# not be installed. Already installed peers are left alone.
set -u
cd "$(dirname "$0")/.."

want=("$@")
[ ${#want[@]} -eq 0 ] && want=(all)
has() { for w in "${want[@]}"; do [ "$w" = all ] || [ "$w" = "$1" ] && return 0; done; return 1; }

failed=()
apt_updated=
apt_install() {
	if ! command -v apt-get >/dev/null; then
		echo "peers: no apt-get to install $*" >&2
		return 1
	fi
	local sudo=
	[ "$(id -u)" -eq 0 ] || sudo=sudo
	if [ -z "$apt_updated" ]; then
		$sudo apt-get update -qq >/dev/null || return 1
		apt_updated=1
	fi
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

if has node; then
	if [ ! -d node_modules/socket.io ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
		npm ci --no-audit --no-fund --loglevel=error >/dev/null || failed+=(node)
	fi
fi
if has python; then
	if ! /usr/bin/python3 -c 'import socketio, aiohttp' 2>/dev/null; then
		apt_install python3-socketio python3-aiohttp python3-websocket || failed+=(python)
	fi
fi
if has chromium; then
	if ! command -v chromium >/dev/null; then
		apt_install chromium fonts-dejavu-core fonts-noto-color-emoji || failed+=(chromium)
	fi
fi
if has redis; then
	command -v redis-server >/dev/null || apt_install redis-server || failed+=(redis)
fi
if has mosquitto; then
	command -v mosquitto_sub >/dev/null || apt_install mosquitto mosquitto-clients || failed+=(mosquitto)
fi
if has systemd; then
	command -v systemd-analyze >/dev/null || apt_install systemd || failed+=(systemd)
fi
if has man; then
	command -v man >/dev/null || apt_install man-db groff-base || failed+=(man)
fi

if [ ${#failed[@]} -gt 0 ]; then
	echo "peers: could not install: ${failed[*]}" >&2
	exit 1
fi
exit 0
