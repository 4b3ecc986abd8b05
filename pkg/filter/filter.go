// Package filter decides which conntrack flows are outbound: started by a
// machine on the LAN towards a host on the internet.
package filter

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"github.com/netmon-dev/netmon/pkg/conntrack"
)

// nonPublic lists the destination ranges that are not "the internet".
// Loopback, link-local, multicast and unspecified addresses are tested
// with netip methods; these are the remaining private and special ranges.
var nonPublic = []netip.Prefix{
	netip.MustParsePrefix("10.0.0.0/8"),         // RFC 1918
	netip.MustParsePrefix("172.16.0.0/12"),      // RFC 1918
	netip.MustParsePrefix("192.168.0.0/16"),     // RFC 1918
	netip.MustParsePrefix("fc00::/7"),           // RFC 4193 unique local
	netip.MustParsePrefix("255.255.255.255/32"), // limited broadcast
}

// Filter classifies flows by their ORIGINAL direction.
type Filter struct {
	local []netip.Prefix
}

// ErrCatchAll is returned by New for a prefix of length 0, which would
// make every host local.
var ErrCatchAll = errors.New("catch-all prefix would make every host local")

// New returns a Filter whose LAN is the union of local. Prefixes are
// masked to their network address. An empty list and catch-all prefixes
// (0.0.0.0/0, ::/0) are rejected.
func New(local []netip.Prefix) (*Filter, error) {
	if len(local) == 0 {
		return nil, errors.New("no local subnets")
	}
	f := &Filter{local: make([]netip.Prefix, 0, len(local))}
	for _, p := range local {
		if !p.IsValid() {
			return nil, fmt.Errorf("invalid prefix %v", p)
		}
		if p.Bits() == 0 {
			return nil, fmt.Errorf("%v: %w", p, ErrCatchAll)
		}
		f.local = append(f.local, p.Masked())
	}
	return f, nil
}

// ParsePrefixes parses CIDR strings such as "10.0.0.0/24" or "fd00::/64".
// A bare address counts as a single-host prefix; an IPv4-mapped IPv6 one
// (::ffff:10.0.0.0/120) becomes its IPv4 prefix. Surrounding spaces are
// trimmed; the error names the offending value.
func ParsePrefixes(ss []string) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(ss))
	for _, s := range ss {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if !strings.Contains(s, "/") {
			a, err := netip.ParseAddr(s)
			if err != nil {
				return nil, fmt.Errorf("%q is not a CIDR prefix (like 10.0.0.0/24)", s)
			}
			out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return nil, fmt.Errorf("%q is not a CIDR prefix (like 10.0.0.0/24)", s)
		}
		if p.Addr().Is4In6() {
			// conntrack prints IPv4 flows as IPv4: an IPv4-mapped IPv6
			// prefix would silently match none of them.
			if p.Bits() < 96 {
				return nil, fmt.Errorf("%q mixes IPv6 and IPv4-mapped addresses: write the IPv4 prefix", s)
			}
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		out = append(out, p)
	}
	return out, nil
}

// Local reports whether a is inside one of the LAN prefixes.
func (f *Filter) Local(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range f.local {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// Public reports whether a is a routable internet address: not private
// (RFC 1918, fc00::/7), loopback, link-local, multicast, broadcast or
// unspecified.
func Public(a netip.Addr) bool {
	a = a.Unmap()
	if !a.IsValid() || a.IsUnspecified() || a.IsLoopback() || a.IsMulticast() ||
		a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast() || a.IsInterfaceLocalMulticast() {
		return false
	}
	for _, p := range nonPublic {
		if p.Contains(a) {
			return false
		}
	}
	return true
}

// Outbound reports whether e was started by a LAN host towards a public
// address.
func (f *Filter) Outbound(e *conntrack.Entry) bool {
	return f.Local(e.Orig.Src) && Public(e.Orig.Dst)
}
