package conntrack

import (
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestKey(t *testing.T) {
	tests := []struct {
		name    string
		line    string
		wantKey FlowKey
		want    string
	}{
		{
			name:    "tcp ports",
			line:    tcpLine,
			wantKey: FlowKey{Proto: ProtoTCP, Src: addr("10.0.0.6"), Dst: addr("203.0.113.80"), SrcPort: 33857, DstPort: 443},
			want:    "tcp|10.0.0.6|33857|203.0.113.80|443",
		},
		{
			name:    "icmp id and type",
			line:    icmpLine,
			wantKey: FlowKey{Proto: ProtoICMP, Src: addr("10.0.0.5"), Dst: addr("203.0.113.80"), SrcPort: 4660, DstPort: 8},
			want:    "icmp|10.0.0.5|4660|203.0.113.80|8",
		},
		{
			name:    "ipv6",
			line:    v6Line,
			wantKey: FlowKey{Proto: ProtoTCP, Src: addr("fd00::5"), Dst: addr("2001:db8::80"), SrcPort: 47067, DstPort: 443},
			want:    "tcp|fd00::5|47067|2001:db8::80|443",
		},
		{
			name:    "gre keys",
			line:    greLine,
			wantKey: FlowKey{Proto: ProtoGRE, Src: addr("10.0.0.5"), Dst: addr("203.0.113.89")},
			want:    "gre|10.0.0.5|0|203.0.113.89|0",
		},
		{
			name:    "protocol without a name",
			line:    "ipv4     2 unknown  253 597 src=10.0.0.6 dst=203.0.113.89 packets=1 bytes=68 [UNREPLIED] src=203.0.113.89 dst=203.0.113.1 packets=0 bytes=0 mark=0 use=1",
			wantKey: FlowKey{Proto: 253, Src: addr("10.0.0.6"), Dst: addr("203.0.113.89")},
			want:    "253|10.0.0.6|0|203.0.113.89|0",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e, err := ParseLine([]byte(tc.line))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.wantKey, KeyOf(&e), equateAddrs); diff != "" {
				t.Errorf("KeyOf (-want +got):\n%s", diff)
			}
			if got := KeyOf(&e).String(); got != tc.want {
				t.Errorf("Key = %q, want %q", got, tc.want)
			}
			if got := string(KeyOf(&e).AppendTo([]byte("x="))); got != "x="+tc.want {
				t.Errorf("AppendTo = %q, want %q", got, "x="+tc.want)
			}
			back, err := ParseKey(tc.want)
			if err != nil {
				t.Fatalf("ParseKey(%q): %v", tc.want, err)
			}
			if back != tc.wantKey {
				t.Errorf("ParseKey(%q) = %+v, want %+v", tc.want, back, tc.wantKey)
			}
		})
	}
}

func TestParseKeyProtocolNumber(t *testing.T) {
	got, err := ParseKey("6|10.0.0.6|1|203.0.113.80|2")
	want := FlowKey{Proto: ProtoTCP, Src: addr("10.0.0.6"), Dst: addr("203.0.113.80"), SrcPort: 1, DstPort: 2}
	if err != nil || got != want {
		t.Errorf("ParseKey = %+v, %v; want %+v", got, err, want)
	}
}

func TestParseKeyErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
	}{
		{name: "empty", in: ""},
		{name: "four fields", in: "tcp|10.0.0.6|1|203.0.113.80"},
		{name: "six fields", in: "tcp|10.0.0.6|1|203.0.113.80|2|3"},
		{name: "unknown protocol name", in: "unknown|10.0.0.6|1|203.0.113.80|2"},
		{name: "protocol over 255", in: "256|10.0.0.6|1|203.0.113.80|2"},
		{name: "bad source", in: "tcp|10.0.0|1|203.0.113.80|2"},
		{name: "bad destination", in: "tcp|10.0.0.6|1|host|2"},
		{name: "port over 65535", in: "tcp|10.0.0.6|65536|203.0.113.80|2"},
		{name: "bad destination port", in: "tcp|10.0.0.6|1|203.0.113.80|x"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if k, err := ParseKey(tc.in); err == nil {
				t.Errorf("ParseKey(%q) = %+v, want an error", tc.in, k)
			}
		})
	}
}

func TestEndpoints(t *testing.T) {
	tests := []struct {
		key      string
		src, dst string
	}{
		{"tcp|10.0.0.5|51234|93.184.216.34|443", "10.0.0.5:51234", "93.184.216.34:443"},
		{"udp|fd00::5|41467|2001:db8::80|53", "[fd00::5]:41467", "[2001:db8::80]:53"},
		{"sctp|10.0.0.5|5000|203.0.113.80|5001", "10.0.0.5:5000", "203.0.113.80:5001"},
		{"icmp|10.0.0.5|4660|203.0.113.80|8", "10.0.0.5 id 4660", "203.0.113.80 type 8"},
		{"icmpv6|fd00::5|7|2001:db8::80|128", "fd00::5 id 7", "2001:db8::80 type 128"},
		{"gre|10.0.0.5|0|203.0.113.80|0", "10.0.0.5", "203.0.113.80"},
		{"253|10.0.0.6|0|203.0.113.89|0", "10.0.0.6", "203.0.113.89"},
	}
	for _, tc := range tests {
		t.Run(tc.key, func(t *testing.T) {
			k, err := ParseKey(tc.key)
			if err != nil {
				t.Fatal(err)
			}
			src, dst := k.Endpoints()
			if diff := cmp.Diff([]string{tc.src, tc.dst}, []string{src, dst}); diff != "" {
				t.Errorf("Endpoints (-want +got):\n%s", diff)
			}
		})
	}
}

// TestPackRoundTrip: a flow key comes back from its packed form exactly,
// IPv4 as IPv4 and IPv4-mapped IPv6 as IPv6, and the two forms of one
// IPv4 address pack differently.
func TestPackRoundTrip(t *testing.T) {
	for _, s := range []string{"10.0.0.5", "::ffff:10.0.0.5", "2001:db8::1", "::", "0.0.0.0"} {
		a := netip.MustParseAddr(s)
		for _, k := range []FlowKey{
			{Proto: ProtoUDP, Src: a, Dst: a, SrcPort: 1, DstPort: 2},
			{Proto: ProtoTCP, Src: a, Dst: netip.MustParseAddr("2001:db8::80"), SrcPort: 65535, DstPort: 443},
			{Proto: ProtoICMP, Src: netip.MustParseAddr("10.0.0.6"), Dst: a, SrcPort: 7, DstPort: 8},
		} {
			p := k.Pack()
			if got := p.Unpack(); got != k {
				t.Errorf("%s: round trip gives %v", k, got)
			}
		}
	}
	v4, mapped := netip.MustParseAddr("10.0.0.5"), netip.MustParseAddr("::ffff:10.0.0.5")
	if (FlowKey{Src: v4}).Pack() == (FlowKey{Src: mapped}).Pack() {
		t.Error("an IPv4 address and its IPv4-mapped IPv6 form pack alike")
	}
}
