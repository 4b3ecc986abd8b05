#!/usr/bin/env bash
# lab.sh: a Linux router built from network namespaces, for testing netmon
# against a real kernel conntrack table and the real conntrack binary.
#
#   LAB_ID=x scripts/lab.sh up        build the lab (cleans leftovers of id x first)
#   LAB_ID=x scripts/lab.sh traffic   start servers, make the planned flows, hold the long-lived ones
#   LAB_ID=x scripts/lab.sh close     close the long-lived connections (they go to TIME_WAIT)
#   LAB_ID=x scripts/lab.sh dhcp      add the DHCP LAN: real dnsmasq (DHCP, DNS, query log) on the
#                                     router, two clients that lease by dhclient (see cmd_dhcp)
#   LAB_ID=x scripts/lab.sh status    show namespaces, processes and the conntrack count
#   LAB_ID=x scripts/lab.sh env       print the lab's variables (LAB_RTR=..., for `source`)
#   LAB_ID=x scripts/lab.sh join [N]  a new host N (1-9, default 1) joins the LAN: 10.0.0.(6+N), fd00::(6+N)
#   LAB_ID=x scripts/lab.sh down      remove everything of lab x (idempotent)
#            scripts/lab.sh list      ids of the labs on this machine (state or namespaces left)
#   LAB_ID=x scripts/lab.sh lan-add ADDR...    more LAN host addresses on lan0 (10.0.0.N, fd00::N)
#   LAB_ID=x scripts/lab.sh acct-setup HOST... ground truth: accounting rules per LAN host in RTR
#   LAB_ID=x scripts/lab.sh acct               print them: "HOST up|down valid|invalid BYTES PACKETS"
#   LAB_ID=x scripts/lab.sh pace SRC DST:PORT RATE DURATION  a download paced by the server (after traffic)
#
# Without LAB_ID, `up` picks a random id and prints `LAB_ID=<id>` as its last
# line; the other commands need LAB_ID.
#
# Topology (the shape of the capture lab in fixtures/conntrack/README.md):
#
#   LAN  lan0 10.0.0.5,.6/24 fd00::5,::6/64 -- rl0 10.0.0.1/24 fd00::1/64       \
#   LAN2 l20  192.168.50.10/24              -- rl2 192.168.50.1/24               > RTR
#   WAN  wan0 203.0.113.80-89/24 2001:db8::80-89/64 -- rw0 203.0.113.1/24 2001:db8::1/64 /
#
# Safety: every veth is created directly inside the lab's namespaces
# (`ip -n NS link add ... peer ... netns NS2`), so nothing is ever added to
# the machine's own namespace: no address, no route, no interface, and no
# path leads out of the lab. All traffic comes from scripts/labtraffic,
# which only talks to lab addresses and stops by itself after a bounded time.
#
# In the router namespace: forwarding on, nf_conntrack_acct=1 (a per-netns
# sysctl), MASQUERADE on rw0, an ip6tables conntrack rule so IPv6 is tracked,
# and the UDP, ICMP and TCP TIME_WAIT/CLOSE timeouts raised to 600 s so the
# table holds still while a test reads it. The WAN drops udp/9999 so flows
# sent there stay [UNREPLIED].
set -Eeuo pipefail

readonly LAB_SERVER_LIFETIME=${LAB_SERVER_LIFETIME:-15m}
readonly LAB_HOLD_MAX=${LAB_HOLD_MAX:-10m}

die() {
	echo "lab.sh: $*" >&2
	exit 1
}
log() { echo "lab.sh: $*" >&2; }

repo_root() { cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd; }

# set_names derives every name from LAB_ID.
set_names() {
	[[ $LAB_ID =~ ^[a-z0-9]{1,8}$ ]] || die "LAB_ID must be 1-8 lowercase letters or digits, got '$LAB_ID'"
	STATE=/run/netmon-lab-$LAB_ID
	LAN=nmlab-$LAB_ID-lan
	LAN2=nmlab-$LAB_ID-lan2
	RTR=nmlab-$LAB_ID-rtr
	WAN=nmlab-$LAB_ID-wan
	ALL_NS=("$LAN" "$LAN2" "$RTR" "$WAN")
	# The DHCP LAN's clients (`lab.sh dhcp`), not part of every lab.
	DHCP_NS=("nmlab-$LAB_ID-dc1" "nmlab-$LAB_ID-dc2")
	# Router interfaces, for NETMON_INTERFACES.
	RTR_IFACES=rl0,rl2,rw0
}

