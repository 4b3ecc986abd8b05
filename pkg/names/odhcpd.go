package names

import (
	"io"
	"strconv"
	"strings"
	"time"
)

// ParseOdhcpd reads odhcpd's state file (OpenWrt /tmp/hosts/odhcpd):
// one comment line per lease,
//
//	# br-lan 000100012b9f1d5e525400123456 6a2b3c4d laptop 1700000000 23 128 fd00::23/128
//	# br-lan 52:54:0:12:34:56 ipv4 laptop 1700000000 a000017 32 10.0.0.23/32
//
// (interface, DUID in hex or, for DHCPv4, the MAC, the IAID or "ipv4",
// host name ("-" for none, "broken\x20" before an invalid one), the end
// of the lease (Unix seconds, -1 for infinite), the assigned id, the
// prefix length and the addresses), and, in older versions, hosts lines
// `fd00::23 laptop.lan laptop`. The MAC of a DHCPv6 lease is taken from
// the DUID when it holds one.
func ParseOdhcpd(r io.Reader, st *Stats) ([]Lease, error) {
	return eachLease(r, st, func(s string) ([]Lease, lineKind) {
		f := strings.Fields(s)
		switch {
		case f[0] == "#":
			return parsed(odhcpdState(f[1:]))
		case f[0][0] == '#':
			return nil, notRecord
		}
		return parsed(odhcpdHosts(f))
	})
}

func odhcpdState(f []string) ([]Lease, bool) {
	// iface id iaid|ipv4 hostname valid assigned plen addrs...
	if len(f) < 7 {
		return nil, false
	}
	var base Lease
	if f[2] == "ipv4" {
		m, ok := parseMAC(f[1])
		if !ok {
			return nil, false
		}
		base.MAC = m
	} else {
		if _, err := strconv.ParseUint(f[2], 16, 32); err != nil {
			return nil, false
		}
		base.MAC = duidMAC(f[1])
	}
	host := f[3]
	rest := f[4:]
	if strings.HasPrefix(host, `broken\x20`) {
		host = ""
	} else if host == "-" {
		host = ""
	}
	base.Name = host
	valid, err := strconv.ParseInt(rest[0], 10, 64)
	if err != nil {
		return nil, false
	}
	if valid >= 0 {
		// 0: ended (older odhcpd still writes such leases); -1: infinite.
		base.Expires = time.Unix(valid, 0).UTC()
	}
	var out []Lease
	for _, p := range rest[3:] {
		a, _, _ := strings.Cut(p, "/")
		addr, ok := parseAddr(a)
		if !ok {
			return nil, false
		}
		l := base
		l.Addr = addr
		out = append(out, l)
	}
	if len(out) == 0 {
		// A lease with no address left (expired prefix): only its name.
		if base.MAC.IsZero() {
			return nil, true
		}
		out = append(out, base)
	}
	return out, true
}

func odhcpdHosts(f []string) ([]Lease, bool) {
	a, ok := parseAddr(f[0])
	if !ok || len(f) < 2 {
		return nil, false
	}
	// The short name is last: "addr name.domain name".
	return []Lease{{Addr: a, Name: f[len(f)-1]}}, true
}
