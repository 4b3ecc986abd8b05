package rates

import (
	"testing"

	"github.com/netmon-dev/netmon/pkg/conntrack"
)

func TestKeyRoundTrip(t *testing.T) {
	for _, k := range []conntrack.FlowKey{
		{Proto: conntrack.ProtoTCP, Src: addr("10.0.0.5"), Dst: addr("203.0.113.80"), SrcPort: 1, DstPort: 443},
		{Proto: conntrack.ProtoUDP, Src: addr("fd00::5"), Dst: addr("2001:db8::80"), SrcPort: 65535, DstPort: 53},
		{Proto: conntrack.ProtoICMP, Src: addr("10.0.0.6"), Dst: addr("::ffff:203.0.113.9"), SrcPort: 7, DstPort: 8},
	} {
		kk := keyOf(k)
		if got := kk.flowKey(); got != k {
			t.Errorf("round trip of %s gave %s", k, got)
		}
	}
	if keyOf(conntrack.FlowKey{Src: addr("10.0.0.5")}) == keyOf(conntrack.FlowKey{Src: addr("::ffff:10.0.0.5")}) {
		t.Error("an IPv4 address and its IPv4-mapped IPv6 form share a key")
	}
}
