package conntrack

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// FlowKey identifies a flow across polls: protocol and the ORIGINAL
// direction's addresses and port-like fields. It is comparable, so it can
// key a map without building a string.
//
// The port positions hold:
//   - TCP, UDP, UDP-Lite, SCTP, DCCP: the source and destination ports;
//   - GRE: the source and destination keys;
//   - ICMP and ICMPv6: the echo identifier (source side) and the ICMP type
//     (destination side), so that two pings to one host with different ids
//     are different flows while one ping keeps its key on every poll
//     (conntrack only tracks query types, whose code is 0);
//   - any other protocol: 0 and 0.
type FlowKey struct {
	Proto            Proto
	Src, Dst         netip.Addr
	SrcPort, DstPort uint16
}

// KeyOf returns the flow key of e.
func KeyOf(e *Entry) FlowKey {
	k := FlowKey{Proto: e.Proto, Src: e.Orig.Src, Dst: e.Orig.Dst}
	switch {
	case e.Proto.IsICMP():
		k.SrcPort = e.Orig.ICMPID
		k.DstPort = uint16(e.Orig.ICMPType)
	default:
		k.SrcPort, k.DstPort = e.Orig.SrcPort, e.Orig.DstPort
	}
	return k
}

// String returns the text form of the flow key,
// "proto|orig.src|orig.sport|orig.dst|orig.dport", for example
// "tcp|10.0.0.5|51234|93.184.216.34|443". See FlowKey for what the port
// positions hold; the protocol is Proto.String ("253" for protocols
// conntrack has no name for).
func (k FlowKey) String() string {
	b := make([]byte, 0, 64)
	return string(k.AppendTo(b))
}

// AppendTo appends the text form of k to b.
func (k FlowKey) AppendTo(b []byte) []byte {
	b = append(b, k.Proto.String()...)
	b = append(b, '|')
	b = k.Src.AppendTo(b)
	b = append(b, '|')
	b = strconv.AppendUint(b, uint64(k.SrcPort), 10)
	b = append(b, '|')
	b = k.Dst.AppendTo(b)
	b = append(b, '|')
	b = strconv.AppendUint(b, uint64(k.DstPort), 10)
	return b
}

// Endpoints returns the source and destination as people read them:
// "10.0.0.5:51234" and "[2001:db8::80]:443" for protocols with ports,
// "10.0.0.5 id 7" and "203.0.113.80 type 8" for ICMP (echo id and type),
// the bare addresses otherwise.
func (k FlowKey) Endpoints() (src, dst string) {
	switch {
	case k.Proto.HasPorts():
		return netip.AddrPortFrom(k.Src, k.SrcPort).String(), netip.AddrPortFrom(k.Dst, k.DstPort).String()
	case k.Proto.IsICMP():
		return k.Src.String() + " id " + strconv.Itoa(int(k.SrcPort)), k.Dst.String() + " type " + strconv.Itoa(int(k.DstPort))
	}
	return k.Src.String(), k.Dst.String()
}

// ParseKey parses the text form of a flow key (see String) back into a
// FlowKey.
func ParseKey(s string) (FlowKey, error) {
	var k FlowKey
	parts := strings.Split(s, "|")
	if len(parts) != 5 {
		return k, fmt.Errorf("parse flow key %q: want 5 fields separated by |, got %d", s, len(parts))
	}
	var err error
	if k.Proto, err = ParseProto(parts[0]); err != nil {
		return k, fmt.Errorf("parse flow key %q: %w", s, err)
	}
	if k.Src, err = netip.ParseAddr(parts[1]); err != nil {
		return k, fmt.Errorf("parse flow key %q: source: %w", s, err)
	}
	if k.Dst, err = netip.ParseAddr(parts[3]); err != nil {
		return k, fmt.Errorf("parse flow key %q: destination: %w", s, err)
	}
	sp, err := strconv.ParseUint(parts[2], 10, 16)
	if err != nil {
		return k, fmt.Errorf("parse flow key %q: source port: %w", s, err)
	}
	dp, err := strconv.ParseUint(parts[4], 10, 16)
	if err != nil {
		return k, fmt.Errorf("parse flow key %q: destination port: %w", s, err)
	}
	k.SrcPort, k.DstPort = uint16(sp), uint16(dp)
	return k, nil
}

// PackedKey is a FlowKey without pointers (netip.Addr holds one): the
// addresses as 16 bytes each, IPv4 mapped, with a bit saying it was IPv4.
// It is comparable and 38 bytes, so a table of flows or a map keyed by it
// is memory the garbage collector never scans.
type PackedKey struct {
	src, dst     [16]byte
	sport, dport uint16
	proto        Proto
	v4           uint8 // bit 0: src is IPv4; bit 1: dst is IPv4
}

// Pack returns k without pointers; PackedKey.Unpack gives k back.
func (k FlowKey) Pack() PackedKey {
	p := PackedKey{src: k.Src.As16(), dst: k.Dst.As16(), sport: k.SrcPort, dport: k.DstPort, proto: k.Proto}
	if k.Src.Is4() {
		p.v4 |= 1
	}
	if k.Dst.Is4() {
		p.v4 |= 2
	}
	return p
}

// Unpack returns the FlowKey that Pack was given.
func (p *PackedKey) Unpack() FlowKey {
	return FlowKey{
		Proto: p.proto, Src: unpackAddr(p.src, p.v4&1 != 0), Dst: unpackAddr(p.dst, p.v4&2 != 0),
		SrcPort: p.sport, DstPort: p.dport,
	}
}

func unpackAddr(b [16]byte, v4 bool) netip.Addr {
	a := netip.AddrFrom16(b)
	if v4 {
		return a.Unmap()
	}
	return a
}
