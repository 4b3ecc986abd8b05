package names

import (
	"io"
	"strconv"
	"strings"
	"time"
)

// ParseDnsmasq reads a dnsmasq lease file (/var/lib/misc/dnsmasq.leases;
// OpenWrt's /tmp/dhcp.leases is the same format):
//
//	1700000000 52:54:00:12:34:56 10.0.0.23 laptop 01:52:54:00:12:34:56
//	duid 00:01:00:01:2c:1f:3a:5e:52:54:00:12:34:56
//	1700000000 613832748 fd00::23 laptop 00:01:00:01:2c:1f:3a:5e:52:54:00:12:34:56
//
// IPv4 lines are expiry (Unix seconds, 0 for infinite), MAC, address,
// host name ("*" for none) and client id; IPv6 lines, after the server's
// duid line, have the IAID (a "T" before it for a temporary address)
// where the MAC goes and the client's DUID last, from which the MAC is
// taken when the DUID holds one.
func ParseDnsmasq(r io.Reader, st *Stats) ([]Lease, error) {
	return eachLease(r, st, func(s string) ([]Lease, lineKind) {
		f := strings.Fields(s)
		if f[0] == "duid" {
			return nil, record // the server's, before the IPv6 leases
		}
		l, ok := dnsmasqLine(f)
		return parsed([]Lease{l}, ok)
	})
}

func dnsmasqLine(f []string) (Lease, bool) {
	var l Lease
	if len(f) < 4 {
		return l, false
	}
	exp, err := strconv.ParseInt(f[0], 10, 64)
	if err != nil || exp < 0 {
		return l, false
	}
	if exp != 0 {
		l.Expires = time.Unix(exp, 0).UTC()
	}
	a, ok := parseAddr(f[2])
	if !ok {
		return l, false
	}
	l.Addr = a
	if a.Is4() {
		if l.MAC, ok = parseMAC(f[1]); !ok {
			return l, false
		}
	} else {
		iaid := strings.TrimPrefix(f[1], "T")
		if _, err := strconv.ParseUint(iaid, 10, 32); err != nil {
			return l, false
		}
		if len(f) >= 5 {
			l.MAC = duidMAC(f[4])
		}
	}
	if f[3] != "*" {
		l.Name = f[3]
	}
	return l, true
}

// ParseDnsmasqHosts reads static hosts from dnsmasq configuration:
// `dhcp-host=` lines of dnsmasq.conf and /etc/dnsmasq.d/*, and the lines
// of a dhcp-hostsfile (the same values without `dhcp-host=`; set
// hostsfile). A value is comma separated: MACs (several allowed; a
// hardware type prefix such as 01- is dropped; wildcards are not one
// machine and are left out), `id:` client ids, `set:`/`tag:` tags, IPv4
// addresses, [IPv6] addresses, a lease time, `ignore`, and the host
// name. Other configuration lines are not counted.
func ParseDnsmasqHosts(r io.Reader, hostsfile bool, st *Stats) ([]Lease, error) {
	return eachLease(r, st, func(s string) ([]Lease, lineKind) {
		if s[0] == '#' {
			return nil, notRecord
		}
		if !hostsfile {
			v, ok := strings.CutPrefix(s, "dhcp-host=")
			if !ok {
				return nil, notRecord
			}
			s = v
		}
		return parsed(dhcpHost(s))
	})
}

func dhcpHost(v string) ([]Lease, bool) {
	var macs []Lease
	var v4, v6 Lease
	name := ""
	ignore := false
	for _, p := range strings.Split(v, ",") {
		p = strings.TrimSpace(p)
		switch {
		case p == "":
		case p == "ignore":
			ignore = true
		case strings.HasPrefix(p, "id:"), strings.HasPrefix(p, "set:"), strings.HasPrefix(p, "tag:"),
			strings.HasPrefix(p, "net:"), p == "infinite":
		case strings.HasPrefix(p, "[") && strings.HasSuffix(p, "]"):
			a, ok := parseAddr(strings.TrimSuffix(strings.TrimPrefix(p, "["), "]"))
			if !ok {
				// dnsmasq also takes [::23] style host parts: not an address of ours.
				continue
			}
			v6.Addr = a
		case strings.Contains(p, "*"):
			// A wildcard MAC matches many machines: no name for one.
		default:
			if m, ok := parseMAC(p); ok {
				macs = append(macs, Lease{MAC: m})
				continue
			}
			// Hardware type prefix: 01-52:54:00:12:34:56.
			if len(p) > 3 && p[2] == '-' {
				if m, ok := parseMAC(p[3:]); ok {
					macs = append(macs, Lease{MAC: m})
					continue
				}
			}
			if a, ok := parseAddr(p); ok && a.Is4() {
				v4.Addr = a
				continue
			}
			if isLeaseTime(p) {
				continue
			}
			if name != "" {
				return nil, false
			}
			name = p
		}
	}
	if ignore {
		return nil, true
	}
	var out []Lease
	for _, m := range macs {
		m.Name = name
		if v4.Addr.IsValid() {
			m.Addr = v4.Addr
		} else {
			m.Addr = v6.Addr
		}
		out = append(out, m)
	}
	if len(macs) == 0 {
		// A host keyed by name or client id only: its addresses.
		for _, l := range []Lease{v4, v6} {
			if l.Addr.IsValid() && name != "" {
				out = append(out, Lease{Addr: l.Addr, Name: name})
			}
		}
	}
	return out, true
}

// isLeaseTime reports whether s is a dnsmasq lease time: digits with an
// optional s, m, h, d or w.
func isLeaseTime(s string) bool {
	s = strings.TrimRight(s, "smhdw")
	if s == "" {
		return false
	}
	_, err := strconv.ParseUint(s, 10, 32)
	return err == nil
}
