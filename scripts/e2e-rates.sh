#!/usr/bin/env bash
# e2e-rates.sh: netmon's live rates against a real kernel conntrack table.
#
# In the namespace router lab (scripts/lab.sh), with `netmon serve` (its
# own ingest loop, 1 s cycles) running inside the router namespace:
#
#   1. a LAN host (10.0.0.6) makes a burst and goes idle;
#   2. another (10.0.0.5) downloads at a known pace, 2,000,000 bytes of
#      payload a second (16 Mbit/s), sent so by the server
#      (`labtraffic pace`);
#   3. after a window and more, /api/now shows the downloading host's
#      device row, its connection and the router's total at that rate
#      within 10% (conntrack counts IP bytes, headers included, which the
#      veths' large segments keep to a fraction of a percent), and the
#      idle host at 0, not null;
#      /connections.json?sort=rate lists the paced connection first;
#   4. `print-outbound --rate 2s` shows the connection at that rate, and
#      `netmon top` (reading the serve's live state, plain output) shows
#      the device.
#
# Needs root, `ip netns`, conntrack, iptables, jq and Go. Without root or
# `ip netns` it says why and exits 77 (scripts/test.sh counts that as a
# skip, or a failure with NETMON_REQUIRE_E2E=1). The lab is always taken
# down; E2E_KEEP=1 keeps the work directory. About 40 s.
set -Eeuo pipefail

# shellcheck source=scripts/e2e-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/e2e-lib.sh"
skip_unless_lab "needs root for network namespaces and conntrack"
need_tools "apt install conntrack iptables iproute2 jq; Go from /usr/local/go" conntrack iptables ip6tables jq go

readonly PACE=2000000 # payload bytes per second
readonly WANT_BPS=$((PACE * 8))

setup rt serve.log

say "building into $tmp"
build netmon labtraffic
netmon=$tmp/netmon

lab_up
lab_traffic

port=9182
# get PATH: the body of a GET to serve, from inside the router namespace
# (bash's /dev/tcp: no curl needed).
get() {
	rtr bash -c 'exec 3<>/dev/tcp/127.0.0.1/'"$port"' && printf "GET %s HTTP/1.0\r\nHost: localhost\r\n\r\n" "$1" >&3 && cat <&3' _ "$1" |
		sed '1,/^\r$/d'
}

ip netns exec "$LAB_RTR" env NETMON_LOCAL_SUBNETS="$LAB_LOCAL_SUBNETS" \
	"$netmon" serve --bind "127.0.0.1:$port" --db "$tmp/netmon.db" --state-dir "$tmp/state" --interval 1s \
	>"$tmp/serve.log" 2>&1 &
serve_pid=$!
pids+=("$serve_pid")
up() {
	local i
	for ((i = 0; i < 100; i++)); do
		[[ $(get /healthz 2>/dev/null) == *ok* ]] && return 0
		sleep 0.1
	done
	return 1
}
fatal "serve answers" up

# 1. A burst from a host of its own (10.0.0.7: a device is a MAC, and the
# LAN namespace's 10.0.0.5 and .6 share one), 50 MB/s for a second, then idle.
# shellcheck disable=SC1090
source <("$lab" join 1)
fatal "burst from the idle host" "$lab" pace "$JOIN_V4" 203.0.113.87:8080 50000000 1s >/dev/null
# 2. The paced download.
ready=$("$lab" pace 10.0.0.5 203.0.113.86:8080 "$PACE" 30s) || {
	say "FAIL paced download (cannot go on)"
	exit 1
}
paced_src=$(tr -d '\n' <"$ready")
say "paced download from $paced_src at $PACE B/s; waiting a window"
sleep 14

# 3. /api/now and /connections.json?sort=rate.
get "/api/now?limit=20&sort=rate" >"$tmp/now.json"
get "/connections.json?sort=rate&limit=3" >"$tmp/conns.json"
cp "$tmp/now.json" "$tmp/now-1.json"

# within BPS: BPS is a number within 10% of WANT_BPS.
within() {
	local got=$1
	[[ $got =~ ^[0-9]+$ ]] || { say "  got '$got', not a number"; return 1; }
	say "  $got bit/s, $(jq -n "$got / $WANT_BPS * 1000 | floor / 1000") of $WANT_BPS"
	((got * 10 >= WANT_BPS * 9 && got * 10 <= WANT_BPS * 11))
}
# of ADDR: the jq filter of the device holding address ADDR.
of() { echo ".devices[] | select(.addrs | index(\"$1\"))"; }
device_down() { within "$(jq -r "$(of 10.0.0.5) | .downlink_bps" "$tmp/now.json")"; }
conn_down() {
	within "$(jq -r --arg s "$paced_src" '.connections[] | select(.source == $s) | .downlink_bps' "$tmp/now.json")"
}
total_down() { within "$(jq -r '.total.downlink_bps' "$tmp/now.json")"; }
idle_zero() {
	local got
	# By its MAC: its first packets may have come before the router's
	# neighbour table knew it, as ip:10.0.0.7, a row that idles out too.
	got=$(jq -c --arg m "$JOIN_MAC" '.devices[] | select(.device == $m) | [.uplink_bps, .downlink_bps]' "$tmp/now.json")
	say "  $JOIN_MAC ($JOIN_V4): $got"
	[[ $got == "[0,0]" ]]
}
first_by_rate() {
	local got
	got=$(jq -r '.[0].source' "$tmp/conns.json")
	say "  first by rate: $got"
	[[ $got == "$paced_src" ]]
}
devices_ranked() {
	[[ $(jq -r '.devices[0].addrs | index("10.0.0.5") != null' "$tmp/now.json") == true ]]
}
check "the downloading host's device row shows the paced rate" device_down
check "its connection shows the paced rate" conn_down
check "the router's total shows the paced rate" total_down
check "the idle host shows 0, not null" idle_zero
check "/connections.json?sort=rate lists the paced connection first" first_by_rate
check "/api/now ranks the downloading device first" devices_ranked

# 4. print-outbound --rate and top, while the download goes on.
print_rate() {
	rtr env NETMON_LOCAL_SUBNETS="$LAB_LOCAL_SUBNETS" "$netmon" print-outbound --rate 2s --top 5 -o json >"$tmp/print-rate.json" &&
		within "$(jq -r --arg s "$paced_src" '.[] | select(.source == $s) | .downlink_bps' "$tmp/print-rate.json")"
}
top_live() {
	rtr env TERM=dumb "$netmon" top --iterations 1 --state-dir "$tmp/state" </dev/null >"$tmp/top.txt" 2>&1 &&
		grep -q "live state" "$tmp/top.txt" && grep -q "$(jq -r "$(of 10.0.0.5) | .device" "$tmp/now.json") .*Mbit/s" "$tmp/top.txt" &&
		! grep -q $'\x1b' "$tmp/top.txt"
}
check "print-outbound --rate 2s shows the paced rate" print_rate
check "netmon top reads serve's live state" top_live

check "serve stops cleanly" stop "$serve_pid"

finish
