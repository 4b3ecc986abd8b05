#!/usr/bin/env bash
# e2e-alerts.sh: issue 18 in the router lab. A new host joining the LAN
# raises exactly one new-device alert once the learning period is over;
# the hosts that were there during it raise none.
#
#   1. lab up and traffic (scripts/lab.sh): the LAN hosts 10.0.0.5, .6,
#      fd00::5, ::6 talk to the WAN;
#   2. netmon ingest-loop in the router namespace, the real conntrack,
#      alerts.learning_period shortened to 6 s, a new device's delay to 1 s,
#      an exec sink (/usr/bin/tee: no shell, no receiver to write) and the
#      log sink; the LAN's hosts are learned silently;
#   3. after the learning period, `lab.sh join` adds a host (a namespace
#      with 10.0.0.7 and fd00::7 on a new router port), which connects to
#      the WAN over IPv4 and IPv6;
#   4. `netmon alerts --output json` and the sink's file hold exactly the
#      expected new-device alerts, the joined host's, and nothing else.
#
# "Exactly" means one alert: a device is its MAC (the router's neighbour
# table, issue 13), so the joined host is ONE device whatever addresses
# it talks from, and the alert carries the MAC `lab.sh join` printed.
#
# Needs what scripts/e2e.sh needs (root, ip netns, conntrack, iptables,
# Go) and jq. Exits 77 without root or ip netns. About 20 s.
set -Eeuo pipefail

# shellcheck source=scripts/e2e-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/e2e-lib.sh"
skip_unless_lab "needs root for network namespaces and conntrack"
need_tools "apt install conntrack iptables jq" conntrack iptables jq go
setup al netmon.log

# This scenario's checks are not one command each: fail counts them.
fail() {
	say "FAIL $*"
	failed=$((failed + 1))
}

build netmon labtraffic
netmon=$tmp/netmon

lab_up
lab_traffic

learning=6
cat >"$tmp/netmon.yaml" <<EOF
local_subnets: [10.0.0.0/24, fd00::/64]
alerts:
  learning_period: ${learning}s
  new_device:
    delay: 1s
  sinks:
    - name: file
      type: exec
      command: [/usr/bin/tee, -a, $tmp/sink.json]
    - name: log
      type: log
EOF
ip netns exec "$LAB_RTR" "$netmon" ingest-loop --config "$tmp/netmon.yaml" --db "$tmp/netmon.db" \
	--state-dir "$tmp/state" --interval 500ms --log-level debug >"$tmp/netmon.log" 2>&1 &
netmon_pid=$!
pids+=("$netmon_pid")

# new_devices prints the record's new-device alerts, one JSON line each.
new_devices() {
	"$netmon" alerts --db "$tmp/netmon.db" --output json --limit 100 2>/dev/null |
		jq -c '.[] | select(.kind == "new_device") | {id, device: .device.id, mac: (.device.mac // ""), addr: .device.addr}'
}
count() { new_devices | grep -c . || true; }

sleep $((learning + 2))
if ! kill -0 "$netmon_pid" 2>/dev/null; then
	say "FAIL netmon ingest-loop died"
	exit 1
fi
grep -q 'msg="ingest cycle".* outbound=[1-9]' "$tmp/netmon.log" ||
	fail "netmon saw no outbound flow of the LAN's hosts during the learning period"
n=$(count)
if [[ $n -ne 0 ]]; then
	fail "the LAN's hosts, there during the learning period, raised $n new-device alerts: $(new_devices)"
else
	say "PASS no alert for the hosts seen during the learning period"
fi

# shellcheck disable=SC1090
source <("$lab" join 1)
say "host joined: $JOIN_NS $JOIN_V4 $JOIN_V6 $JOIN_MAC"
for target in 203.0.113.80/8080 2001:db8::80/8080; do
	ip netns exec "$JOIN_NS" timeout 3 bash -c "exec 3<>/dev/tcp/$target" ||
		fail "the joined host could not connect to $target"
done

deadline=$((SECONDS + 20))
while [[ $(count) -lt 1 && $SECONDS -lt $deadline ]]; do sleep 0.5; done
sleep 3 # one that would come late, or twice
alerts=$(new_devices)
say "new-device alerts: ${alerts:-none}"
want=1
[[ $(jq -r '.mac' <<<"$alerts" | sort -u) == "${JOIN_MAC,,}" ]] ||
	fail "the alert is not for the joined host's MAC $JOIN_MAC"
n=$(grep -c . <<<"$alerts" || true)
[[ $n -eq $want ]] || fail "$n new-device alerts in the record, want $want"
# The exec sink appends each alert's JSON (no newline between them).
delivered=$(grep -o '"kind":"new_device"' "$tmp/sink.json" 2>/dev/null | wc -l)
[[ $delivered -eq $want ]] || fail "the exec sink got $delivered new-device alerts, want $want"
grep -q 'msg=alert .*kind=new_device' "$tmp/netmon.log" || fail "the log sink wrote no alert line"

stop "$netmon_pid" || fail "netmon ingest-loop did not stop cleanly"
"$lab" down >/dev/null 2>&1
ip netns list | grep -q "^nmlab-$LAB_ID-" && fail "lab down left namespaces (the joined host's?)"

say "$((SECONDS - start)) s"
if [[ $failed -eq 0 ]]; then
	say "PASS a new host joining the LAN raises exactly the expected new-device alert"
	exit 0
fi
say "$failed failed"
exit 1