need_id() {
	[[ -n ${LAB_ID:-} ]] || die "set LAB_ID (the id \`lab.sh up\` printed)"
	set_names
}

need_root() {
	[[ $(id -u) -eq 0 ]] || die "needs root (network namespaces, iptables, conntrack)"
	ip netns list >/dev/null 2>&1 || die "'ip netns' does not work here"
}

ns_exists() { [[ -e /run/netns/$1 ]]; }
in_ns() {
	local ns=$1
	shift
	ip netns exec "$ns" "$@"
}

# is_lab_process PID: true if PID runs a program of this lab (labtraffic,
# dnsmasq, dhclient: each names a file in $STATE on its command line), so
# that a recycled pid never gets a signal meant for a finished lab process.
is_lab_process() {
	local pid=$1 cmd
	[[ -r /proc/$pid/cmdline ]] || return 1
	cmd=$(tr '\0' ' ' <"/proc/$pid/cmdline")
	[[ $cmd == *"$STATE/"* ]]
}

# stop_pidfile FILE: TERM the process in FILE, wait up to 5 s, then KILL.
stop_pidfile() {
	local f=$1 pid i
	[[ -f $f ]] || return 0
	pid=$(<"$f")
	if [[ $pid =~ ^[0-9]+$ ]] && is_lab_process "$pid"; then
		kill -TERM "$pid" 2>/dev/null || true
		for ((i = 0; i < 50; i++)); do
			is_lab_process "$pid" || break
			sleep 0.1
		done
		if is_lab_process "$pid"; then
			log "pid $pid ignored TERM, killing it"
			kill -KILL "$pid" 2>/dev/null || true
		fi
	fi
	rm -f "$f"
}

