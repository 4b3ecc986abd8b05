package neigh

import (
	"io"
	"net/netip"

	"github.com/netmon-dev/netmon/pkg/device"
)

// ParseIPNeigh reads the text of `ip neigh show` (iproute2), IPv4 and
// IPv6, with or without -s, with or without `dev` on each line (`ip
// neigh show dev X` leaves it out):
//
//	10.0.0.5 dev rl0 lladdr 52:54:00:12:34:56 REACHABLE
//	fe80::1 dev rl0 lladdr 52:54:00:12:34:56 router STALE
//	10.0.0.7 dev rl0 INCOMPLETE
//
// Entries that are FAILED or INCOMPLETE, or have no usable MAC, are
// counted as ignored; a line that does not start with an address is
// skipped and counted. Only a read error is returned.
func ParseIPNeigh(r io.Reader, st *Stats) ([]device.Neighbour, error) {
	var buf [24][]byte
	return eachNeighbour(r, st, nil, func(line []byte) (device.Neighbour, bool, bool) {
		return parseIPNeighLine(buf[:0], line)
	})
}

// ParseIPNeighLine parses one line of `ip neigh show`. ok is false for a
// line that is no machine or is malformed; malformed tells the two apart.
func ParseIPNeighLine(line []byte) (n device.Neighbour, ok, malformed bool) {
	var buf [24][]byte
	n, ok, good := parseIPNeighLine(buf[:0], line)
	return n, ok, !good
}

func parseIPNeighLine(buf [][]byte, line []byte) (n device.Neighbour, ok, good bool) {
	f := fields(buf, line)
	// "Deleted" and "Miss" prefix lines of `ip monitor neigh`.
	for len(f) > 0 && (string(f[0]) == "Deleted" || string(f[0]) == "Miss") {
		if string(f[0]) == "Deleted" {
			return n, false, true
		}
		f = f[1:]
	}
	if len(f) == 0 {
		return n, false, false
	}
	a, err := netip.ParseAddr(string(f[0]))
	if err != nil {
		return n, false, false
	}
	n.Addr = a.WithZone("")
	var haveMAC, dead bool
	for i := 1; i < len(f); i++ {
		switch string(f[i]) {
		case "dev":
			if i+1 < len(f) {
				i++
				n.Iface = string(f[i])
			}
		case "lladdr":
			if i+1 >= len(f) {
				return n, false, false
			}
			i++
			if m, err := device.ParseMAC(string(f[i])); err == nil {
				n.MAC, haveMAC = m, true
			}
		case "used", "probes", "ref", "protocol", "proto", "nomaster", "vlan", "vni", "via", "port", "self", "master", "src_vni":
			// Keyword with a value (or a flag) we do not need.
			if string(f[i]) != "nomaster" && string(f[i]) != "self" && i+1 < len(f) {
				i++
			}
		case "FAILED", "INCOMPLETE":
			dead = true
		}
	}
	if dead || !haveMAC || !usable(n) {
		return n, false, true
	}
	return n, true, true
}
