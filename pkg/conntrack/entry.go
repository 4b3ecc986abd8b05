package conntrack

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// Proto is an IP protocol number (6 is TCP, 17 UDP, 1 ICMP, ...).
type Proto uint8

// IP protocol numbers that conntrack prints by name.
const (
	ProtoICMP    Proto = 1
	ProtoTCP     Proto = 6
	ProtoUDP     Proto = 17
	ProtoDCCP    Proto = 33
	ProtoGRE     Proto = 47
	ProtoICMPv6  Proto = 58
	ProtoSCTP    Proto = 132
	ProtoUDPLite Proto = 136
)

// protoNames are the names conntrack prints, in the order ParseProto tries them.
var protoNames = [...]struct {
	p    Proto
	name string
}{
	{ProtoTCP, "tcp"}, {ProtoUDP, "udp"}, {ProtoICMP, "icmp"}, {ProtoICMPv6, "icmpv6"},
	{ProtoGRE, "gre"}, {ProtoSCTP, "sctp"}, {ProtoDCCP, "dccp"}, {ProtoUDPLite, "udplite"},
}

// protoTexts holds String of every protocol number, so that String, called
// once per flow per cycle, never allocates.
var protoTexts = func() (t [256]string) {
	for i := range t {
		t[i] = strconv.Itoa(i)
	}
	for _, n := range protoNames {
		t[n.p] = n.name
	}
	return t
}()

// String returns the lower-case name conntrack uses ("tcp", "icmpv6", ...),
// or the number ("253") for a protocol conntrack has no tracker for (it
// prints those as "unknown 253").
func (p Proto) String() string { return protoTexts[p] }

// trackerName is the word conntrack prints before the number: String, or
// "unknown".
func (p Proto) trackerName() string {
	if p.named() {
		return protoTexts[p]
	}
	return "unknown"
}

func (p Proto) named() bool {
	for _, n := range protoNames {
		if n.p == p {
			return true
		}
	}
	return false
}

// ParseProto is the inverse of String: a name conntrack uses or a number
// from 0 to 255.
func ParseProto(s string) (Proto, error) {
	for _, n := range protoNames {
		if n.name == s {
			return n.p, nil
		}
	}
	v, err := strconv.ParseUint(s, 10, 8)
	if err != nil {
		return 0, fmt.Errorf("protocol %q: not a protocol name or a number from 0 to 255", s)
	}
	return Proto(v), nil
}

// HasPorts reports whether the protocol's tuples carry sport= and dport=.
func (p Proto) HasPorts() bool {
	switch p {
	case ProtoTCP, ProtoUDP, ProtoUDPLite, ProtoSCTP, ProtoDCCP:
		return true
	}
	return false
}

// IsICMP reports whether p is ICMP or ICMPv6, whose tuples carry type=,
// code= and id= instead of ports.
func (p Proto) IsICMP() bool { return p == ProtoICMP || p == ProtoICMPv6 }

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
	Proto   Proto
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
	// ID is the kernel's conntrack id (`-o id` prints it as id= after
	// use=, or at the end of an event line), 0 when the line has none. It
	// tells two flows of one tuple apart: a polled flow and its DESTROY
	// event join by it, and a tuple whose id changed is a new flow.
	ID uint32
	// BeforeRead marks a DESTROY event received before the read it is
	// folded with began: its flow was gone before that listing started,
	// so it is none of the flows the listing shows, even one with the
	// same id (the kernel reuses ids: an entry allocated where the last
	// one was freed, for the same tuple, gets the same id).
	BeforeRead bool
}

// TotalBytes is the bytes of both directions.
func (e *Entry) TotalBytes() uint64 { return e.Orig.Bytes + e.Reply.Bytes }

// Counters returns e's counters as uplink (ORIGINAL) and downlink (REPLY).
func (e *Entry) Counters() Counters {
	return Counters{
		UplinkPackets: e.Orig.Packets, UplinkBytes: e.Orig.Bytes,
		DownlinkPackets: e.Reply.Packets, DownlinkBytes: e.Reply.Bytes,
	}
}

// Counters are a flow's packet and byte counts by direction: uplink is the
// ORIGINAL direction (what the LAN host sent), downlink the REPLY (what it
// received). They are zero when the kernel's accounting is off
// (nf_conntrack_acct=0).
type Counters struct {
	UplinkPackets, UplinkBytes, DownlinkPackets, DownlinkBytes uint64
}

// TotalBytes is uplink plus downlink bytes.
func (c Counters) TotalBytes() uint64 { return c.UplinkBytes + c.DownlinkBytes }
