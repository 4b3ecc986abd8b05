package rates

import (
	"net/netip"

	"github.com/netmon-dev/netmon/pkg/conntrack"
)

// key is a FlowKey without pointers (netip.Addr holds one), so that the
// tracker's index is a map the garbage collector does not scan.
type key struct {
	src, dst     [16]byte
	sport, dport uint16
	proto        conntrack.Proto
	v4           uint8 // bit 0: src is IPv4; bit 1: dst is IPv4
}

func keyOf(k conntrack.FlowKey) key {
	t := key{src: k.Src.As16(), dst: k.Dst.As16(), sport: k.SrcPort, dport: k.DstPort, proto: k.Proto}
	if k.Src.Is4() {
		t.v4 |= 1
	}
	if k.Dst.Is4() {
		t.v4 |= 2
	}
	return t
}

func addrOf(b [16]byte, v4 bool) netip.Addr {
	a := netip.AddrFrom16(b)
	if v4 {
		return a.Unmap()
	}
	return a
}

// flowKey is the inverse of keyOf.
func (k *key) flowKey() conntrack.FlowKey {
	return conntrack.FlowKey{
		Proto: k.proto, Src: addrOf(k.src, k.v4&1 != 0), Dst: addrOf(k.dst, k.v4&2 != 0),
		SrcPort: k.sport, DstPort: k.dport,
	}
}

// addrKey is a netip.Addr without its pointer, for map keys that hash
// fast (the tracker looks up a device and a remote host per change).
type addrKey struct {
	b  [16]byte
	v4 bool
}

func addrKeyOf(a netip.Addr) addrKey { return addrKey{b: a.As16(), v4: a.Is4()} }
