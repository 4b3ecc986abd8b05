#!/usr/bin/env bash
# lab-capture.sh: refresh fixtures/lab/ from the namespace router lab.
#
# Brings a lab up (scripts/lab.sh), makes the planned traffic, and stores,
# byte for byte, what the real conntrack prints inside the router namespace:
#   fixtures/lab/router_table.txt      stdout of `conntrack -L -o extended`
#   fixtures/lab/router_table.stderr   its stderr (the "N flow entries" trailer)
#   fixtures/lab/manifest.json         the flows labtraffic made (keys, intent, payload sizes)
# The lab is always taken down again. Needs root; run from anywhere:
#   sudo scripts/lab-capture.sh
set -Eeuo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
lab=$root/scripts/lab.sh
out=$root/fixtures/lab

[[ $(id -u) -eq 0 ]] || {
	echo "lab-capture.sh: needs root (network namespaces, conntrack)" >&2
	exit 1
}

LAB_ID=cap$(od -An -N2 -tx1 /dev/urandom | tr -d ' \n')
export LAB_ID
trap '"$lab" down >/dev/null 2>&1 || true' EXIT

"$lab" up >/dev/null
"$lab" traffic >/dev/null
# shellcheck disable=SC1090
source <("$lab" env)

mkdir -p "$out"
ip netns exec "$LAB_RTR" conntrack -L -o extended >"$out/router_table.txt" 2>"$out/router_table.stderr"
cp "$LAB_MANIFEST" "$out/manifest.json"
"$lab" close
echo "lab-capture.sh: $(wc -l <"$out/router_table.txt") entries in $out/router_table.txt" >&2
