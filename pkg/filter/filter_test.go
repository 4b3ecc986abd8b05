package filter

import (
	"errors"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/netmon-dev/netmon/pkg/conntrack"
)

func mustFilter(t *testing.T, cidrs ...string) *Filter {
	t.Helper()
	ps, err := ParsePrefixes(cidrs)
	if err != nil {
		t.Fatal(err)
	}
	f, err := New(ps)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestOutbound(t *testing.T) {
	f := mustFilter(t, "10.0.0.0/24", "fd00::/64")
	tests := []struct {
		name     string
		src, dst string
		want     bool
	}{
		{"lan to internet", "10.0.0.5", "203.0.113.80", true},
		{"lan to internet v6", "fd00::5", "2001:db8::80", true},
		{"lan to router", "10.0.0.6", "10.0.0.1", false},
		{"lan to second lan", "10.0.0.5", "192.168.50.10", false},
		{"lan to 172.16/12", "10.0.0.5", "172.20.1.1", false},
		{"lan to 172.32 is public", "10.0.0.5", "172.32.0.1", true},
		{"lan to ula", "fd00::5", "fd00::1", false},
		{"lan to other ula", "fd00::5", "fc12::1", false},
		{"loopback", "10.0.0.5", "127.0.0.1", false},
		{"link-local v4", "10.0.0.5", "169.254.1.1", false},
		{"link-local v6", "fd00::5", "fe80::1", false},
		{"multicast v4", "10.0.0.5", "224.0.0.251", false},
		{"multicast v6", "fd00::5", "ff02::fb", false},
		{"broadcast", "10.0.0.5", "255.255.255.255", false},
		{"unspecified", "10.0.0.5", "0.0.0.0", false},
		{"router-originated", "203.0.113.1", "203.0.113.80", false},
		{"other lan source", "10.0.1.5", "203.0.113.80", false},
		{"v4-mapped dst", "10.0.0.5", "::ffff:203.0.113.80", true},
		{"v4-mapped private dst", "10.0.0.5", "::ffff:10.0.0.1", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := conntrack.Entry{Orig: conntrack.Tuple{
				Src: netip.MustParseAddr(tt.src),
				Dst: netip.MustParseAddr(tt.dst),
			}}
			if got := f.Outbound(&e); got != tt.want {
				t.Errorf("Outbound(%s -> %s) = %v, want %v", tt.src, tt.dst, got, tt.want)
			}
		})
	}
}

func TestParsePrefixes(t *testing.T) {
	tests := []struct {
		name    string
		in      []string
		want    []netip.Prefix
		wantErr bool
	}{
		{"v4 and v6", []string{"10.0.0.0/24", " fd00::/64 "},
			[]netip.Prefix{netip.MustParsePrefix("10.0.0.0/24"), netip.MustParsePrefix("fd00::/64")}, false},
		{"bare address", []string{"10.0.0.7"}, []netip.Prefix{netip.MustParsePrefix("10.0.0.7/32")}, false},
		{"empty items skipped", []string{"", "10.0.0.0/8"}, []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}, false},
		{"bad cidr", []string{"10.0.0.0/33"}, nil, true},
		{"garbage", []string{"lan"}, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParsePrefixes(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if tt.wantErr {
				return
			}
			if diff := cmp.Diff(tt.want, got, cmpopts.EquateComparable(netip.Prefix{})); diff != "" {
				t.Errorf("(-want +got)\n%s", diff)
			}
		})
	}
}

func TestNewRejects(t *testing.T) {
	tests := []struct {
		name     string
		in       []netip.Prefix
		catchAll bool
	}{
		{"empty", nil, false},
		{"v4 catch-all", []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0")}, true},
		{"v6 catch-all", []netip.Prefix{netip.MustParsePrefix("10.0.0.0/24"), netip.MustParsePrefix("::/0")}, true},
		{"zero prefix", []netip.Prefix{{}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.in)
			if err == nil {
				t.Fatal("New accepted it")
			}
			if got := errors.Is(err, ErrCatchAll); got != tt.catchAll {
				t.Errorf("errors.Is(err, ErrCatchAll) = %v, want %v (err: %v)", got, tt.catchAll, err)
			}
		})
	}
}

func TestNewMasks(t *testing.T) {
	f := mustFilter(t, "10.0.0.77/24")
	if !f.Local(netip.MustParseAddr("10.0.0.200")) {
		t.Error("10.0.0.200 not local in 10.0.0.77/24")
	}
}