cmd_down() {
	need_id
	need_root
	local f ns pid
	if [[ -d $STATE/pids ]]; then
		for f in "$STATE"/pids/*.pid; do
			[[ -e $f ]] && stop_pidfile "$f"
		done
	fi
	# Anything still running inside a lab namespace was started for the lab
	# (by this script or by a test through `ip netns exec`); a namespace
	# with a process left in it would outlive `ip netns del`.
	for ns in "${ALL_NS[@]}" "${DHCP_NS[@]}" $(joined); do
		ns_exists "$ns" || continue
		for pid in $(ip netns pids "$ns" 2>/dev/null); do
			kill -KILL "$pid" 2>/dev/null || true
		done
	done
	for ns in "${ALL_NS[@]}" "${DHCP_NS[@]}" $(joined); do
		if ns_exists "$ns"; then
			ip netns del "$ns" || log "could not delete namespace $ns"
		fi
	done
	rm -rf "$STATE"
	log "lab $LAB_ID is down"
}

# veth NS1 IF1 NS2 IF2: a veth pair created inside NS1 with its peer in NS2.
veth() {
	ip -n "$1" link add "$2" type veth peer name "$4" netns "$3"
	ip -n "$1" link set "$2" up
	ip -n "$3" link set "$4" up
}

# addrs NS IF ADDR...: IPv6 addresses without duplicate address detection,
# so they are usable at once.
addrs() {
	local ns=$1 dev=$2 a
	shift 2
	for a in "$@"; do
		if [[ $a == *:* ]]; then
			ip -n "$ns" addr add "$a" dev "$dev" nodad
		else
			ip -n "$ns" addr add "$a" dev "$dev"
		fi
	done
}

cmd_up() {
	need_root
	if [[ -z ${LAB_ID:-} ]]; then
		LAB_ID=$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')
	fi
	set_names
	(cmd_down) 2>/dev/null || true
	mkdir -p "$STATE/pids"
	trap 'log "setup failed; removing the partial lab"; (cmd_down) || true' ERR

	local ns i
	for ns in "${ALL_NS[@]}"; do
		ip netns add "$ns"
		ip -n "$ns" link set lo up
	done

	veth "$RTR" rl0 "$LAN" lan0
	veth "$RTR" rl2 "$LAN2" l20
	veth "$RTR" rw0 "$WAN" wan0

	addrs "$RTR" rl0 10.0.0.1/24 fd00::1/64
	addrs "$RTR" rl2 192.168.50.1/24
	addrs "$RTR" rw0 203.0.113.1/24 2001:db8::1/64

	addrs "$LAN" lan0 10.0.0.5/24 10.0.0.6/24 fd00::5/64 fd00::6/64
	ip -n "$LAN" route add default via 10.0.0.1
	ip -n "$LAN" -6 route add default via fd00::1

	addrs "$LAN2" l20 192.168.50.10/24
	ip -n "$LAN2" route add default via 192.168.50.1

	for i in {80..89}; do
		addrs "$WAN" wan0 "203.0.113.$i/24" "2001:db8::$i/64"
	done
	# IPv4 is masqueraded to 203.0.113.1, which is on-link; IPv6 is routed.
	ip -n "$WAN" -6 route add fd00::/64 via 2001:db8::1

	# Rules first: they make the kernel track connections in this
	# namespace, and the nf_conntrack sysctls exist once it does.
	in_ns "$RTR" iptables -t nat -A POSTROUTING -o rw0 -j MASQUERADE
	in_ns "$RTR" ip6tables -A FORWARD -m conntrack --ctstate NEW,ESTABLISHED,RELATED -j ACCEPT
	in_ns "$RTR" sysctl -q -w \
		net.ipv4.ip_forward=1 \
		net.ipv6.conf.all.forwarding=1 \
		net.netfilter.nf_conntrack_acct=1 \
		net.netfilter.nf_conntrack_udp_timeout=600 \
		net.netfilter.nf_conntrack_udp_timeout_stream=600 \
		net.netfilter.nf_conntrack_icmp_timeout=600 \
		net.netfilter.nf_conntrack_icmpv6_timeout=600 \
		net.netfilter.nf_conntrack_tcp_timeout_time_wait=600 \
		net.netfilter.nf_conntrack_tcp_timeout_close=600
	[[ $(in_ns "$RTR" sysctl -n net.netfilter.nf_conntrack_acct) == 1 ]] ||
		die "nf_conntrack_acct did not stick in $RTR"

	in_ns "$WAN" iptables -A INPUT -p udp --dport 9999 -j DROP
	in_ns "$WAN" ip6tables -A INPUT -p udp --dport 9999 -j DROP

	write_env
	trap - ERR
	log "lab $LAB_ID is up (namespaces ${ALL_NS[*]})"
	echo "LAB_ID=$LAB_ID"
}

write_env() {
	cat >"$STATE/env" <<EOF
LAB_ID=$LAB_ID
LAB_STATE=$STATE
LAB_LAN=$LAN
LAB_LAN2=$LAN2
LAB_RTR=$RTR
LAB_WAN=$WAN
LAB_RTR_IFACES=$RTR_IFACES
LAB_LOCAL_SUBNETS=10.0.0.0/24,fd00::/64
LAB_MANIFEST=$STATE/manifest.json
EOF
}

need_up() {
	need_id
	need_root
	[[ -f $STATE/env ]] || die "lab $LAB_ID is not up (no $STATE/env)"
	local ns
	for ns in "${ALL_NS[@]}"; do
		ns_exists "$ns" || die "lab $LAB_ID is broken: namespace $ns is missing (run down, then up)"
	done
}

# start NAME NS ARGS...: run labtraffic in NS in the background, its pid in
# $STATE/pids/NAME.pid and its output in $STATE/NAME.log.
start() {
	local name=$1 ns=$2
	shift 2
	setsid ip netns exec "$ns" "$STATE/labtraffic" "$@" \
		</dev/null >"$STATE/$name.log" 2>&1 &
	echo $! >"$STATE/pids/$name.pid"
}

# wait_file FILE PIDFILE SECONDS: wait for FILE while the process lives.
wait_file() {
	local file=$1 pid i
	pid=$(<"$2")
	for ((i = 0; i < $3 * 10; i++)); do
		[[ -e $file ]] && return 0
		kill -0 "$pid" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}

cmd_traffic() {
	need_up
	if [[ -f $STATE/pids/client.pid ]]; then
		die "traffic already ran in lab $LAB_ID (run close, or down and up again)"
	fi
	if [[ -n ${LABTRAFFIC:-} ]]; then
		cp "$LABTRAFFIC" "$STATE/labtraffic"
	else
		(cd "$(repo_root)" && go build -o "$STATE/labtraffic" ./scripts/labtraffic)
	fi

	local wan_tcp="" wan_udp="" i name
	for i in {80..89}; do
		wan_tcp+="203.0.113.$i:8080,[2001:db8::$i]:8080,"
		wan_udp+="203.0.113.$i:5300,[2001:db8::$i]:5300,"
	done
	start wan "$WAN" serve -lifetime "$LAB_SERVER_LIFETIME" -ready "$STATE/wan.ready" \
		-tcp "$wan_tcp" -udp "$wan_udp"
	start rtr "$RTR" serve -lifetime "$LAB_SERVER_LIFETIME" -ready "$STATE/rtr.ready" \
		-udp "10.0.0.1:53,[fd00::1]:53"
	start lan2 "$LAN2" serve -lifetime "$LAB_SERVER_LIFETIME" -ready "$STATE/lan2.ready" \
		-tcp 192.168.50.10:8080 -udp 192.168.50.10:5300
	for name in wan rtr lan2; do
		wait_file "$STATE/$name.ready" "$STATE/pids/$name.pid" 10 ||
			die "server in $name did not start: $(cat "$STATE/$name.log")"
	done

	rm -f "$STATE/manifest.json"
	start client "$LAN" client -manifest "$STATE/manifest.json" -hold-max "$LAB_HOLD_MAX"
	wait_file "$STATE/manifest.json" "$STATE/pids/client.pid" 60 ||
		die "traffic client failed: $(cat "$STATE/client.log")"
	log "traffic made; manifest in $STATE/manifest.json"
	echo "$STATE/manifest.json"
}

cmd_close() {
	need_up
	[[ -f $STATE/pids/client.pid ]] || die "no traffic client running in lab $LAB_ID"
	stop_pidfile "$STATE/pids/client.pid"
	grep -q 'closed [0-9]* held connections' "$STATE/client.log" ||
		die "client did not close its connections: $(cat "$STATE/client.log")"
	log "long-lived connections closed"
}

cmd_status() {
	need_id
	local ns up=0 f
	for ns in "${ALL_NS[@]}"; do
		if ns_exists "$ns"; then
			echo "namespace $ns: present ($(ip netns pids "$ns" 2>/dev/null | wc -l) processes)"
			up=$((up + 1))
		else
			echo "namespace $ns: absent"
		fi
	done
	if [[ -d $STATE/pids ]]; then
		for f in "$STATE"/pids/*.pid; do
			[[ -e $f ]] || continue
			if is_lab_process "$(<"$f")"; then
				echo "$(basename "$f" .pid): running (pid $(<"$f"))"
			else
				echo "$(basename "$f" .pid): exited"
			fi
		done
	fi
	if ns_exists "$RTR"; then
		echo "conntrack entries in $RTR: $(in_ns "$RTR" cat /proc/sys/net/netfilter/nf_conntrack_count 2>/dev/null || echo '?')"
	fi
	[[ $up -eq ${#ALL_NS[@]} ]]
}

# joined prints the namespaces of the hosts that joined (cmd_join).
joined() {
	local j
	for j in /run/netns/nmlab-"$LAB_ID"-join[1-9]; do
		[[ -e $j ]] && echo "${j##*/}"
	done
	return 0
}

