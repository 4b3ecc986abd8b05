package conntrack

import (
	"net/netip"
	"strings"
)

// IP protocol numbers that conntrack prints by name.
const (
	ProtoICMP    uint8 = 1
	ProtoTCP     uint8 = 6
	ProtoUDP     uint8 = 17
	ProtoDCCP    uint8 = 33
	ProtoGRE     uint8 = 47
	ProtoICMPv6  uint8 = 58
	ProtoSCTP    uint8 = 132
	ProtoUDPLite uint8 = 136
)

// ProtoName returns the lower-case name conntrack uses for an IP protocol
// number ("tcp", "icmpv6", ...), or "unknown" for protocols it has no
// tracker for.
func ProtoName(p uint8) string {
	switch p {
	case ProtoICMP:
		return "icmp"
	case ProtoTCP:
		return "tcp"
	case ProtoUDP:
		return "udp"
	case ProtoDCCP:
		return "dccp"
	case ProtoGRE:
		return "gre"
	case ProtoICMPv6:
		return "icmpv6"
	case ProtoSCTP:
		return "sctp"
	case ProtoUDPLite:
		return "udplite"
	}
	return "unknown"
}

// HasPorts reports whether the protocol's tuples carry sport= and dport=.
func HasPorts(p uint8) bool {
	switch p {
	case ProtoTCP, ProtoUDP, ProtoUDPLite, ProtoSCTP, ProtoDCCP:
		return true
	}
	return false
}

// IsICMP reports whether p is ICMP or ICMPv6, whose tuples carry
// type=, code= and id= instead of ports.
func IsICMP(p uint8) bool { return p == ProtoICMP || p == ProtoICMPv6 }

// Tuple is one direction of a flow.
//
// SrcPort and DstPort hold the ports for TCP, UDP, UDP-Lite, SCTP and DCCP,
// and the keys (srckey=, dstkey=) for GRE, as the kernel stores them in the
// same place. For ICMP and ICMPv6 they are zero and the ICMP fields are set.
// Packets and Bytes are zero when accounting is off (nf_conntrack_acct=0).
type Tuple struct {
	Src, Dst         netip.Addr
	SrcPort, DstPort uint16
	ICMPType         uint8
	ICMPCode         uint8
	ICMPID           uint16
	Packets, Bytes   uint64
}

// Status is the set of bracketed flags conntrack prints for a flow.
type Status uint8

// Status bits.
const (
	StatusAssured   Status = 1 << iota // [ASSURED]
	StatusUnreplied                    // [UNREPLIED]
	StatusOffload                      // [OFFLOAD]
	StatusHWOffload                    // [HW_OFFLOAD]
)

var statusNames = [...]struct {
	bit  Status
	name string
}{
	{StatusAssured, "ASSURED"},
	{StatusUnreplied, "UNREPLIED"},
	{StatusOffload, "OFFLOAD"},
	{StatusHWOffload, "HW_OFFLOAD"},
}

// Has reports whether every bit of f is set in s.
func (s Status) Has(f Status) bool { return s&f == f }

// Flags returns the names of the set bits in a fixed order
// (ASSURED, UNREPLIED, OFFLOAD, HW_OFFLOAD); never nil.
func (s Status) Flags() []string {
	out := make([]string, 0, 2)
	for _, n := range statusNames {
		if s&n.bit != 0 {
			out = append(out, n.name)
		}
	}
	return out
}

// String joins Flags with commas ("ASSURED,UNREPLIED"), or "" when none.
// It does not allocate: every reconcile cycle calls it once per flow.
func (s Status) String() string {
	if int(s) < len(statusTexts) {
		return statusTexts[s]
	}
	return strings.Join(s.Flags(), ",")
}

// statusTexts holds String of every combination of the known bits.
var statusTexts = func() (t [1 << len(statusNames)]string) {
	for i := range t {
		t[i] = strings.Join(Status(i).Flags(), ",")
	}
	return t
}()

// ParseStatus is the inverse of Status.String. Unknown names are ignored.
func ParseStatus(s string) Status {
	var st Status
	for _, f := range strings.Split(s, ",") {
		for _, n := range statusNames {
			if f == n.name {
				st |= n.bit
			}
		}
	}
	return st
}

// Event is the kind of change an event line (`conntrack -E`) reports.
type Event uint8

// Events. EventNone is a table listing line (`conntrack -L`).
const (
	EventNone Event = iota
	EventNew
	EventUpdate
	EventDestroy
)

// String returns "NEW", "UPDATE", "DESTROY", or "" for EventNone.
func (e Event) String() string {
	switch e {
	case EventNew:
		return "NEW"
	case EventUpdate:
		return "UPDATE"
	case EventDestroy:
		return "DESTROY"
	}
	return ""
}

// Entry is one conntrack flow.
//
// Orig is the ORIGINAL direction (as the first packet went: LAN host to
// the internet for outbound flows) and Reply the REPLY direction (after
// NAT: remote host back to the router's WAN address).
type Entry struct {
	Event   Event
	Family  uint8 // 2 (IPv4) or 10 (IPv6); derived from the address when the line has no family column
	Proto   uint8 // IP protocol number (6, 17, 1, 58, 47, 253, ...)
	Timeout uint32
	// HasTimeout is false for offloaded flows, which print no timeout.
	HasTimeout bool
	// State is the protocol state word (TCP "ESTABLISHED", SCTP, DCCP), or
	// "" for protocols without one (UDP, ICMP, GRE, unknown) and offloaded flows.
	State   string
	Orig    Tuple
	Reply   Tuple
	Status  Status
	Mark    uint32
	HasMark bool
	Use     uint32
}

// ProtoName is ProtoName(e.Proto).
func (e *Entry) ProtoName() string { return ProtoName(e.Proto) }

// TotalBytes is the bytes of both directions.
func (e *Entry) TotalBytes() uint64 { return e.Orig.Bytes + e.Reply.Bytes }
