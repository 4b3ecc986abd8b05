#!/usr/bin/env bash
# e2e-names.sh: the device and name machinery (pkg/device, pkg/neigh,
# pkg/names) against real parts, in the namespace router lab:
#
#   1. `lab.sh dhcp` runs the real dnsmasq on the lab router (DHCPv4,
#      DHCPv6, DNS with log-queries to a file) and two clients that lease
#      their addresses with the real dhclient, sending host names;
#   2. each client looks lab names up at dnsmasq, over IPv4 and IPv6
#      (a CNAME among them), and the router pings the clients;
#   3. inside the router namespace, the neighbour table read through
#      neigh.Netlink (and /proc/net/arp) lists each client's real veth MAC
#      with its leased addresses; the real lease file parses to those MACs
#      with the DHCP host names (IPv6 leases too, through the DUID); the
#      device registry fed both names each client's device from its lease;
#   4. the real query log maps (client, address) to the name each client
#      asked for, the CNAME's answer to the name asked, not the target,
#      read whole and tailed by FollowDNSLog while dnsmasq wrote it; a
#      saved `ip neigh show` replays the clients as netlink read them;
#   4b. the netmon binary in the router: each client sends to the
#      addresses it looked up, and print-outbound names each flow by the
#      client's MAC, its lease name and the name it asked for; ingest-once
#      then `netmon devices` has the clients by MAC, named from the leases;
#   5. `lab.sh down` removes the DHCP namespaces, dnsmasq and dhclient too,
#      and the machine's own namespace is as before.
#
# E2E_NAMES_CAPTURE=DIR also copies the real captures (lease file, query
# logs, `ip neigh show`, `ip -s neigh show`, /proc/net/arp) to DIR, for
# fixtures/names and fixtures/neigh (see their README.md); it adds a
# second dnsmasq with log-queries=extra for that.
#
# Needs root, `ip netns`, dnsmasq (apt: dnsmasq-base), dhclient (apt:
# isc-dhcp-client), jq and Go; without root or `ip netns` it exits 77 (skip),
# like scripts/e2e.sh. The lab is always taken down; E2E_KEEP=1 keeps the
# work directory.
set -Eeuo pipefail

# shellcheck source=scripts/e2e-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/e2e-lib.sh"
skip_unless_lab "needs root for network namespaces"
need_tools "apt install dnsmasq-base isc-dhcp-client iptables jq" dnsmasq dhclient iptables jq go
# No log tails: scripts/e2e.sh, which runs this one, shows its last lines.
setup nm
capture=${E2E_NAMES_CAPTURE:-}

build e2echeck netmon
ck=$tmp/e2echeck

init_save

lab_up
fatal "lab dhcp: dnsmasq serves, dhclient leases" "$lab" dhcp
lab_env
read -r -a clients <<<"$LAB_DHCP_NS"
read -r -a hostnames <<<"$LAB_DHCP_NAMES"

# The clients as the kernel made them: MAC of the veth, leased addresses.
declare -a macs addrs4 addrs6
for i in "${!clients[@]}"; do
	ns=${clients[i]}
	macs[i]=$(ip netns exec "$ns" cat /sys/class/net/eth0/address)
	addrs4[i]=$(ip -n "$ns" -4 -o addr show dev eth0 scope global | awk '{sub("/.*", "", $4); print $4}')
	addrs6[i]=$(ip -n "$ns" -6 -o addr show dev eth0 scope global | awk '{sub("/.*", "", $4); print $4}')
	say "${clients[i]}: ${macs[i]} ${addrs4[i]} ${addrs6[i]} (${hostnames[i]})"
done