# cmd_join [N]: a new host joins the LAN, as a machine plugged in or a
# guest on the Wi-Fi would: a namespace of its own, nmlab-ID-joinN, with 10.0.0.(6+N)/24 and fd00::(6+N)/64 on j0, whose
# veth peer rjN is a new port of the router (the router answers for
# 10.0.0.1 and fd00::1 there and routes the host's /32 and /128 to it,
# so the router's neighbour table learns the host's MAC like any LAN
# host's). It prints the host's namespace, addresses and MAC (JOIN_NS=...,
# for `source`). The host sends nothing by itself: run traffic in it with
# `ip netns exec`. `down` removes it with the rest of the lab.
cmd_join() {
	need_up
	local n=${1:-1}
	[[ $n =~ ^[1-9]$ ]] || die "join: N must be 1-9, got '$n'"
	local ns=nmlab-$LAB_ID-join$n v4=10.0.0.$((6 + n)) v6=fd00::$((6 + n))
	ns_exists "$ns" && die "host $n already joined lab $LAB_ID ($ns)"
	trap 'log "join failed; removing $ns"; ip netns del "$ns" 2>/dev/null || true; ip -n "$RTR" link del "rj$n" 2>/dev/null || true' ERR
	ip netns add "$ns"
	ip -n "$ns" link set lo up
	veth "$RTR" "rj$n" "$ns" j0
	# A globally administered MAC from the documentation range (RFC 7042,
	# 00-00-5E-00-53-xx): a veth's own is random and locally
	# administered, which netmon treats as a phone's rotating MAC.
	ip -n "$ns" link set j0 address "00:00:5e:00:53:0$n"
	addrs "$RTR" "rj$n" 10.0.0.1/32 fd00::1/128
	ip -n "$RTR" route add "$v4/32" dev "rj$n"
	ip -n "$RTR" -6 route add "$v6/128" dev "rj$n"
	addrs "$ns" j0 "$v4/24" "$v6/64"
	ip -n "$ns" route add default via 10.0.0.1
	ip -n "$ns" -6 route add default via fd00::1
	trap - ERR
	log "host $n joined lab $LAB_ID ($ns, $v4, $v6)"
	echo "JOIN_NS=$ns"
	echo "JOIN_V4=$v4"
	echo "JOIN_V6=$v6"
	echo "JOIN_MAC=$(ip -n "$ns" -br link show j0 | awk '{print $3}')"
}

