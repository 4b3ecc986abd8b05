package rates

import "net/netip"

// addrKey is a netip.Addr without its pointer, for map keys that hash
// fast (the tracker looks up a device and a remote host per change).
type addrKey struct {
	b  [16]byte
	v4 bool
}

func addrKeyOf(a netip.Addr) addrKey { return addrKey{b: a.As16(), v4: a.Is4()} }
