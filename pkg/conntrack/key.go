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
	Proto            uint8
	Src, Dst         netip.Addr
	SrcPort, DstPort uint16
}

// KeyOf returns the flow key of e.
func KeyOf(e *Entry) FlowKey {
	k := FlowKey{Proto: e.Proto, Src: e.Orig.Src, Dst: e.Orig.Dst}
	switch {
	case IsICMP(e.Proto):
		k.SrcPort = e.Orig.ICMPID
		k.DstPort = uint16(e.Orig.ICMPType)
	default:
		k.SrcPort, k.DstPort = e.Orig.SrcPort, e.Orig.DstPort
	}
	return k
}

// Key returns the text form of the flow key,
// "proto|orig.src|orig.sport|orig.dst|orig.dport", for example
// "tcp|10.0.0.5|51234|93.184.216.34|443". See FlowKey for what the port
// positions hold. Protocols conntrack has no name for use their number
// ("253|10.0.0.6|0|203.0.113.89|0").
func Key(e *Entry) string { return KeyOf(e).String() }

// String returns the text form described at Key.
func (k FlowKey) String() string {
	b := make([]byte, 0, 64)
	return string(k.AppendTo(b))
}

// AppendTo appends the text form of k to b.
func (k FlowKey) AppendTo(b []byte) []byte {
	if name := ProtoName(k.Proto); name != "unknown" {
		b = append(b, name...)
	} else {
		b = strconv.AppendUint(b, uint64(k.Proto), 10)
	}
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

// ParseKey parses the text form of a flow key (see Key) back into a
// FlowKey. The protocol may be a name conntrack uses or a number.
func ParseKey(s string) (FlowKey, error) {
	var k FlowKey
	parts := strings.Split(s, "|")
	if len(parts) != 5 {
		return k, fmt.Errorf("parse flow key %q: want 5 fields separated by |, got %d", s, len(parts))
	}
	proto, ok := protoByName(parts[0])
	if !ok {
		n, err := strconv.ParseUint(parts[0], 10, 8)
		if err != nil {
			return k, fmt.Errorf("parse flow key %q: protocol: %w", s, err)
		}
		proto = uint8(n)
	}
	k.Proto = proto
	var err error
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

// protoByName is the inverse of ProtoName for the protocols conntrack
// names ("unknown" is no protocol).
func protoByName(name string) (uint8, bool) {
	for _, p := range [...]uint8{ProtoICMP, ProtoTCP, ProtoUDP, ProtoDCCP, ProtoGRE, ProtoICMPv6, ProtoSCTP, ProtoUDPLite} {
		if ProtoName(p) == name {
			return p, true
		}
	}
	return 0, false
}
