#!/usr/bin/env bash
# lab-capture-events.sh: refresh fixtures/events-replay/ from the router lab.
#
# Makes a few flows of known kinds in the namespace router lab and stores,
# byte for byte, what the real conntrack prints in the router while they
# come and go: a listing every 1.5 s (`conntrack -L -o extended,id`,
# snapshots/NN.txt and .stderr), the DESTROY events meanwhile (`conntrack
# -E -e DESTROY -o extended,id,timestamp`), split into events/NN.txt by
# when they were received (NN holds those received up to the end of
# listing NN, as netmon drains them), and the router's accounting rules at
# the end (acct.txt, lab.sh acct). pkg/ingest replays them through the
# real store and compares each LAN host with acct.txt. The flows:
#
#   10.0.0.20  a paced 3 MB download, seen by several listings, reset at the end
#   10.0.0.21  5 back-to-back 100 kB downloads on one source port, between two listings
#   10.0.0.22  20 short UDP exchanges, expiring after 3 s
#   fd00::20   a 1 MB download reset mid-way
#   inbound    a WAN host downloading from LAN host fd00::9 (not outbound: left out)
#
# Needs root; the lab is always taken down again:
#   sudo scripts/lab-capture-events.sh
set -Eeuo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
lab=$root/scripts/lab.sh
out=$root/fixtures/events-replay

[[ $(id -u) -eq 0 ]] || {
	echo "lab-capture-events.sh: needs root (network namespaces, conntrack)" >&2
	exit 1
}
LAB_ID=cev$(od -An -N2 -tx1 /dev/urandom | tr -d ' \n')
export LAB_ID
tmp=$(mktemp -d)
pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	"$lab" down >/dev/null 2>&1 || true
	rm -rf "$tmp"
}
trap cleanup EXIT

(cd "$root" && go build -o "$tmp/labtraffic" ./scripts/labtraffic)
lt=$tmp/labtraffic
"$lab" up >/dev/null
# shellcheck disable=SC1090
source <("$lab" env)
"$lab" lan-add 10.0.0.20 10.0.0.21 10.0.0.22 fd00::20 fd00::9
"$lab" acct-setup 10.0.0.20 10.0.0.21 10.0.0.22 fd00::20 fd00::9
rtr() { ip netns exec "$LAB_RTR" "$@"; }
rtr sysctl -q -w net.netfilter.nf_conntrack_events=1 net.netfilter.nf_conntrack_tcp_timeout_close=3 \
	net.netfilter.nf_conntrack_udp_timeout=3 net.netfilter.nf_conntrack_udp_timeout_stream=3

ip netns exec "$LAB_WAN" "$lt" serve -lifetime 2m -tcp "203.0.113.80:8080,[2001:db8::80]:8080" -udp 203.0.113.80:5300 >/dev/null 2>&1 &
pids+=($!)
ip netns exec "$LAB_LAN" "$lt" serve -lifetime 2m -tcp "[fd00::9]:8080" >/dev/null 2>&1 &
pids+=($!)
sleep 0.5
rtr conntrack -F >/dev/null 2>&1 || true

# Not through rtr(): a backgrounded function is a subshell, and $! would
# be that shell's pid, not conntrack's (ip netns exec execs).
ip netns exec "$LAB_RTR" conntrack -E -e DESTROY -o extended,id,timestamp >"$tmp/events.txt" 2>/dev/null &
pids+=($!)
sleep 0.5
mkdir -p "$tmp/snapshots"
snapshot() { # N: a listing, then the time its end was seen
	rtr conntrack -L -o extended,id >"$tmp/snapshots/$1.txt" 2>"$tmp/snapshots/$1.stderr"
	date +%s.%N >"$tmp/mark-$1"
}
lan() { ip netns exec "$LAB_LAN" "$lt" "$@" >/dev/null 2>&1; }

snapshot 00
lan fetch -src 10.0.0.20 -dst 203.0.113.80:8080 -size 3000000 -rate 1000000 -close rst &
lan fetch -src fd00::20 -dst '[2001:db8::80]:8080' -size 1000000 -reset-after 400000 -rate 500000 &
ip netns exec "$LAB_WAN" "$lt" fetch -src 2001:db8::81 -dst '[fd00::9]:8080' -size 200000 -close rst >/dev/null 2>&1 &
lan udp -src 10.0.0.22 -dst 203.0.113.80:5300 -n 20 -spread 2s &
sleep 1.5
snapshot 01
sleep 0.3
lan fetch -src 10.0.0.21 -dst 203.0.113.80:8080 -n 5 -size 100000 -ports 43001 -close rst
sleep 1.2
snapshot 02
for n in 03 04 05 06 07 08; do
	sleep 1.5
	snapshot "$n"
done
wait_fetches() { local j; for j in $(jobs -p); do [[ " ${pids[*]} " == *" $j "* ]] || wait "$j" || true; done; }
wait_fetches
sleep 1.5
snapshot 09
sleep 1.5
snapshot 10
sleep 0.5
kill -INT "${pids[-1]}" 2>/dev/null || true
wait "${pids[-1]}" 2>/dev/null || true
unset 'pids[-1]'

rm -rf "$out"
mkdir -p "$out/snapshots" "$out/events"
cp "$tmp"/snapshots/* "$out/snapshots/"
# Split the events by the end of each listing (receive timestamps).
prev=0
for f in "$tmp"/mark-*; do
	n=${f##*-}
	mark=$(<"$f")
	awk -v lo="$prev" -v hi="$mark" '{ ts = substr($1, 2, length($1) - 2) + 0; if (ts > lo && ts <= hi) print }' \
		"$tmp/events.txt" >"$out/events/$n.txt"
	prev=$mark
done
"$lab" acct >"$out/acct.txt"
echo "lab-capture-events.sh: $(grep -c DESTROY "$tmp/events.txt") DESTROY events, $(ls "$out/snapshots"/*.txt | wc -l) listings in $out" >&2
