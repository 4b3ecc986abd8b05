package sysmetrics

import (
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

var prefixOpts = cmpopts.EquateComparable(netip.Prefix{})

func TestParseRoutes(t *testing.T) {
	p := netip.MustParsePrefix
	demo := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join("..", "..", "fixtures", "hosts", "demo", "proc", "net", name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	tests := []struct {
		name  string
		parse func([]byte) any
		in    []byte
		want  any
	}{
		{"route", func(b []byte) any { return ParseRoute4(b) }, demo("route"), []Route{
			{p("0.0.0.0/0"), "eth0"}, {p("192.0.2.0/24"), "eth0"}, {p("10.0.0.0/24"), "br-lan"}, {p("192.168.50.0/24"), "wlan1"},
		}},
		{"route, bad lines skipped", func(b []byte) any { return ParseRoute4(b) },
			[]byte("Iface\tDestination\nx\tzz\nshort\neth1\t0000000A\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0\n"),
			[]Route{{p("10.0.0.0/16"), "eth1"}}},
		{"route, empty", func(b []byte) any { return ParseRoute4(b) }, nil, []Route(nil)},
		{"ipv6_route", func(b []byte) any { return ParseRoute6(b) }, demo("ipv6_route"), []Route{
			{p("fd00::/64"), "br-lan"}, {p("fe80::/64"), "br-lan"}, {p("fe80::/64"), "eth0"}, {p("::/0"), "eth0"},
			{p("::/0"), "lo"}, {p("::1/128"), "lo"}, {p("ff00::/8"), "br-lan"},
		}},
		{"if_inet6", func(b []byte) any { return ParseIfInet6(b) }, demo("if_inet6"), []IfaceAddr{
			{p("fd00::1/64"), "br-lan"}, {p("fe80::211:22ff:fe33:4455/64"), "br-lan"}, {p("fe80::211:22ff:fe33:4456/64"), "eth0"}, {p("::1/128"), "lo"},
		}},
		{"if_inet6, bad length skipped", func(b []byte) any { return ParseIfInet6(b) },
			[]byte("fd000000000000000000000000000001 04 zz 00 80 br-lan\n"), []IfaceAddr(nil)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, tc.parse(tc.in), prefixOpts); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestLANInterfaces(t *testing.T) {
	p := netip.MustParsePrefix
	lan := []netip.Prefix{p("10.0.0.0/24"), p("fd00::/64")}
	tests := []struct {
		name   string
		routes []Route
		addrs  []IfaceAddr
		want   []string
	}{
		{"default route first, then the LAN", []Route{{p("10.0.0.0/24"), "br-lan"}, {p("0.0.0.0/0"), "wan"}}, nil, []string{"wan", "br-lan"}},
		{"an interface once", []Route{{p("0.0.0.0/0"), "eth0"}, {p("::/0"), "eth0"}, {p("10.0.0.0/24"), "eth0"}}, nil, []string{"eth0"}},
		{"other subnets are not the LAN", []Route{{p("192.168.50.0/24"), "guest"}, {p("fe80::/64"), "br-lan"}}, nil, nil},
		{"a LAN known by its address", nil, []IfaceAddr{{p("fd00::1/64"), "br-lan"}, {p("fe80::1/64"), "eth0"}}, []string{"br-lan"}},
		{"a wider route carrying the LAN", []Route{{p("10.0.0.0/8"), "wg0"}}, nil, []string{"wg0"}},
		{"never lo, never a hostile name", []Route{{p("::/0"), "lo"}, {p("0.0.0.0/0"), "../etc"}}, []IfaceAddr{{p("10.0.0.1/32"), "lo"}}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, LANInterfaces(tc.routes, tc.addrs, lan)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// TestDetectedInterfaces reads the demo tree with no interfaces
// configured: the WAN (default route) and the LAN, not the guest Wi-Fi
// nor lo; and an interface that vanishes is left out, with no error.
func TestDetectedInterfaces(t *testing.T) {
	lan := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/24"), netip.MustParsePrefix("fd00::/64")}
	root := copyHost(t, "demo")
	r := NewReader(Options{Root: root, Detect: true, LAN: lan})
	names := func() []string {
		s, err := r.Read(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, it := range s.Interfaces {
			if it.Error != "" {
				t.Errorf("%s: %s", it.Name, it.Error)
			}
			out = append(out, it.Name)
		}
		return out
	}
	if diff := cmp.Diff([]string{"eth0", "br-lan"}, names()); diff != "" {
		t.Errorf("detected (-want +got):\n%s", diff)
	}
	if err := os.RemoveAll(filepath.Join(root, "sys", "class", "net", "br-lan")); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"eth0"}, names()); diff != "" {
		t.Errorf("after br-lan went (-want +got):\n%s", diff)
	}
	for _, f := range []string{"route", "ipv6_route", "if_inet6"} {
		os.Remove(filepath.Join(root, "proc", "net", f))
	}
	if diff := cmp.Diff([]string{"eth0", "wlan1"}, names()); diff != "" {
		t.Errorf("without routes, every interface but lo (-want +got):\n%s", diff)
	}
}
