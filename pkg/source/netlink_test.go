package source

import (
	"net/netip"
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/mdlayher/netlink"
	"github.com/ti-mo/netfilter"

	"github.com/netmon-dev/netmon/pkg/conntrack"
)

var addrOpts = cmpopts.EquateComparable(netip.Addr{})

// ctEvent is what a test DESTROY message carries, in the kernel's terms.
type ctEvent struct {
	msgType                uint8 // IPCTNL_MSG_CT_DELETE (2) for DESTROY
	proto                  uint8
	src, dst, rsrc, rdst   string
	sport, dport           uint16 // ICMP: sport is the echo id, dport type<<8|code
	rsport, rdport         uint16
	status                 uint32 // IPS_* bits
	tcpState               int    // -1: no CTA_PROTOINFO
	timeout, mark, id      uint32
	op, ob, rp, rb         uint64
	withTimeout, withCount bool
}

// The kernel's attribute numbers (linux/netfilter/nfnetlink_conntrack.h).
const (
	ctaTupleOrig, ctaTupleReply, ctaStatus, ctaProtoinfo   = 1, 2, 3, 4
	ctaTimeout, ctaMark, ctaCountersOrig, ctaCountersReply = 7, 8, 9, 10
	ctaID                                                  = 12
	ipsSeenReply, ipsAssured                               = 1 << 1, 1 << 2
)

// message encodes ev as the kernel sends it to the DESTROY group.
func (ev ctEvent) message(t *testing.T) netlink.Message {
	t.Helper()
	be16, be32, be64 := netfilter.Uint16Bytes, netfilter.Uint32Bytes, netfilter.Uint64Bytes
	tuple := func(typ uint16, src, dst string, sport, dport uint16) netfilter.Attribute {
		s, d := netip.MustParseAddr(src), netip.MustParseAddr(dst)
		ipSrc, ipDst := uint16(1), uint16(2)
		if s.Is6() {
			ipSrc, ipDst = 3, 4
		}
		proto := []netfilter.Attribute{{Type: 1, Data: []byte{ev.proto}}}
		switch ev.proto {
		case 1, 58: // ICMP and ICMPv6 have their own attribute numbers
			id, typ, code := uint16(4), uint16(5), uint16(6)
			if ev.proto == 58 {
				id, typ, code = 7, 8, 9
			}
			proto = append(proto, netfilter.Attribute{Type: id, Data: be16(sport)},
				netfilter.Attribute{Type: typ, Data: []byte{byte(dport >> 8)}},
				netfilter.Attribute{Type: code, Data: []byte{byte(dport)}})
		default:
			proto = append(proto, netfilter.Attribute{Type: 2, Data: be16(sport)}, netfilter.Attribute{Type: 3, Data: be16(dport)})
		}
		return netfilter.Attribute{Type: typ, Nested: true, Children: []netfilter.Attribute{
			{Type: 1, Nested: true, Children: []netfilter.Attribute{{Type: ipSrc, Data: s.AsSlice()}, {Type: ipDst, Data: d.AsSlice()}}},
			{Type: 2, Nested: true, Children: proto},
		}}
	}
	counters := func(typ uint16, p, b uint64) netfilter.Attribute {
		return netfilter.Attribute{Type: typ, Nested: true, Children: []netfilter.Attribute{{Type: 1, Data: be64(p)}, {Type: 2, Data: be64(b)}}}
	}
	attrs := []netfilter.Attribute{
		tuple(ctaTupleOrig, ev.src, ev.dst, ev.sport, ev.dport),
		tuple(ctaTupleReply, ev.rsrc, ev.rdst, ev.rsport, ev.rdport),
		{Type: ctaStatus, Data: be32(ev.status)},
	}
	if ev.tcpState >= 0 {
		attrs = append(attrs, netfilter.Attribute{Type: ctaProtoinfo, Nested: true, Children: []netfilter.Attribute{
			{Type: 1, Nested: true, Children: []netfilter.Attribute{{Type: 1, Data: []byte{byte(ev.tcpState)}}}},
		}})
	}
	if ev.withTimeout {
		attrs = append(attrs, netfilter.Attribute{Type: ctaTimeout, Data: be32(ev.timeout)})
	}
	if ev.mark != 0 {
		attrs = append(attrs, netfilter.Attribute{Type: ctaMark, Data: be32(ev.mark)})
	}
	if ev.withCount {
		attrs = append(attrs, counters(ctaCountersOrig, ev.op, ev.ob), counters(ctaCountersReply, ev.rp, ev.rb))
	}
	attrs = append(attrs, netfilter.Attribute{Type: ctaID, Data: be32(ev.id)})
	family := netfilter.ProtoIPv4
	if netip.MustParseAddr(ev.src).Is6() {
		family = netfilter.ProtoIPv6
	}
	m, err := netfilter.MarshalNetlink(netfilter.Header{
		SubsystemID: netfilter.NFSubsysCTNetlink, MessageType: netfilter.MessageType(ev.msgType), Family: family,
	}, attrs)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestDecodeLikeText: a DESTROY from the socket is the Entry its line in
// `conntrack -E -o extended,id` parses to, so events from the kernel and
// from a replayed file are the same values.
func TestDecodeLikeText(t *testing.T) {
	tests := []struct {
		name string
		ev   ctEvent
		line string
	}{
		{
			name: "tcp, NATed, assured, with counters",
			ev: ctEvent{msgType: 2, proto: 6, src: "10.0.0.6", dst: "203.0.113.84", rsrc: "203.0.113.84", rdst: "203.0.113.1",
				sport: 35865, dport: 443, rsport: 443, rdport: 35865, status: ipsSeenReply | ipsAssured, tcpState: 8,
				timeout: 6, id: 3172537556, op: 5, ob: 276, rp: 3, rb: 564, withTimeout: true, withCount: true},
			line: "[DESTROY] ipv4     2 tcp      6 6 CLOSE src=10.0.0.6 dst=203.0.113.84 sport=35865 dport=443 packets=5 bytes=276 src=203.0.113.84 dst=203.0.113.1 sport=443 dport=35865 packets=3 bytes=564 [ASSURED] id=3172537556",
		},
		{
			name: "udp over IPv6, unreplied, with a mark",
			ev: ctEvent{msgType: 2, proto: 17, src: "fd00::6", dst: "2001:db8::81", rsrc: "2001:db8::81", rdst: "fd00::6",
				sport: 59658, dport: 9999, rsport: 9999, rdport: 59658, tcpState: -1, timeout: 23, mark: 42, id: 7,
				op: 1, ob: 88, withTimeout: true, withCount: true},
			line: "[DESTROY] ipv6     10 udp      17 23 src=fd00::6 dst=2001:db8::81 sport=59658 dport=9999 packets=1 bytes=88 [UNREPLIED] src=2001:db8::81 dst=fd00::6 sport=9999 dport=59658 packets=0 bytes=0 mark=42 id=7",
		},
		{
			name: "an expired entry: no timeout (a lab capture, events-ids.txt's kind)",
			ev: ctEvent{msgType: 2, proto: 17, src: "10.0.0.30", dst: "203.0.113.85", rsrc: "203.0.113.85", rdst: "10.0.0.30",
				sport: 23983, dport: 53, rsport: 53, rdport: 23983, tcpState: -1, id: 4244406561, withCount: true},
			line: "[DESTROY] ipv4     2 udp      17 src=10.0.0.30 dst=203.0.113.85 sport=23983 dport=53 packets=0 bytes=0 [UNREPLIED] src=203.0.113.85 dst=10.0.0.30 sport=53 dport=23983 packets=0 bytes=0 id=4244406561",
		},
		{
			name: "icmp echo",
			ev: ctEvent{msgType: 2, proto: 1, src: "10.0.0.6", dst: "203.0.113.81", rsrc: "203.0.113.81", rdst: "203.0.113.1",
				sport: 1911, dport: 8 << 8, rsport: 1911, rdport: 0, status: ipsSeenReply, tcpState: -1, timeout: 26, id: 77,
				op: 1, ob: 84, rp: 1, rb: 84, withTimeout: true, withCount: true},
			line: "[DESTROY] ipv4     2 icmp     1 26 src=10.0.0.6 dst=203.0.113.81 type=8 code=0 id=1911 packets=1 bytes=84 src=203.0.113.81 dst=203.0.113.1 type=0 code=0 id=1911 packets=1 bytes=84 id=77",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			want, err := conntrack.ParseLine([]byte(tc.line))
			if err != nil {
				t.Fatal(err)
			}
			var got []conntrack.Entry
			bad := decodeEvents([]netlink.Message{tc.ev.message(t)}, func(e *conntrack.Entry) { got = append(got, *e) })
			if bad != 0 {
				t.Fatalf("%d messages undecoded", bad)
			}
			if diff := cmp.Diff([]conntrack.Entry{want}, got, addrOpts); diff != "" {
				t.Errorf("netlink vs text (-text +netlink):\n%s", diff)
			}
		})
	}
}

