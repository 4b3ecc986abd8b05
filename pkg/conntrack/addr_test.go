package conntrack

import (
	"bytes"
	"net/netip"
	"testing"
)

func TestParseAddr(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string // "" when the input is no address
	}{
		{name: "ipv4", in: "10.0.0.5", want: "10.0.0.5"},
		{name: "ipv4 extremes", in: "255.255.255.255", want: "255.255.255.255"},
		{name: "ipv6 compressed", in: "fd00::5", want: "fd00::5"},
		{name: "ipv6 in full", in: "fd00:0000:0000:0000:0000:0000:0000:0005", want: "fd00::5"},
		{name: "ipv6 unspecified", in: "::", want: "::"},
		{name: "ipv6 loopback", in: "::1", want: "::1"},
		{name: "ipv6 trailing ellipsis", in: "fe80::", want: "fe80::"},
		{name: "ipv6 upper case", in: "2001:DB8::AB", want: "2001:db8::ab"},
		{name: "ipv6 embedded ipv4", in: "64:ff9b::203.0.113.5", want: "64:ff9b::cb00:7105"},
		{name: "ipv6 full embedded ipv4", in: "0:0:0:0:0:ffff:1.2.3.4", want: "::ffff:1.2.3.4"},
		{name: "ipv4 leading zero", in: "10.0.0.05"},
		{name: "ipv4 too short", in: "10.0.5"},
		{name: "ipv4 too long", in: "10.0.0.0.5"},
		{name: "ipv4 empty field", in: "10..0.5"},
		{name: "ipv4 over 255", in: "10.0.0.300"},
		{name: "ipv6 five hex digits", in: "fd000::5"},
		{name: "ipv6 two ellipses", in: "fd00::5::6"},
		{name: "ipv6 nine groups", in: "1:2:3:4:5:6:7:8:9"},
		{name: "ipv6 seven groups no ellipsis", in: "1:2:3:4:5:6:7"},
		{name: "ipv6 ellipsis for nothing", in: "1:2:3:4::5:6:7:8"},
		{name: "ipv6 trailing colon", in: "fd00::5:"},
		{name: "ipv6 leading colon", in: ":fd00::5"},
		{name: "ipv6 zone", in: "fe80::1%eth0"},
		{name: "ipv6 misplaced ipv4", in: "1.2.3.4::5"},
		{name: "no separator", in: "12345"},
		{name: "empty", in: ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := parseAddr([]byte(tc.in))
			if tc.want == "" {
				if ok {
					t.Errorf("parseAddr(%q) = %v, want no address", tc.in, got)
				}
				return
			}
			if want := netip.MustParseAddr(tc.want); !ok || got != want {
				t.Errorf("parseAddr(%q) = %v, %v; want %v", tc.in, got, ok, want)
			}
		})
	}
}

// FuzzParseAddr checks the byte parsers against netip.ParseAddr, whose
// rules they copy (zones aside: conntrack never prints them).
func FuzzParseAddr(f *testing.F) {
	for _, s := range []string{"10.0.0.5", "fd00::5", "::ffff:1.2.3.4", "2001:0db8:0000:0000:0000:0000:0000:0080", "1.2.3.04", "::", "1:2:3:4:5:6:7:8"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, ok := parseAddr(b)
		want, err := netip.ParseAddr(string(b))
		if bytes.IndexByte(b, '%') >= 0 {
			if ok {
				t.Fatalf("parseAddr(%q) accepted a zone: %v", b, got)
			}
			return
		}
		if ok != (err == nil) || (ok && got != want) {
			t.Fatalf("parseAddr(%q) = %v, %v; netip.ParseAddr = %v, %v", b, got, ok, want, err)
		}
	})
}

// BenchmarkParseAddr compares the byte parsers with netip.ParseAddr on a
// []byte->string conversion, the reason they exist (see allocs/op).
func BenchmarkParseAddr(b *testing.B) {
	for _, s := range []string{"203.0.113.80", "2001:db8::80", "2001:0db8:0000:0000:0000:0000:0000:0080"} {
		in := []byte(s)
		b.Run("own/"+s, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, ok := parseAddr(in); !ok {
					b.Fatal("no address")
				}
			}
		})
		b.Run("netip/"+s, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := netip.ParseAddr(string(in)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
