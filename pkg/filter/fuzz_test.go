package filter

import (
	"net/netip"
	"strconv"
	"strings"
	"testing"

	"github.com/netmon-dev/netmon/pkg/conntrack"
)

// prefixSeeds are local_subnets values as users write them, right and
// wrong, in the comma-separated form of NETMON_LOCAL_SUBNETS.
var prefixSeeds = []string{
	"10.0.0.0/24",
	"10.0.0.0/24,fd00::/64",
	" 192.168.50.0/24 , 10.0.0.0/8 ",
	"10.0.0.7",
	"fd00::5",
	"10.0.0.77/24",
	"10.0.0.0/33",
	"0.0.0.0/0",
	"::/0",
	"lan",
	",,",
	"",
	"::ffff:10.0.0.0/120",
	"::ffff:10.0.0.5",
	"fe80::1%eth0/64",
	"10.0.0.0/024",
	"10.0.0.0/-1",
	"1.2.3.4/32,5.6.7.8/32,2001:db8::/32",
}

// FuzzParsePrefixes: any comma-separated list parses or fails naming one
// of its items. A list that parses has one valid prefix per non-blank item;
// a bare address is its single-host prefix; each prefix survives its text
// form; and a Filter built from it counts every prefix's own network
// address (and, for an IPv4 prefix, that address as conntrack never
// prints it, IPv4-mapped IPv6) as local.
func FuzzParsePrefixes(f *testing.F) {
	for _, s := range prefixSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, list string) {
		items := strings.Split(list, ",")
		got, err := ParsePrefixes(items)
		if err != nil {
			named := false
			for _, it := range items {
				if s := strings.TrimSpace(it); s != "" && strings.Contains(err.Error(), strconv.Quote(s)) {
					named = true
				}
			}
			if !named || got != nil {
				t.Fatalf("error %q names no item of %q (prefixes %v)", err, items, got)
			}
			return
		}
		var nonBlank []string
		for _, it := range items {
			if s := strings.TrimSpace(it); s != "" {
				nonBlank = append(nonBlank, s)
			}
		}
		if len(got) != len(nonBlank) {
			t.Fatalf("%d prefixes for %d items %q", len(got), len(nonBlank), nonBlank)
		}
		for i, p := range got {
			if !p.IsValid() {
				t.Fatalf("item %q gave invalid prefix %v", nonBlank[i], p)
			}
			if !strings.Contains(nonBlank[i], "/") && p.Bits() != p.Addr().BitLen() {
				t.Fatalf("bare address %q gave %v, not a single-host prefix", nonBlank[i], p)
			}
			back, err := ParsePrefixes([]string{p.String()})
			if err != nil || len(back) != 1 || back[0] != p {
				t.Fatalf("%v does not survive its text form: %v, %v", p, back, err)
			}
		}
		flt, err := New(got)
		if err != nil {
			for _, p := range got {
				if p.Bits() == 0 {
					return // a catch-all, refused by design
				}
			}
			if len(got) == 0 {
				return
			}
			t.Fatalf("New(%v): %v", got, err)
		}
		for _, p := range got {
			net := p.Masked().Addr()
			if !flt.Local(net) {
				t.Fatalf("prefix %v from %q: its network address %v is not local", p, list, net)
			}
			if net.Is4() && !flt.Local(netip.AddrFrom16(net.As16())) {
				t.Fatalf("prefix %v: %v as IPv4-mapped IPv6 is not local", p, net)
			}
		}
	})
}

// FuzzOutbound: classification does not depend on how an address is
// written (IPv4 or IPv4-mapped IPv6); nothing private, loopback,
// link-local, multicast or unspecified is ever public; and an entry is
// outbound exactly when its source is local and its destination public.
func FuzzOutbound(f *testing.F) {
	seeds := []struct {
		local    string
		src, dst []byte
	}{
		{"10.0.0.0/24", []byte{10, 0, 0, 5}, []byte{203, 0, 113, 80}},
		{"10.0.0.0/24", []byte{10, 0, 0, 5}, []byte{192, 168, 50, 10}},
		{"10.0.0.0/24,fd00::/64", netip.MustParseAddr("fd00::5").AsSlice(), netip.MustParseAddr("2001:db8::80").AsSlice()},
		{"fd00::/64", netip.MustParseAddr("fd00::5").AsSlice(), netip.MustParseAddr("ff02::1").AsSlice()},
		{"10.0.0.0/24", []byte{10, 0, 0, 5}, []byte{255, 255, 255, 255}},
		{"10.0.0.0/24", []byte{10, 0, 0, 5}, netip.MustParseAddr("::ffff:8.8.8.8").AsSlice()},
	}
	for _, s := range seeds {
		f.Add(s.local, s.src, s.dst)
	}
	f.Fuzz(func(t *testing.T, local string, srcB, dstB []byte) {
		src, ok1 := netip.AddrFromSlice(srcB)
		dst, ok2 := netip.AddrFromSlice(dstB)
		if !ok1 || !ok2 {
			return
		}
		ps, err := ParsePrefixes(strings.Split(local, ","))
		if err != nil {
			return
		}
		flt, err := New(ps)
		if err != nil {
			return
		}
		for _, a := range []netip.Addr{src, dst} {
			mapped := netip.AddrFrom16(a.As16())
			if a.Is4() && (Public(a) != Public(mapped) || flt.Local(a) != flt.Local(mapped)) {
				t.Fatalf("%v and %v are classified differently", a, mapped)
			}
			u := a.Unmap()
			if Public(a) && (u.IsPrivate() || u.IsLoopback() || u.IsLinkLocalUnicast() || u.IsMulticast() || u.IsUnspecified()) {
				t.Fatalf("%v is public", a)
			}
		}
		e := conntrack.Entry{Orig: conntrack.Tuple{Src: src, Dst: dst}}
		if got, want := flt.Outbound(&e), flt.Local(src) && Public(dst); got != want {
			t.Fatalf("Outbound(%v -> %v) = %v, want %v", src, dst, got, want)
		}
	})
}

// TestParsePrefixesMapped: an IPv4-mapped IPv6 prefix or address in
// local_subnets either is refused or covers the IPv4 addresses conntrack
// prints; it must never parse into a prefix that matches nothing.
func TestParsePrefixesMapped(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		local string
	}{
		{"mapped IPv4 prefix", "::ffff:10.0.0.0/120", "10.0.0.5"},
		{"mapped IPv4 address", "::ffff:10.0.0.5", "10.0.0.5"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ps, err := ParsePrefixes([]string{tc.in})
			if err != nil {
				return // refusing it, with an error, is fine too
			}
			flt, err := New(ps)
			if err != nil {
				t.Fatal(err)
			}
			if a := netip.MustParseAddr(tc.local); !flt.Local(a) {
				t.Errorf("%s parsed as %v, but %v is not local", tc.in, ps, a)
			}
		})
	}
}
