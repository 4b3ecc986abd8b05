package sysmetrics

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"net/netip"
	"os"
	"slices"
	"strconv"
)

// Route is one kernel route: its destination prefix and the interface
// it leaves by. A default route has a prefix of length 0.
type Route struct {
	Dst   netip.Prefix
	Iface string
}

// IfaceAddr is an address the kernel gives an interface, with its prefix.
type IfaceAddr struct {
	Prefix netip.Prefix
	Iface  string
}

// ParseRoute4 parses /proc/net/route: a header line, then per route the
// interface, destination, gateway, flags, ... and mask, the addresses as
// little-endian hex. Lines it cannot read are skipped.
func ParseRoute4(b []byte) []Route {
	var out []Route
	sc := bufio.NewScanner(bytes.NewReader(b))
	for first := true; sc.Scan(); first = false {
		f := bytes.Fields(sc.Bytes())
		if first || len(f) < 8 {
			continue
		}
		dst, ok1 := hexAddr4(f[1])
		mask, ok2 := hexAddr4(f[7])
		if !ok1 || !ok2 {
			continue
		}
		bits := 0
		for m := binary.BigEndian.Uint32(mask.AsSlice()); m&(1<<31) != 0; m <<= 1 {
			bits++
		}
		p, err := dst.Prefix(bits)
		if err != nil {
			continue
		}
		out = append(out, Route{Dst: p, Iface: string(f[0])})
	}
	return out
}

// hexAddr4 reads /proc/net/route's 8 hex digits, host (little-endian)
// byte order.
func hexAddr4(h []byte) (netip.Addr, bool) {
	var b [4]byte
	if len(h) != 8 {
		return netip.Addr{}, false
	}
	if _, err := hex.Decode(b[:], h); err != nil {
		return netip.Addr{}, false
	}
	return netip.AddrFrom4([4]byte{b[3], b[2], b[1], b[0]}), true
}

// hexAddr16 reads 32 hex digits, network byte order (/proc/net/ipv6_route,
// /proc/net/if_inet6).
func hexAddr16(h []byte) (netip.Addr, bool) {
	var b [16]byte
	if len(h) != 32 {
		return netip.Addr{}, false
	}
	if _, err := hex.Decode(b[:], h); err != nil {
		return netip.Addr{}, false
	}
	return netip.AddrFrom16(b), true
}

// hexPrefix is a with the hex prefix length l (a kept whole: an
// interface's address).
func hexPrefix(a netip.Addr, l []byte) (netip.Prefix, bool) {
	n, err := strconv.ParseUint(string(l), 16, 8)
	if err != nil {
		return netip.Prefix{}, false
	}
	p := netip.PrefixFrom(a, int(n))
	return p, p.IsValid()
}

// ParseRoute6 parses /proc/net/ipv6_route: per route the destination and
// its length, the source and its length, the next hop, metric, refcount,
// use, flags and the interface. Unreachable routes (on lo) are kept; the
// caller skips lo.
func ParseRoute6(b []byte) []Route {
	var out []Route
	eachHex6(b, 1, 9, func(p netip.Prefix, iface string) { out = append(out, Route{Dst: p, Iface: iface}) })
	return out
}

// ParseIfInet6 parses /proc/net/if_inet6: per address the address, the
// interface index, the prefix length, scope and flags (hex) and the
// interface.
func ParseIfInet6(b []byte) []IfaceAddr {
	var out []IfaceAddr
	eachHex6(b, 2, 5, func(p netip.Prefix, iface string) { out = append(out, IfaceAddr{Prefix: p, Iface: iface}) })
	return out
}

// eachHex6 calls fn for each line of an IPv6 table of /proc/net that
// starts with an address in hex, has the address's prefix length (hex) in
// field lenAt and the interface in field ifaceAt. Lines it cannot read
// are skipped.
func eachHex6(b []byte, lenAt, ifaceAt int, fn func(p netip.Prefix, iface string)) {
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := bytes.Fields(sc.Bytes())
		if len(f) <= max(lenAt, ifaceAt) {
			continue
		}
		a, ok := hexAddr16(f[0])
		if !ok {
			continue
		}
		p, ok := hexPrefix(a, f[lenAt])
		if !ok {
			continue
		}
		fn(p, string(f[ifaceAt]))
	}
}

// LANInterfaces chooses the interfaces to show when none are configured:
// those of the default routes first (the WAN), then those whose routes
// or addresses are inside or around one of lan (the LAN), each once, in
// name order within each group, never lo.
func LANInterfaces(routes []Route, addrs []IfaceAddr, lan []netip.Prefix) []string {
	var wan, inner []string
	for _, r := range routes {
		if r.Dst.Bits() == 0 {
			wan = append(wan, r.Iface)
		} else if overlaps(r.Dst, lan) {
			inner = append(inner, r.Iface)
		}
	}
	for _, a := range addrs {
		if overlaps(a.Prefix, lan) {
			inner = append(inner, a.Iface)
		}
	}
	slices.Sort(wan)
	slices.Sort(inner)
	var out []string
	for _, n := range append(wan, inner...) {
		if n != "lo" && ValidInterfaceName(n) == nil && !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}

func overlaps(p netip.Prefix, lan []netip.Prefix) bool {
	for _, l := range lan {
		if l.Overlaps(p) {
			return true
		}
	}
	return false
}

// detectInterfaces reads the routes and addresses under the root and
// chooses with LANInterfaces; when they name none (files missing, no
// route yet), every interface in /sys/class/net but lo.
func (r *Reader) detectInterfaces() []string {
	var (
		routes []Route
		addrs  []IfaceAddr
	)
	if b, err := readFile(r.path("/proc/net/route")); err == nil {
		routes = append(routes, ParseRoute4(b)...)
	}
	if b, err := readFile(r.path("/proc/net/ipv6_route")); err == nil {
		routes = append(routes, ParseRoute6(b)...)
	}
	if b, err := readFile(r.path("/proc/net/if_inet6")); err == nil {
		addrs = ParseIfInet6(b)
	}
	if names := LANInterfaces(routes, addrs, r.lan); len(names) > 0 {
		return names
	}
	es, err := os.ReadDir(r.path("/sys/class/net"))
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range es {
		if n := e.Name(); n != "lo" && ValidInterfaceName(n) == nil {
			out = append(out, n)
		}
	}
	return out
}
