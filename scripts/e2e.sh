#!/usr/bin/env bash
# e2e.sh: netmon end to end against a real kernel conntrack table.
#
# Builds netmon, brings up the namespace router lab (scripts/lab.sh), makes
# known traffic (scripts/labtraffic) and runs netmon INSIDE the router
# namespace with the real conntrack binary, checking each step against the
# traffic manifest with scripts/e2echeck:
#
#   0. `lab.sh up` run twice with one id replaces the lab cleanly;
#   1. print-outbound --output json --top 0 (flags, then env) lists exactly
#      the outbound flows, IPv6 too, with their payload counted, and none of
#      the router-local or LAN-to-LAN flows; with only 10.0.0.0/24 as LAN,
#      no IPv6 flow;
#   2. ingest-once stores them: rows, remote hosts, no closed_at;
#   3. serve (with its own ingest loop) on the router namespace's loopback:
#      /connections.json matches, /metrics.json reports the lab router's
#      interfaces with the counters sysfs shows, /metrics parses as
#      Prometheus text and counts the lab's connections, hosts, interfaces;
#   4. the long-lived connections are closed (FIN, they go to TIME_WAIT) and
#      then deleted from the table with `conntrack -D`, a real way flows
#      disappear (TIME_WAIT would otherwise keep them for minutes);
#   5. ingest-once again: the closed ones get closed_at, the others not,
#      hosts keep first_seen_at, byte totals never go backwards;
#   6. print-outbound and serve agree that the closed flows are gone;
#   7. the machine's own namespace kept its interfaces, addresses and routes
#      while the lab ran and after, and `lab.sh down` (twice) removed it all.
#   8. scripts/e2e-names.sh: devices and names against the real dnsmasq,
#      dhclient and neighbour table of `lab.sh dhcp` (its own lab).
#
# Needs root, `ip netns`, conntrack, iptables, iproute2, dnsmasq, dhclient
# and Go (apt: conntrack iptables iproute2 dnsmasq-base isc-dhcp-client);
# HTTP and SQLite are checked by the Go checker, so neither curl nor
# sqlite3 nor jq is needed. Without root or without
# `ip netns` it prints one line saying why and exits 77, which .ci/run
# (running as root) treats as a failure. The lab is always taken down.
# Set E2E_KEEP=1 to keep the work directory (printed at the end).
set -Eeuo pipefail

# shellcheck source=scripts/e2e-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/e2e-lib.sh"
skip_unless_lab "needs root for network namespaces and conntrack"
need_tools "apt install conntrack iptables iproute2; Go from /usr/local/go" conntrack iptables ip6tables go
setup e2e serve.log ingest.log '*.stderr'
serve_pid=

say "building into $tmp"
build netmon e2echeck labtraffic
netmon=$tmp/netmon
ck=$tmp/e2echeck

init_save

# up twice with one id: the second must replace the first cleanly (what
# happens after an aborted run).
lab_up
up_again() {
	quiet "$lab" up && [[ $(ip netns list | grep -c "^nmlab-$LAB_ID-") -eq 4 ]]
}
check "lab up again with the same id replaces the lab" up_again
lab_traffic
manifest=$LAB_MANIFEST
cp "$manifest" "$tmp/manifest.json"
rtr conntrack -L -o extended >"$tmp/table-1.txt" 2>/dev/null || true
say "lab $LAB_ID up, $(wc -l <"$tmp/table-1.txt") flows in the router table"

# 1. print-outbound, the subnets given as a flag and then through the env.
outbound_flag() { # SUBNETS NAME
	rtr "$netmon" print-outbound --output json --top 0 --local-subnets "$1" \
		>"$tmp/outbound-$2.json" 2>"$tmp/outbound-$2.stderr" &&
		"$ck" flows -manifest "$manifest" -file "$tmp/outbound-$2.json" -local "$1"
}
outbound_env() { # [-closed]
	local out=$tmp/outbound-env${1:-}.json
	rtr env NETMON_LOCAL_SUBNETS="$LAB_LOCAL_SUBNETS" "$netmon" print-outbound --output json --top 0 \
		>"$out" 2>"$out.stderr" &&
		"$ck" flows -manifest "$manifest" -file "$out" "$@"
}
check "print-outbound --local-subnets lists exactly the outbound flows" outbound_flag "$LAB_LOCAL_SUBNETS" flag
check "print-outbound with only the IPv4 LAN lists no IPv6 flow" outbound_flag 10.0.0.0/24 ipv4
check "print-outbound with NETMON_LOCAL_SUBNETS lists exactly the outbound flows" outbound_env