cmd_env() {
	need_id
	[[ -f $STATE/env ]] || die "lab $LAB_ID is not up"
	cat "$STATE/env"
}

# cmd_list prints the id of every lab that has a state directory or a
# namespace on this machine, so a forgotten or aborted one can be removed.
cmd_list() {
	{
		local d
		for d in /run/netmon-lab-*; do
			[[ -d $d ]] && echo "${d#/run/netmon-lab-}"
		done
		ip netns list 2>/dev/null | sed -n 's/^nmlab-\([a-z0-9]*\)-.*/\1/p'
	} | sort -u
}

# cmd_dhcp adds the DHCP LAN to a lab that is up: a bridge rb3 on the
# router (10.0.3.1/24, fd00:3::1/64) with one veth per client namespace,
# the real dnsmasq on it serving DHCPv4, DHCPv6 and DNS with log-queries
# to a file, and two clients that get their addresses from it with the
# real dhclient (-4 and -6), sending the host names lab-laptop and
# lab-phone.
#
#   LAN3 (dc1, dc2) eth0 -- rd1, rd2 in bridge rb3 10.0.3.1/24 fd00:3::1/64 (RTR)
#
# Nothing leaves the lab: dnsmasq has no upstream server (no-resolv,
# no-hosts) and answers the lab names below with lab WAN addresses;
# every file it and dhclient write is under $STATE/dhcp (leases, pid
# files, the query log, DUIDs), and dhclient runs our own script, which
# only sets the client's address and routes (never a resolv.conf). DAD
# is off in the client namespaces so that IPv6 is usable at once.
readonly DHCP_NAMES=(lab-laptop lab-phone)
cmd_dhcp() {
	need_up
	local d=$STATE/dhcp i ns rd
	[[ ! -e $d ]] || die "dhcp already ran in lab $LAB_ID (run down, then up)"
	command -v dnsmasq >/dev/null || die "dnsmasq is missing (apt install dnsmasq-base)"
	command -v dhclient >/dev/null || die "dhclient is missing (apt install isc-dhcp-client)"
	mkdir -p "$d"
	trap 'log "dhcp setup failed; removing the lab"; (cmd_down) || true' ERR

	in_ns "$RTR" ip link add rb3 type bridge
	in_ns "$RTR" ip link set rb3 up
	addrs "$RTR" rb3 10.0.3.1/24 fd00:3::1/64
	for i in 1 2; do
		ns=${DHCP_NS[i - 1]} rd=rd$i
		ip netns add "$ns"
		ip -n "$ns" link set lo up
		in_ns "$ns" sysctl -q -w net.ipv6.conf.default.accept_dad=0 net.ipv6.conf.all.accept_dad=0
		veth "$RTR" "$rd" "$ns" eth0
		in_ns "$RTR" ip link set "$rd" master rb3
	done

	cat >"$d/dnsmasq.conf" <<EOF
# dnsmasq for the lab's DHCP LAN (scripts/lab.sh dhcp). Only rb3, no upstream.
interface=rb3
bind-interfaces
no-resolv
no-hosts
no-poll
user=root
group=root
pid-file=$d/dnsmasq.pid
dhcp-leasefile=$d/dnsmasq.leases
log-queries
log-facility=$d/dnsmasq.log
dhcp-authoritative
dhcp-range=10.0.3.100,10.0.3.149,12h
dhcp-range=fd00:3::100,fd00:3::149,64,12h
dhcp-option=option:router,10.0.3.1
dhcp-option=option:dns-server,10.0.3.1
domain=lab
local=/lab/
local=/lab.test/
host-record=video.lab.test,203.0.113.81,2001:db8::81
host-record=cdn.lab.test,203.0.113.82,2001:db8::82
cname=www.lab.test,cdn.lab.test
address=/ads.lab.test/203.0.113.83
EOF
	in_ns "$RTR" dnsmasq --conf-file="$d/dnsmasq.conf"
	ln -s "$d/dnsmasq.pid" "$STATE/pids/dnsmasq.pid"

	# dhclient runs this instead of /sbin/dhclient-script: the address and
	# the routes of the client, nothing else (a /64 on-link prefix for
	# IPv6 stands in for the router advertisement the lab does not send).
	cat >"$d/dhclient-script" <<'EOF'
#!/bin/sh
prefix() { # dotted mask -> prefix length
	n=0
	for o in $(echo "$1" | tr . ' '); do
		while [ "$o" -gt 0 ]; do n=$((n + (o & 1))); o=$((o >> 1)); done
	done
	echo "$n"
}
case $reason in
BOUND | RENEW | REBIND | REBOOT)
	ip -4 addr replace "$new_ip_address/$(prefix "$new_subnet_mask")" dev "$interface"
	[ -z "$new_routers" ] || ip -4 route replace default via "${new_routers%% *}" dev "$interface"
	;;