// TestDecodeSkips: only DESTROY events are delivered; a message that does
// not decode is counted, not delivered.
func TestDecodeSkips(t *testing.T) {
	ev := ctEvent{msgType: 0, proto: 17, src: "10.0.0.5", dst: "203.0.113.80", rsrc: "203.0.113.80", rdst: "203.0.113.1",
		sport: 1, dport: 2, rsport: 2, rdport: 1, tcpState: -1, id: 1}
	newEvent := ev.message(t) // IPCTNL_MSG_CT_NEW
	broken := ev.message(t)
	broken.Data = broken.Data[:len(broken.Data)-3]
	n := 0
	bad := decodeEvents([]netlink.Message{newEvent, broken}, func(*conntrack.Entry) { n++ })
	if n != 0 || bad != 1 {
		t.Errorf("delivered %d, undecoded %d; want 0, 1", n, bad)
	}
}

// TestOpenNetlinkAsRoot subscribes for real when the test runs as root:
// the buffer the kernel grants is at least what was forced. The router
// lab e2e tests what the socket receives.
func TestOpenNetlinkAsRoot(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root (CAP_NET_ADMIN) to subscribe to conntrack events")
	}
	sock, err := openNetlink(4 << 20)
	if err != nil {
		t.Fatalf("openNetlink: %v", err)
	}
	defer sock.Close()
	if got := sock.Buffer(); got < 4<<20 {
		t.Errorf("receive buffer %d bytes, want at least %d", got, 4<<20)
	}
}
