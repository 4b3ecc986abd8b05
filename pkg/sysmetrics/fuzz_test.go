package sysmetrics

import (
	"math"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse feeds the same bytes to every parser, seeded from the fixture
// trees. Properties: no panic; a parsed load average is finite and not
// negative (it goes into JSON); parsed memory adds up (used + available
// = total); routes and addresses are valid prefixes on valid interface
// names or none.
func FuzzParse(f *testing.F) {
	for _, host := range []string{"router", "minimal", "demo"} {
		for _, p := range []string{"proc/loadavg", "proc/meminfo", "sys/class/net/enp2s0/statistics/rx_bytes",
			"proc/net/route", "proc/net/ipv6_route", "proc/net/if_inet6", "proc/sys/net/netfilter/nf_conntrack_acct"} {
			if b, err := os.ReadFile(filepath.Join("..", "..", "fixtures", "hosts", host, p)); err == nil {
				f.Add(b)
			}
		}
	}
	f.Add([]byte("NaN Inf -1 1/1 1\n"))
	f.Add([]byte("MemTotal: 18446744073709551615 kB\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if l, err := ParseLoadAvg(b); err == nil {
			for _, v := range []float64{l.Load1, l.Load5, l.Load15} {
				if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
					t.Fatalf("ParseLoadAvg(%q) = %+v", b, l)
				}
			}
		}
		if m, err := ParseMeminfo(b); err == nil {
			if m.UsedBytes+m.AvailableBytes != m.TotalBytes || m.AvailableBytes > m.TotalBytes {
				t.Fatalf("ParseMeminfo(%q) = %+v does not add up", b, m)
			}
		}
		ParseCounter(b)
		parseAccounting(b)
		routes := append(ParseRoute4(b), ParseRoute6(b)...)
		for _, r := range routes {
			if !r.Dst.IsValid() {
				t.Fatalf("route %+v from %q", r, b)
			}
		}
		for _, a := range ParseIfInet6(b) {
			if !a.Prefix.IsValid() {
				t.Fatalf("address %+v from %q", a, b)
			}
		}
		for _, n := range LANInterfaces(routes, ParseIfInet6(b), []netip.Prefix{netip.MustParsePrefix("10.0.0.0/24")}) {
			if ValidInterfaceName(n) != nil || n == "lo" {
				t.Fatalf("LANInterfaces chose %q from %q", n, b)
			}
		}
	})
}
