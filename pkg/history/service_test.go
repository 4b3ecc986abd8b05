package history

import (
	"testing"

	"github.com/netmon-dev/netmon/pkg/conntrack"
)

func TestServiceOf(t *testing.T) {
	tests := []struct {
		proto conntrack.Proto
		port  uint16
		want  string
	}{
		{conntrack.ProtoTCP, 443, "https"},
		{conntrack.ProtoUDP, 443, "quic"},
		{conntrack.ProtoUDP, 53, "dns"},
		{conntrack.ProtoTCP, 53, "dns"},
		{conntrack.ProtoTCP, 853, "dot"},
		{conntrack.ProtoTCP, 22, "ssh"},
		{conntrack.ProtoUDP, 22, "other"},
		{conntrack.ProtoTCP, 80, "http"},
		{conntrack.ProtoUDP, 123, "ntp"},
		{conntrack.ProtoTCP, 993, "mail"},
		{conntrack.ProtoUDP, 51820, "vpn"},
		{conntrack.ProtoGRE, 0, "vpn"},
		{conntrack.ProtoICMP, 8, "icmp"},
		{conntrack.ProtoICMPv6, 128, "icmp"},
		{conntrack.ProtoTCP, 9999, "other"},
		{253, 0, "other"},
	}
	for _, tc := range tests {
		if got := ServiceOf(conntrack.FlowKey{Proto: tc.proto, DstPort: tc.port}).String(); got != tc.want {
			t.Errorf("%v/%d: %q, want %q", tc.proto, tc.port, got, tc.want)
		}
	}
}