# 2. ingest-once, first reading. The checker reads the live state (the
# connections); the record beside it holds the committed history.
db=$tmp/state/live.db
ingest() {
	rtr env NETMON_LOCAL_SUBNETS="$LAB_LOCAL_SUBNETS" "$netmon" ingest-once --db "$tmp/netmon.db" --state-dir "$tmp/state" >>"$tmp/ingest.log" 2>&1
}
ingest_first() {
	ingest && "$ck" db -manifest "$manifest" -db "$db" -save "$tmp/db-1.json"
}
check "ingest-once stores every outbound flow open" ingest_first

# 3. serve on the router namespace's loopback, as a user runs it: with its
# own ingest loop (a database of its own, so the ingest-once checks above
# and below see only ingest-once's writes).
port=9180
url=http://127.0.0.1:$port
# Families /metrics must hold; e2echeck also checks the interface labels,
# the active connection count and the remote host count against the lab.
METRICS=netmon_active_connections,netmon_remote_hosts,netmon_conntrack_entries,netmon_ingest_cycles_total,netmon_interface_receive_bytes_total,netmon_interface_transmit_bytes_total
start_serve() {
	# Not through rtr(): a backgrounded function runs in a subshell, and $!
	# would be that shell's pid, not serve's (ip netns exec and env exec).
	ip netns exec "$LAB_RTR" env NETMON_LOCAL_SUBNETS="$LAB_LOCAL_SUBNETS" NETMON_INTERFACES="$LAB_RTR_IFACES" \
		"$netmon" serve --bind "127.0.0.1:$port" --db "$tmp/serve.db" --state-dir "$tmp/serve-state" --interval 1s >"$tmp/serve.log" 2>&1 &
	serve_pid=$!
	pids+=("$serve_pid")
	rtr "$ck" wait -url "$url/healthz" -timeout 10s && return 0
	say "serve did not answer on $url: $(tail -5 "$tmp/serve.log")"
	return 1
}
web() { # [-closed]: the checker fetches from inside the router namespace
	mkdir -p "$tmp/web${1:-}"
	rtr "$ck" web -manifest "$manifest" -url "$url" -interfaces "$LAB_RTR_IFACES" \
		-metrics "$METRICS" -save-dir "$tmp/web${1:-}" -settle 10s "$@"
}
if start_serve; then
	check "serve: /connections.json, /metrics.json, /metrics" web
else
	check "serve starts" false
fi

# 4. close the long-lived connections and delete them from the table.
close_held() {
	"$lab" close || return 1
	local family proto src sport dst dport n=0
	while read -r family proto src sport dst dport; do
		rtr conntrack -D -f "$family" -p "$proto" -s "$src" -d "$dst" --sport "$sport" --dport "$dport" \
			>>"$tmp/conntrack-delete.log" 2>&1 || {
			say "conntrack -D found no $proto $src:$sport -> $dst:$dport"
			return 1
		}
		n=$((n + 1))
	done < <("$ck" long-lived -manifest "$manifest")
	say "closed and deleted $n long-lived flows"
	[[ $n -gt 0 ]]
}
fatal "close and conntrack -D the long-lived flows" close_held
rtr conntrack -L -o extended >"$tmp/table-2.txt" 2>/dev/null || true

# 5. ingest-once again.
ingest_second() {
	ingest && "$ck" db -manifest "$manifest" -db "$db" -closed -before "$tmp/db-1.json"
}
check "ingest-once closes the deleted flows, history never goes back" ingest_second

# 6. print-outbound and serve without the closed flows.
check "print-outbound no longer lists the closed flows" outbound_env -closed
if [[ -n $serve_pid ]] && kill -0 "$serve_pid" 2>/dev/null; then
	check "serve no longer lists the closed flows" web -closed
	if stop "$serve_pid"; then
		check "serve stops cleanly on SIGTERM" true
	else
		check "serve stops cleanly on SIGTERM (exit $?)" false
	fi
fi

check "the machine's own namespace is untouched while the lab runs" init_untouched

# down removes everything, and a second down is harmless.
down_twice() {
	"$lab" down 2>/dev/null && "$lab" down 2>/dev/null || return 1
	if "$lab" status >/dev/null 2>&1; then
		say "status still reports lab $LAB_ID up"
		return 1
	fi
	[[ ! -e /run/netmon-lab-$LAB_ID ]] && ! ip netns list | grep -q "^nmlab-$LAB_ID-"
}
check "lab down removes everything, twice" down_twice
check "the machine's own namespace is as before the lab" init_untouched

# --- devices and names (issue 13): real dnsmasq, dhclient and neighbour
# table, in a lab of their own; the steps are in scripts/e2e-names.sh.
names_e2e() {
	"$repo/scripts/e2e-names.sh" >"$tmp/e2e-names.log" 2>&1 && return 0
	tail -n 20 "$tmp/e2e-names.log"
	return 1
}
check "devices and names against real dnsmasq and dhclient (e2e-names.sh)" names_e2e
# --- end of devices and names

finish