# What the query log must map (client, address) to, once the clients
# below have looked the names up.
wants=(
	-want "${addrs4[0]}=203.0.113.81=video.lab.test"
	-want "${addrs4[0]}=2001:db8::81=video.lab.test"
	-want "${addrs4[0]}=203.0.113.82=www.lab.test"
	-want "${addrs4[0]}=203.0.113.83=ads.lab.test"
	-want "${addrs6[1]}=203.0.113.82=www.lab.test"
	-want "${addrs6[1]}=2001:db8::81=video.lab.test"
)
# FollowDNSLog tails the real log while the queries are made.
"$ck" names-dnslog -file "$LAB_DNS_LOG" -follow 30s -ready "$tmp/follow.ready" "${wants[@]}" \
	>"$tmp/follow.log" 2>&1 &
follow_pid=$!
pids+=("$follow_pid")
for ((i = 0; i < 100; i++)); do
	[[ -e $tmp/follow.ready ]] && break
	sleep 0.1
done

# 2. Lookups from the clients, over IPv4 and IPv6; the router pings them.
query() { # NS SERVER
	ip netns exec "$1" "$ck" names-query -server "$2" -names video.lab.test,www.lab.test,ads.lab.test >>"$tmp/query.log"
}
check "client 1 looks names up over IPv4" query "${clients[0]}" 10.0.3.1:53
check "client 2 looks names up over IPv6" query "${clients[1]}" '[fd00:3::1]:53'
for i in "${!clients[@]}"; do
	rtr ping -c1 -W2 "${addrs4[i]}" >/dev/null
	rtr ping -6 -c1 -W2 "${addrs6[i]}" >/dev/null
done

# 3. Neighbour table, lease file, registry.
rtr ip neigh show >"$tmp/ip-neigh.txt"
devices() {
	local args=(-ip-neigh "$tmp/ip-neigh.txt") i
	for i in "${!clients[@]}"; do
		args+=(-client "${macs[i]}=${hostnames[i]}=${addrs4[i]},${addrs6[i]}")
	done
	rtr "$ck" names-devices "${args[@]}" -leases "$LAB_DHCP_LEASES" -local "$LAB_DHCP_SUBNETS"
}
check "netlink lists the clients' MACs; the lease file and the registry name them" devices

# 4. The query log, read whole and followed as it was written.
check "the query log maps (client, address) to the name asked" "$ck" names-dnslog -file "$LAB_DNS_LOG" "${wants[@]}"
followed() {
	local rc=0
	wait "$follow_pid" || rc=$?
	forget "$follow_pid"
	cat "$tmp/follow.log"
	return "$rc"
}
check "FollowDNSLog, tailing the log, saw the same" followed

# 4b. netmon itself, in the router: each client sends to the addresses it
# looked up (UDP: a conntrack entry without a server), and print-outbound
# and ingest-once + devices name the device by its veth MAC and lease
# name, and the remote address by the name that client asked for.
for i in "${!clients[@]}"; do
	ip netns exec "${clients[i]}" bash -c 'echo x >/dev/udp/203.0.113.81/9; echo x >/dev/udp/2001:db8::81/9' 2>/dev/null || true
