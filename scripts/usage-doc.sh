#!/usr/bin/env bash
# Rewrites the three "## sio-..." usage blocks of docs/USAGE.md from the
# built binaries' -h, so the usage page never drifts from the code.
# Usage: scripts/usage-doc.sh   (after make build)
set -eu
cd "$(dirname "$0")/.."
python3 - <<'PY'
import re, subprocess
s = open("docs/USAGE.md").read()
for b in ("sio-serve", "sio-pub", "sio-sub"):
    h = subprocess.run(["bin/" + b, "-h"], capture_output=True, text=True, check=True).stdout
    s = re.sub(r"(## %s\n\n```\n).*?(```\n)" % b, lambda m: m.group(1) + h + m.group(2), s, count=1, flags=re.S)
open("docs/USAGE.md", "w").write(s)
PY
