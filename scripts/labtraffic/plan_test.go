package main

import (
	"net/netip"
	"testing"
)

// The lab's subnets, as scripts/lab.sh builds them.
var (
	labLAN = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/24"), netip.MustParsePrefix("fd00::/64")}
	labWAN = []netip.Prefix{netip.MustParsePrefix("203.0.113.0/24"), netip.MustParsePrefix("2001:db8::/64")}
)

func inAny(a netip.Addr, ps []netip.Prefix) bool {
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// TestDefaultPlan checks the plan is what the end-to-end test relies on:
// every flow from the LAN, Outbound exactly for WAN destinations, no two
// flows that could share a flow key, and the mix the issue asks for.
func TestDefaultPlan(t *testing.T) {
	plan := DefaultPlan()
	names := map[string]bool{}
	pings := map[string]string{}
	count := map[string]int{}
	for _, p := range plan {
		if names[p.Name] {
			t.Errorf("duplicate name %s", p.Name)
		}
		names[p.Name] = true
		if !inAny(p.Src, labLAN) {
			t.Errorf("%s: source %s is not a LAN address", p.Name, p.Src)
		}
		if want := inAny(p.Dst, labWAN); p.Outbound != want {
			t.Errorf("%s: Outbound = %v, but destination %s in WAN = %v", p.Name, p.Outbound, p.Dst, want)
		}
		if p.Src.Is4() != p.Dst.Is4() {
			t.Errorf("%s: mixes address families", p.Name)
		}
		if p.Held && p.Kind != Download {
			t.Errorf("%s: only downloads can be held", p.Name)
		}
		if (p.Kind == Download) != (p.Count == 0) {
			t.Errorf("%s: Count %d does not fit kind %d", p.Name, p.Count, p.Kind)
		}
		if p.Size > MaxDownload {
			t.Errorf("%s: size %d above MaxDownload", p.Name, p.Size)
		}
		// Ephemeral source ports keep TCP and UDP keys apart; two pings
		// between one pair of hosts would differ only by their id.
		if p.Kind == Ping {
			pair := p.Src.String() + ">" + p.Dst.String()
			if other, dup := pings[pair]; dup {
				t.Errorf("%s: same ping as %s", p.Name, other)
			}
			pings[pair] = p.Name
		}

		fam := "4"
		if p.Dst.Is6() {
			fam = "6"
		}
		switch {
		case !p.Outbound && inAny(p.Dst, labLAN):
			count["router-local"]++
		case !p.Outbound:
			count["lan-to-lan"]++
		case p.Held:
			count["held"+fam]++
		default:
			count[kindProto(p)+fam]++
		}
	}
	for _, want := range []string{"tcp4", "tcp6", "udp4", "udp6", "icmp4", "icmp6", "held4", "held6", "router-local", "lan-to-lan"} {
		if count[want] == 0 {
			t.Errorf("plan has no %s flow", want)
		}
	}
}

func kindProto(p Planned) string {
	switch p.Kind {
	case Download:
		return "tcp"
	case Ping:
		return "icmp"
	}
	return "udp"
}