BOUND6 | RENEW6 | REBIND6 | REBOOT6)
	ip -6 addr replace "$new_ip6_address/64" dev "$interface" nodad
	# The default route a router advertisement would give.
	ip -6 route replace default via fd00:3::1 dev "$interface"
	;;
EXPIRE | RELEASE | STOP | FAIL)
	[ -z "$old_ip_address" ] || ip -4 addr del "$old_ip_address" dev "$interface" 2>/dev/null
	;;
EXPIRE6 | RELEASE6 | STOP6)
	[ -z "$old_ip6_address" ] || ip -6 addr del "$old_ip6_address/64" dev "$interface" 2>/dev/null
	;;
esac
exit 0
EOF
	chmod 755 "$d/dhclient-script"
	for i in 1 2; do
		ns=${DHCP_NS[i - 1]}
		printf 'send host-name "%s";\nsend fqdn.fqdn "%s";\ntimeout 30;\n' \
			"${DHCP_NAMES[i - 1]}" "${DHCP_NAMES[i - 1]}" >"$d/dc$i.conf"
		for v in 4 6; do
			in_ns "$ns" dhclient -"$v" -1 -cf "$d/dc$i.conf" -lf "$d/dc$i-$v.leases" \
				-pf "$d/dc$i-$v.pid" -sf "$d/dhclient-script" eth0 >"$d/dc$i-$v.log" 2>&1 ||
				die "dhclient -$v in $ns got no lease: $(cat "$d/dc$i-$v.log")"
			ln -s "$d/dc$i-$v.pid" "$STATE/pids/dc$i-$v.pid"
		done
	done
	# The WAN's way back to the DHCP LAN's IPv6 prefix (IPv4 returns by
	# its default route).
	ip -n "$WAN" -6 route add fd00:3::/64 via 2001:db8::1
	cat >>"$STATE/env" <<EOF
LAB_DHCP_NS="${DHCP_NS[*]}"
LAB_DHCP_NAMES="${DHCP_NAMES[*]}"
LAB_DHCP_SUBNETS=10.0.3.0/24,fd00:3::/64
LAB_DHCP_LEASES=$d/dnsmasq.leases
LAB_DNS_LOG=$d/dnsmasq.log
LAB_DNS_SERVER=10.0.3.1
EOF
	trap - ERR
	log "DHCP LAN up: leases in $d/dnsmasq.leases, DNS log in $d/dnsmasq.log"
}

# --- Ground truth for byte counts (issue 16; reused by the history and
# rate checks). iptables/ip6tables rules in the router's FORWARD path
# count every byte each LAN host sends to and receives from the WAN (rw0),
# the IP length of each packet, which is what conntrack counts. Packets
# conntrack marks INVALID (it tracks no flow for them, so no
# conntrack-based counter can see them) are counted by rules of their own.