done
nm_flags=(--local-subnets "$LAB_DHCP_SUBNETS" --leases "$LAB_DHCP_LEASES" --dns-log "$LAB_DNS_LOG" --resolve-remote-names=false)
netmon_names() {
	rtr "$tmp/netmon" print-outbound --top 0 -o json "${nm_flags[@]}" >"$tmp/print-names.json" || return 1
	local i dst ok=0 row
	for i in "${!clients[@]}"; do
		for dst in 203.0.113.81 2001:db8::81; do
			row=$(jq -c --arg s "${addrs4[i]}" --arg s6 "${addrs6[i]}" --arg d "$dst" \
				'[.[] | select((.src_ip == $s or .src_ip == $s6) and .dst_ip == $d)] | first | {device, device_name, dst_name}' "$tmp/print-names.json")
			say "  ${clients[i]#nmlab-"$LAB_ID"-} -> $dst: $row"
			[[ $row == "{\"device\":\"${macs[i]}\",\"device_name\":\"${hostnames[i]}\",\"dst_name\":\"video.lab.test\"}" ]] || ok=1
		done
	done
	return "$ok"
}
check "print-outbound names each client's flows: its MAC, its lease name, the name it looked up" netmon_names
recorded() {
	rtr "$tmp/netmon" ingest-once --db "$tmp/names.db" --state-dir "$tmp/names-state" "${nm_flags[@]}" >/dev/null &&
		"$tmp/netmon" devices --db "$tmp/names.db" -o json >"$tmp/devices.json" || return 1
	local i got ok=0
	for i in "${!clients[@]}"; do
		got=$(jq -c --arg m "${macs[i]}" '.[] | select(.device == $m) | {mac, name, name_source}' "$tmp/devices.json")
		say "  ${macs[i]}: $got"
		[[ $got == "{\"mac\":\"${macs[i]}\",\"name\":\"${hostnames[i]}\",\"name_source\":\"lease\"}" ]] || ok=1
	done
	return "$ok"
}
check "ingest-once records the clients as devices by MAC, named from their leases (netmon devices)" recorded

if [[ -n $capture ]]; then
	mkdir -p "$capture"
	# A second dnsmasq with log-queries=extra, DNS only, on another port.
	extra=$LAB_STATE/dhcp/extra
	cat >"$extra.conf" <<CONF
interface=rb3
bind-interfaces
port=5354
no-resolv
no-hosts
no-dhcp-interface=rb3
user=root
group=root
pid-file=$extra.pid
log-queries=extra
log-facility=$extra.log
local=/lab.test/
host-record=video.lab.test,203.0.113.81,2001:db8::81
host-record=cdn.lab.test,203.0.113.82,2001:db8::82
cname=www.lab.test,cdn.lab.test
CONF
	rtr dnsmasq --conf-file="$extra.conf"
	ln -s "$extra.pid" "$LAB_STATE/pids/dnsmasq-extra.pid"
	ip netns exec "${clients[0]}" "$ck" names-query -server 10.0.3.1:5354 -names video.lab.test,www.lab.test >/dev/null
	ip netns exec "${clients[1]}" "$ck" names-query -server '[fd00:3::1]:5354' -names www.lab.test >/dev/null
	# Entries that are no machine: a failed resolution and a permanent one.
	rtr ping -c1 -W1 10.0.3.200 >/dev/null 2>&1 || true
	rtr ip neigh replace 10.0.3.250 lladdr 02:00:00:00:00:fa dev rb3 nud permanent
	# Both other sides of the lab router: the static LAN and the WAN.
	rtr ping -c1 -W1 10.0.0.5 >/dev/null
	rtr ping -c1 -W1 203.0.113.80 >/dev/null
	sleep 1
	cp "$LAB_DHCP_LEASES" "$capture/dnsmasq.leases"
	cp "$LAB_DNS_LOG" "$capture/dnsmasq.log"
	cp "$extra.log" "$capture/dnsmasq-extra.log"
	rtr ip neigh show >"$capture/ip-neigh.txt"
	rtr ip -s neigh show >"$capture/ip-neigh-s.txt"
	rtr cat /proc/net/arp >"$capture/proc-net-arp.txt"
	for i in "${!clients[@]}"; do
		echo "${clients[i]#nmlab-"$LAB_ID"-} ${macs[i]} ${addrs4[i]} ${addrs6[i]} ${hostnames[i]}"
	done >"$capture/clients.txt"
	say "captures in $capture"
fi

# 5. down removes everything.
down() {
	"$lab" down 2>/dev/null || return 1
	[[ ! -e $LAB_STATE ]] && ! ip netns list | grep -q "^nmlab-$LAB_ID-" &&
		! pgrep -f "$LAB_STATE/" >/dev/null
}
check "lab down removes the DHCP LAN, dnsmasq and dhclient" down
check "the machine's own namespace is as before" init_untouched

finish