# cmd_lan_add ADDR...: extra LAN host addresses, so that scenarios running
# at once each have hosts of their own.
cmd_lan_add() {
	need_up
	shift
	[[ $# -gt 0 ]] || die "lan-add needs addresses"
	local a
	for a in "$@"; do
		[[ $a =~ ^10\.0\.0\.[0-9]{1,3}$ || $a =~ ^fd00::[0-9a-f]{1,4}$ ]] || die "lan-add: $a is not a LAN address (10.0.0.N or fd00::N)"
		if [[ $a == *:* ]]; then
			ip -n "$LAN" addr replace "$a/64" dev lan0 nodad
		else
			ip -n "$LAN" addr replace "$a/24" dev lan0
		fi
	done
}

# cmd_acct_setup HOST...: (re)install the accounting chain NMACCT, in
# iptables and ip6tables, for the given LAN hosts, counters at zero.
cmd_acct_setup() {
	need_up
	shift
	[[ $# -gt 0 ]] || die "acct-setup needs LAN host addresses"
	local tool h dir cls match
	for tool in iptables ip6tables; do
		in_ns "$RTR" "$tool" -N NMACCT 2>/dev/null || in_ns "$RTR" "$tool" -F NMACCT
		in_ns "$RTR" "$tool" -C FORWARD -j NMACCT 2>/dev/null || in_ns "$RTR" "$tool" -I FORWARD 1 -j NMACCT
	done
	for h in "$@"; do
		tool=iptables
		[[ $h == *:* ]] && tool=ip6tables
		for dir in up down; do
			match=(-s "$h" -o rw0)
			[[ $dir == down ]] && match=(-d "$h" -i rw0)
			for cls in valid invalid; do
				local state=(-m conntrack --ctstate INVALID)
				[[ $cls == valid ]] && state=(-m conntrack ! --ctstate INVALID)
				in_ns "$RTR" "$tool" -A NMACCT "${match[@]}" "${state[@]}" -m comment --comment "nmacct $h $dir $cls"
			done
		done
	done
}

# cmd_acct prints every accounting rule's counters.
cmd_acct() {
	need_up
	local tool
	for tool in iptables ip6tables; do
		in_ns "$RTR" "$tool" -L NMACCT -v -x -n 2>/dev/null |
			awk '{ for (i = 1; i <= NF; i++) if ($i == "/*" && $(i + 1) == "nmacct") print $(i + 2), $(i + 3), $(i + 4), $2, $1 }'
	done
}

# --- Paced downloads (issue 15: the rates e2e, scripts/e2e-rates.sh) ---

# cmd_pace SRC DST:PORT RATE DURATION: a download from LAN address SRC
# (of the LAN namespace, or of a host that joined)
# that the WAN server at DST:PORT sends at RATE bytes per second for
# DURATION (e.g. 20s), in the background (pid in $STATE/pids/pace-*.pid,
# output in $STATE/pace-*.log); it prints the name of the file that
# appears once the first bytes arrived. Needs `traffic` first (its
# servers and binary).
cmd_pace() {
	need_up
	shift
	[[ $# -eq 4 ]] || die "pace needs SRC DST:PORT RATE DURATION"
	[[ -x $STATE/labtraffic && -f $STATE/pids/wan.pid ]] || die "pace needs the servers of \`traffic\` (run it first)"
	local name=pace-$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n') ns=$LAN j
	for j in $(joined); do # SRC may be a joined host's (cmd_join)
		ip -n "$j" -o addr show | grep -q " ${1}/" && ns=$j
	done
	rm -f "$STATE/$name.ready"
	start "$name" "$ns" pace -from "$1" -to "$2" -rate "$3" -duration "$4" -ready "$STATE/$name.ready"
	wait_file "$STATE/$name.ready" "$STATE/pids/$name.pid" 10 ||
		die "paced download did not start: $(cat "$STATE/$name.log")"
	echo "$STATE/$name.ready"
}

case ${1:-} in
up) cmd_up ;;
dhcp) cmd_dhcp ;;
list) cmd_list ;;
traffic) cmd_traffic ;;
close) cmd_close ;;
down) cmd_down ;;
status) cmd_status ;;
env) cmd_env ;;
lan-add) cmd_lan_add "$@" ;;
acct-setup) cmd_acct_setup "$@" ;;
acct) cmd_acct ;;
pace) cmd_pace "$@" ;;
join) cmd_join "${2:-}" ;;
*)
	sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//' >&2
	exit 2
	;;
esac
