package conntrack

import (
	"bytes"
	"errors"
	"io"
	"net/netip"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// equateAddrs lets go-cmp compare structs holding netip.Addr.
var equateAddrs = cmpopts.EquateComparable(netip.Addr{}, netip.Prefix{})

// Real lines from the captures, the bases the cases below start from.
const (
	tcpLine   = "ipv4     2 tcp      6 431997 ESTABLISHED src=10.0.0.6 dst=203.0.113.80 sport=33857 dport=443 packets=6 bytes=330 src=203.0.113.80 dst=203.0.113.1 sport=443 dport=33857 packets=5 bytes=20268 [ASSURED] mark=0 use=1"
	udpLine   = "ipv4     2 udp      17 27 src=10.0.0.5 dst=203.0.113.80 sport=41467 dport=53 packets=1 bytes=68 src=203.0.113.80 dst=203.0.113.1 sport=53 dport=41467 packets=1 bytes=148 mark=0 use=1"
	icmpLine  = "ipv4     2 icmp     1 29 src=10.0.0.5 dst=203.0.113.80 type=8 code=0 id=4660 packets=3 bytes=252 src=203.0.113.80 dst=203.0.113.1 type=0 code=0 id=4660 packets=3 bytes=252 mark=0 use=1"
	v6Line    = "ipv6     10 tcp      6 431997 ESTABLISHED src=fd00::5 dst=2001:db8::80 sport=47067 dport=443 packets=4 bytes=305 src=2001:db8::80 dst=fd00::5 sport=443 dport=47067 packets=3 bytes=3224 [ASSURED] mark=0 use=1"
	greLine   = "ipv4     2 gre      47 27 src=10.0.0.5 dst=203.0.113.89 srckey=0x0 dstkey=0x0 packets=1 bytes=52 [UNREPLIED] src=203.0.113.89 dst=203.0.113.1 srckey=0x0 dstkey=0x0 packets=0 bytes=0 mark=0 use=1"
	trailer29 = "conntrack v1.4.7 (conntrack-tools): 29 flow entries have been shown."
)

func addr(s string) netip.Addr { return netip.MustParseAddr(s) }

// tcpEntry is what tcpLine parses to.
func tcpEntry() Entry {
	return Entry{
		Family: 2, Proto: ProtoTCP, Timeout: 431997, HasTimeout: true, State: "ESTABLISHED",
		Orig:   Tuple{Src: addr("10.0.0.6"), Dst: addr("203.0.113.80"), SrcPort: 33857, DstPort: 443, Packets: 6, Bytes: 330},
		Reply:  Tuple{Src: addr("203.0.113.80"), Dst: addr("203.0.113.1"), SrcPort: 443, DstPort: 33857, Packets: 5, Bytes: 20268},
		Status: StatusAssured, HasMark: true, Use: 1,
	}
}

// with returns tcpEntry changed by f.
func with(f func(e *Entry)) Entry {
	e := tcpEntry()
	f(&e)
	return e
}

func TestParseLine(t *testing.T) {
	tests := []struct {
		name string
		line string
		want Entry
	}{
		{name: "extended tcp", line: tcpLine, want: tcpEntry()},
		{name: "trailing CR LF", line: tcpLine + "\r\n", want: tcpEntry()},
		{name: "tabs between tokens", line: strings.ReplaceAll(tcpLine, " ", "\t"), want: tcpEntry()},
		{name: "plain -L without family column", line: strings.TrimPrefix(tcpLine, "ipv4     2 "), want: tcpEntry()},
		{
			name: "procfs IPv6 written out in full",
			line: "ipv6     10 tcp      6 431996 ESTABLISHED src=fd00:0000:0000:0000:0000:0000:0000:0005 dst=2001:0db8:0000:0000:0000:0000:0000:0080 sport=47067 dport=443 packets=4 bytes=305 src=2001:0db8:0000:0000:0000:0000:0000:0080 dst=fd00:0000:0000:0000:0000:0000:0000:0005 sport=443 dport=47067 packets=3 bytes=3224 [ASSURED] mark=0 zone=0 use=2",
			want: Entry{
				Family: 10, Proto: ProtoTCP, Timeout: 431996, HasTimeout: true, State: "ESTABLISHED",
				Orig:   Tuple{Src: addr("fd00::5"), Dst: addr("2001:db8::80"), SrcPort: 47067, DstPort: 443, Packets: 4, Bytes: 305},
				Reply:  Tuple{Src: addr("2001:db8::80"), Dst: addr("fd00::5"), SrcPort: 443, DstPort: 47067, Packets: 3, Bytes: 3224},
				Status: StatusAssured, HasMark: true, Use: 2,
			},
		},
		{
			name: "plain IPv6 line takes the family from the address",
			line: strings.TrimPrefix(v6Line, "ipv6     10 "),
			want: Entry{
				Family: 10, Proto: ProtoTCP, Timeout: 431997, HasTimeout: true, State: "ESTABLISHED",
				Orig:   Tuple{Src: addr("fd00::5"), Dst: addr("2001:db8::80"), SrcPort: 47067, DstPort: 443, Packets: 4, Bytes: 305},
				Reply:  Tuple{Src: addr("2001:db8::80"), Dst: addr("fd00::5"), SrcPort: 443, DstPort: 47067, Packets: 3, Bytes: 3224},
				Status: StatusAssured, HasMark: true, Use: 1,
			},
		},
		{
			name: "udp without state",
			line: udpLine,
			want: Entry{
				Family: 2, Proto: ProtoUDP, Timeout: 27, HasTimeout: true,
				Orig:    Tuple{Src: addr("10.0.0.5"), Dst: addr("203.0.113.80"), SrcPort: 41467, DstPort: 53, Packets: 1, Bytes: 68},
				Reply:   Tuple{Src: addr("203.0.113.80"), Dst: addr("203.0.113.1"), SrcPort: 53, DstPort: 41467, Packets: 1, Bytes: 148},
				HasMark: true, Use: 1,
			},
		},
		{
			name: "icmp with the conntrack id after use=",
			line: icmpLine + " id=4101527771",
			want: Entry{
				Family: 2, Proto: ProtoICMP, Timeout: 29, HasTimeout: true,
				Orig:    Tuple{Src: addr("10.0.0.5"), Dst: addr("203.0.113.80"), ICMPType: 8, ICMPID: 4660, Packets: 3, Bytes: 252},
				Reply:   Tuple{Src: addr("203.0.113.80"), Dst: addr("203.0.113.1"), ICMPID: 4660, Packets: 3, Bytes: 252},
				HasMark: true, Use: 1, ID: 4101527771,
			},
		},
		{
			name: "icmpv6 event with a conntrack id and no use=",
			line: "    [NEW] ipv6     10 icmpv6   58 30 src=fd00::5 dst=2001:db8::80 type=128 code=0 id=16962 [UNREPLIED] src=2001:db8::80 dst=fd00::5 type=129 code=0 id=16962 id=987654",
			want: Entry{
				Event: EventNew, Family: 10, Proto: ProtoICMPv6, Timeout: 30, HasTimeout: true,
				Orig:   Tuple{Src: addr("fd00::5"), Dst: addr("2001:db8::80"), ICMPType: 128, ICMPID: 16962},
				Reply:  Tuple{Src: addr("2001:db8::80"), Dst: addr("fd00::5"), ICMPType: 129, ICMPID: 16962},
				Status: StatusUnreplied, ID: 987654,
			},
		},
		{
			name: "udp event with a conntrack id in the reply tuple's place",
			line: " [UPDATE] ipv4     2 udp      17 30 src=203.0.113.1 dst=203.0.113.80 sport=38727 dport=123 src=203.0.113.80 dst=203.0.113.1 sport=123 dport=38727 id=1234",
			want: Entry{
				Event: EventUpdate, Family: 2, Proto: ProtoUDP, Timeout: 30, HasTimeout: true,
				Orig:  Tuple{Src: addr("203.0.113.1"), Dst: addr("203.0.113.80"), SrcPort: 38727, DstPort: 123},
				Reply: Tuple{Src: addr("203.0.113.80"), Dst: addr("203.0.113.1"), SrcPort: 123, DstPort: 38727},
				ID:    1234,
			},
		},
		{
			name: "destroy event with counters, flags and a conntrack id",
			line: "[DESTROY] " + strings.TrimSuffix(tcpLine, " mark=0 use=1") + " id=3172537556",
			want: with(func(e *Entry) { e.Event, e.HasMark, e.Use, e.ID = EventDestroy, false, 0, 3172537556 }),
		},
		{
			name: "icmp destroy event: the conntrack id after the reply tuple's echo id",
			line: "[DESTROY] ipv4     2 icmp     1 26 src=10.0.0.6 dst=203.0.113.81 type=8 code=0 id=1911 packets=1 bytes=84 src=203.0.113.81 dst=203.0.113.1 type=0 code=0 id=1911 packets=1 bytes=84 id=77",
			want: Entry{
				Event: EventDestroy, Family: 2, Proto: ProtoICMP, Timeout: 26, HasTimeout: true,
				Orig:  Tuple{Src: addr("10.0.0.6"), Dst: addr("203.0.113.81"), ICMPType: 8, ICMPID: 1911, Packets: 1, Bytes: 84},
				Reply: Tuple{Src: addr("203.0.113.81"), Dst: addr("203.0.113.1"), ICMPID: 1911, Packets: 1, Bytes: 84},
				ID:    77,
			},
		},
		{
			name: "destroy event with receive timestamp, start/stop and userspace",
			line: "[1795626534.494593]\t[DESTROY] " + strings.TrimSuffix(tcpLine, " mark=0 use=1") + " delta-time=6 [start=Wed Nov 25 17:09:01 2026] [stop=Wed Nov 25 17:09:08 2026] [USERSPACE] portid=23646 progname=conntrack",
			want: with(func(e *Entry) { e.Event, e.HasMark, e.Use = EventDestroy, false, 0 }),
		},
		{
			name: "ktimestamp start with spaces and conntrack id",
			line: strings.TrimSuffix(tcpLine, " use=1") + " delta-time=3 [start=Wed Nov 25 17:08:29 2026] use=1 id=4288347876",
			want: with(func(e *Entry) { e.ID = 4288347876 }),
		},
		{
			name: "unknown tokens are skipped",
			line: strings.Replace(tcpLine, "mark=0", "mark=0 zone=7 zone-orig=1 zone-reply=2 helper=ftp secctx=system_u:object_r:unlabeled_t:s0 labels=0x1 frobnicate [WHATEVER x]", 1),
			want: tcpEntry(),
		},
		{
			name: "no mark",
			line: strings.Replace(tcpLine, " mark=0", "", 1),
			want: with(func(e *Entry) { e.HasMark = false }),
		},
		{
			name: "largest mark, counters and timeout",
			line: strings.NewReplacer("mark=0", "mark=4294967295", "bytes=330", "bytes=18446744073709551615", "431997", "4294967295").Replace(tcpLine),
			want: with(func(e *Entry) { e.Mark, e.Orig.Bytes, e.Timeout = 1<<32-1, 1<<64-1, 1<<32-1 }),
		},
		{
			name: "no counters",
			line: "ipv4     2 tcp      6 431997 ESTABLISHED src=10.0.0.6 dst=203.0.113.80 sport=33857 dport=443 src=203.0.113.80 dst=203.0.113.1 sport=443 dport=33857 [ASSURED] mark=0 use=1",
			want: with(func(e *Entry) { e.Orig.Packets, e.Orig.Bytes, e.Reply.Packets, e.Reply.Bytes = 0, 0, 0, 0 }),
		},
		{
			name: "offloaded: no timeout, no state",
			line: strings.Replace(strings.Replace(tcpLine, " 431997 ESTABLISHED", "", 1), "[ASSURED]", "[OFFLOAD]", 1),
			want: with(func(e *Entry) { e.Timeout, e.HasTimeout, e.State, e.Status = 0, false, "", StatusOffload }),
		},
		{
			name: "hardware offloaded and assured",
			line: strings.Replace(strings.Replace(tcpLine, " 431997 ESTABLISHED", "", 1), "[ASSURED]", "[HW_OFFLOAD] [ASSURED]", 1),
			want: with(func(e *Entry) {
				e.Timeout, e.HasTimeout, e.State, e.Status = 0, false, "", StatusHWOffload|StatusAssured
			}),
		},
		{
			name: "gre keys",
			line: strings.NewReplacer("srckey=0x0 dstkey=0x0 packets=1", "srckey=0x1a2B dstkey=0xffff packets=1").Replace(greLine),
			want: Entry{
				Family: 2, Proto: ProtoGRE, Timeout: 27, HasTimeout: true,
				Orig:    Tuple{Src: addr("10.0.0.5"), Dst: addr("203.0.113.89"), SrcPort: 0x1a2b, DstPort: 0xffff, Packets: 1, Bytes: 52},
				Reply:   Tuple{Src: addr("203.0.113.89"), Dst: addr("203.0.113.1")},
				Status:  StatusUnreplied,
				HasMark: true, Use: 1,
			},
		},
		{
			name: "unknown protocol without l4 fields",
			line: "ipv4     2 unknown  253 597 src=10.0.0.6 dst=203.0.113.89 packets=1 bytes=68 [UNREPLIED] src=203.0.113.89 dst=203.0.113.1 packets=0 bytes=0 mark=0 use=1",
			want: Entry{
				Family: 2, Proto: 253, Timeout: 597, HasTimeout: true,
				Orig:    Tuple{Src: addr("10.0.0.6"), Dst: addr("203.0.113.89"), Packets: 1, Bytes: 68},
				Reply:   Tuple{Src: addr("203.0.113.89"), Dst: addr("203.0.113.1")},
				Status:  StatusUnreplied,
				HasMark: true, Use: 1,
			},
		},
		{
			name: "sctp state",
			line: "ipv4     2 sctp     132 210 COOKIE_ECHOED src=10.0.0.5 dst=203.0.113.80 sport=5000 dport=5001 src=203.0.113.80 dst=203.0.113.1 sport=5001 dport=5000 mark=0 use=1",
			want: Entry{
				Family: 2, Proto: ProtoSCTP, Timeout: 210, HasTimeout: true, State: "COOKIE_ECHOED",
				Orig:    Tuple{Src: addr("10.0.0.5"), Dst: addr("203.0.113.80"), SrcPort: 5000, DstPort: 5001},
				Reply:   Tuple{Src: addr("203.0.113.80"), Dst: addr("203.0.113.1"), SrcPort: 5001, DstPort: 5000},
				HasMark: true, Use: 1,
			},
		},
		{
			name: "state word unknown to this parser",
			line: strings.Replace(tcpLine, "ESTABLISHED", "SYN_SENT3", 1),
			want: with(func(e *Entry) { e.State = "SYN_SENT3" }),
		},
		{
			name: "IPv4-mapped IPv6 on an ipv6 line",
			line: strings.NewReplacer("fd00::5", "::ffff:10.0.0.5").Replace(v6Line),
			want: Entry{
				Family: 10, Proto: ProtoTCP, Timeout: 431997, HasTimeout: true, State: "ESTABLISHED",
				Orig:   Tuple{Src: addr("::ffff:10.0.0.5"), Dst: addr("2001:db8::80"), SrcPort: 47067, DstPort: 443, Packets: 4, Bytes: 305},
				Reply:  Tuple{Src: addr("2001:db8::80"), Dst: addr("::ffff:10.0.0.5"), SrcPort: 443, DstPort: 47067, Packets: 3, Bytes: 3224},
				Status: StatusAssured, HasMark: true, Use: 1,
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseLine([]byte(tc.line))
			if err != nil {
				t.Fatalf("ParseLine: %v", err)
			}
			if diff := cmp.Diff(tc.want, got, equateAddrs); diff != "" {
				t.Errorf("ParseLine mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseLineErrors(t *testing.T) {
	col := func(line, at string) int { return strings.Index(line, at) + 1 }
	end := func(line string) int { return len(line) + 1 }
	orig := tcpLine[:strings.Index(tcpLine, " src=203.0.113.80 dst=203.0.113.1")]
	v4on6 := strings.Replace(v6Line, "dst=fd00::5", "dst=10.0.0.5", 1)
	tests := []struct {
		name      string
		line      string
		wantCol   int
		wantField string
	}{
		{name: "empty", line: "", wantCol: 1},
		{name: "spaces only", line: "   \t ", wantCol: 6},
		{name: "header only", line: "ipv4     2 tcp      6 431997 ESTABLISHED", wantCol: 41, wantField: "src"},
		{name: "orig tuple only", line: orig, wantCol: end(orig), wantField: "src"},
		{name: "three tuples", line: tcpLine + " src=1.2.3.4", wantCol: end(tcpLine) + 1, wantField: "src"},
		{name: "octet over 255", line: strings.Replace(tcpLine, "dst=203.0.113.80", "dst=203.0.113.256", 1), wantCol: col(tcpLine, "dst=203") + 4, wantField: "dst"},
		{name: "three octets", line: strings.Replace(tcpLine, "src=10.0.0.6", "src=10.0.6", 1), wantCol: col(tcpLine, "src=10") + 4, wantField: "src"},
		{name: "five octets", line: strings.Replace(tcpLine, "src=10.0.0.6", "src=10.0.0.6.1", 1), wantCol: col(tcpLine, "src=10") + 4, wantField: "src"},
		{name: "octet with leading zero", line: strings.Replace(tcpLine, "src=10.0.0.6", "src=10.0.0.06", 1), wantCol: col(tcpLine, "src=10") + 4, wantField: "src"},
		{name: "address with letters", line: strings.Replace(tcpLine, "src=10.0.0.6", "src=router", 1), wantCol: col(tcpLine, "src=10") + 4, wantField: "src"},
		{name: "empty address", line: strings.Replace(tcpLine, "src=10.0.0.6", "src=", 1), wantCol: col(tcpLine, "src=10") + 4, wantField: "src"},
		{name: "two ellipses", line: strings.Replace(v6Line, "dst=2001:db8::80", "dst=2001::db8::80", 1), wantCol: col(v6Line, "dst=2001") + 4, wantField: "dst"},
		{name: "IPv6 zone", line: strings.Replace(v6Line, "src=fd00::5", "src=fe80::5%eth0", 1), wantCol: col(v6Line, "src=fd00") + 4, wantField: "src"},
		{name: "port over 65535", line: strings.Replace(tcpLine, "dport=443", "dport=65536", 1), wantCol: col(tcpLine, "dport=443") + 6, wantField: "dport"},
		{name: "negative port", line: strings.Replace(tcpLine, "dport=443", "dport=-1", 1), wantCol: col(tcpLine, "dport=443") + 6, wantField: "dport"},
		{name: "port with junk", line: strings.Replace(tcpLine, "dport=443", "dport=443x", 1), wantCol: col(tcpLine, "dport=443") + 6, wantField: "dport"},
		{name: "empty port at end", line: tcpLine[:col(tcpLine, "dport=443")+5], wantCol: col(tcpLine, "dport=443") + 6, wantField: "dport"},
		{name: "bytes over 2^64-1", line: strings.Replace(tcpLine, "bytes=330", "bytes=18446744073709551616", 1), wantCol: col(tcpLine, "bytes=330") + 6, wantField: "bytes"},
		{name: "packets of 30 digits", line: strings.Replace(tcpLine, "packets=6", "packets=123456789012345678901234567890", 1), wantCol: col(tcpLine, "packets=6") + 8, wantField: "packets"},
		{name: "timeout over 2^32-1", line: strings.Replace(tcpLine, "431997", "4294967296", 1), wantCol: col(tcpLine, "431997"), wantField: "timeout"},
		{name: "timeout with junk", line: strings.Replace(tcpLine, "431997", "43s", 1), wantCol: col(tcpLine, "431997"), wantField: "timeout"},
		{name: "mark over 2^32-1", line: strings.Replace(tcpLine, "mark=0", "mark=4294967296", 1), wantCol: col(tcpLine, "mark=0") + 5, wantField: "mark"},
		{name: "use not a number", line: strings.Replace(tcpLine, "use=1", "use=one", 1), wantCol: col(tcpLine, "use=1") + 4, wantField: "use"},
		{name: "conntrack id over 2^32-1", line: tcpLine + " id=4294967296", wantCol: end(tcpLine) + 4, wantField: "id"},
		{name: "conntrack id not a number on an event line", line: "[DESTROY] " + strings.TrimSuffix(tcpLine, " mark=0 use=1") + " id=x1", wantCol: end("[DESTROY] "+strings.TrimSuffix(tcpLine, " mark=0 use=1")) + 4, wantField: "id"},
		{name: "IPv4 address on an ipv6 line", line: v4on6, wantCol: col(v4on6, "dst=10.0.0.5") + 4, wantField: "dst"},
		{name: "IPv6 reply on a plain IPv4 line", line: strings.Replace(udpLine[len("ipv4     2 "):], "dst=203.0.113.1", "dst=2001:db8::1", 1), wantCol: col(udpLine[len("ipv4     2 "):], "dst=203.0.113.1 ") + 4, wantField: "dst"},
		{name: "family number mismatch", line: strings.Replace(tcpLine, "ipv4     2", "ipv4     10", 1), wantCol: 10, wantField: "family"},
		{name: "family without number", line: "ipv4", wantCol: 5, wantField: "family"},
		{name: "protocol name and number disagree", line: strings.Replace(udpLine, "udp      17", "tcp      17", 1), wantCol: 12, wantField: "proto"},
		{name: "protocol number over 255", line: strings.Replace(udpLine, "udp      17", "unknown  256", 1), wantCol: 21, wantField: "proto"},
		{name: "protocol number missing", line: "ipv4     2 tcp src=10.0.0.6", wantCol: 16, wantField: "proto"},
		{name: "no protocol", line: "ipv4     2", wantCol: 11, wantField: "proto"},
		{name: "unknown event", line: "[FROB] " + tcpLine, wantCol: 1, wantField: "event"},
		{name: "lower-case state", line: strings.Replace(tcpLine, "ESTABLISHED", "established", 1), wantCol: col(tcpLine, "ESTABLISHED"), wantField: "state"},
		{name: "bracket never closed", line: strings.Replace(tcpLine, "[ASSURED]", "[ASSURED", 1), wantCol: col(tcpLine, "[ASSURED]")},
		{name: "dst twice in a tuple", line: strings.Replace(tcpLine, "sport=33857", "dst=203.0.113.81 sport=33857", 1), wantCol: col(tcpLine, "sport=33857"), wantField: "dst"},
		{name: "tcp tuple without ports", line: strings.Replace(tcpLine, " sport=443 dport=33857", "", 1), wantCol: end(strings.Replace(tcpLine, " sport=443 dport=33857", "", 1)), wantField: "sport"},
		{name: "icmp tuple without id", line: strings.Replace(icmpLine, " id=4660", "", 1), wantCol: end(strings.Replace(icmpLine, " id=4660", "", 1)), wantField: "id"},
		{name: "gre key not hex", line: strings.Replace(greLine, "srckey=0x0", "srckey=12", 1), wantCol: col(greLine, "srckey=0x0") + 7, wantField: "srckey"},
		{name: "gre key over 16 bits", line: strings.Replace(greLine, "srckey=0x0", "srckey=0x10000", 1), wantCol: col(greLine, "srckey=0x0") + 7, wantField: "srckey"},
		{name: "NUL inside an address", line: strings.Replace(tcpLine, "src=10.0.0.6", "src=10.0\x00.0.6", 1), wantCol: col(tcpLine, "src=10") + 4, wantField: "src"},
		{name: "invalid UTF-8 as protocol", line: "\xff\xfe 6 src=1.2.3.4", wantCol: 1, wantField: "proto"},
		{name: "conntrack trailer is no flow", line: trailer29, wantCol: 11, wantField: "proto"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseLine([]byte(tc.line))
			if err == nil {
				t.Fatalf("ParseLine returned %+v and no error", got)
			}
			if !errors.Is(err, ErrMalformed) {
				t.Errorf("error %v does not wrap ErrMalformed", err)
			}
			var perr *ParseError
			if !errors.As(err, &perr) {
				t.Fatalf("error %T is not a *ParseError", err)
			}
			if diff := cmp.Diff(Entry{}, got, equateAddrs); diff != "" {
				t.Errorf("ParseLine returned a partial entry with its error:\n%s", diff)
			}
			type where struct {
				Line, Column int
				Field        string
			}
			if diff := cmp.Diff(where{Column: tc.wantCol, Field: tc.wantField}, where{perr.Line, perr.Column, perr.Field}); diff != "" {
				t.Errorf("error %q at the wrong place (-want +got):\n%s", err, diff)
			}
			if perr.Reason == "" {
				t.Error("error has no reason")
			}
		})
	}
}

// TestParseLineHostile feeds input no conntrack prints: ParseLine must
// return an error, never panic, and never read past the line.
func TestParseLineHostile(t *testing.T) {
	tests := []struct {
		name string
		line []byte
	}{
		{name: "binary garbage", line: []byte{0x00, 0xff, 0x1b, '[', '=', 0x80, ' ', '=', ']'}},
		{name: "only NUL bytes", line: bytes.Repeat([]byte{0}, 300)},
		{name: "lone bracket", line: []byte("[")},
		{name: "lone equals", line: []byte("=")},
		{name: "keys without values", line: []byte("tcp 6 src= dst= sport= dport= src= dst=")},
		{name: "a megabyte of one token", line: bytes.Repeat([]byte("a"), 1<<20)},
		{name: "a megabyte of src=", line: bytes.Repeat([]byte("src=1.2.3.4 "), 1<<16)},
		{name: "cut after every key", line: []byte("ipv4 2 udp 17 27 src")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if e, err := ParseLine(tc.line); err == nil {
				t.Errorf("ParseLine returned %+v and no error", e)
			}
		})
	}
}

// TestParseLineEveryPrefix cuts a real line at every byte: every prefix
// either parses or gives a ParseError inside the line, without panicking.
func TestParseLineEveryPrefix(t *testing.T) {
	for _, line := range []string{tcpLine, icmpLine, greLine, v6Line} {
		for i := range len(line) {
			_, err := ParseLine([]byte(line[:i]))
			var perr *ParseError
			if err != nil && (!errors.As(err, &perr) || perr.Column < 1 || perr.Column > i+1) {
				t.Errorf("prefix %q: error %v outside the line", line[:i], err)
			}
		}
	}
}

// errReader returns data, then err.
type errReader struct {
	data []byte
	err  error
}

func (r *errReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, r.err
	}
	n := copy(p, r.data)
	r.data = r.data[n:]
	return n, nil
}

// repeatReader yields n bytes of c, then tail: a huge line without
// holding it in memory.
type repeatReader struct {
	c    byte
	n    int
	tail []byte
}

func (r *repeatReader) Read(p []byte) (int, error) {
	if r.n > 0 {
		k := min(len(p), r.n)
		for i := range k {
			p[i] = r.c
		}
		r.n -= k
		return k, nil
	}
	if len(r.tail) == 0 {
		return 0, io.EOF
	}
	k := copy(p, r.tail)
	r.tail = r.tail[k:]
	return k, nil
}

func TestParse(t *testing.T) {
	bad := strings.Replace(tcpLine, "dport=443", "dport=99999", 1)
	tests := []struct {
		name        string
		input       io.Reader
		wantStats   Stats
		wantEntries int
	}{
		{name: "empty input", input: strings.NewReader(""), wantStats: Stats{Reported: -1}},
		{
			name:        "lines, blank lines and trailer",
			input:       strings.NewReader("\n" + tcpLine + "\n   \n" + udpLine + "\r\n" + trailer29 + "\n"),
			wantStats:   Stats{Lines: 2, Entries: 2, Reported: 29},
			wantEntries: 2,
		},
		{
			name:        "trailer in the middle and no final newline",
			input:       strings.NewReader(tcpLine + "\n" + "conntrack v1.4.7 (conntrack-tools): 130 flow events have been shown.\n" + udpLine),
			wantStats:   Stats{Lines: 2, Entries: 2, Reported: 130},
			wantEntries: 2,
		},
		{
			name:        "trailer glued into a line by 2>&1",
			input:       strings.NewReader(tcpLine[:50] + trailer29 + "\n" + tcpLine[50:] + "\n" + udpLine + "\n"),
			wantStats:   Stats{Lines: 2, Entries: 2, Reported: 29},
			wantEntries: 2,
		},
		{
			name:      "line cut by the trailer and never continued",
			input:     strings.NewReader(tcpLine[:50] + trailer29 + "\n"),
			wantStats: Stats{Lines: 1, Skipped: 1, Reported: 29, Errors: []*ParseError{{Line: 1, Column: 46, Field: "src"}}},
		},
		{
			name:        "malformed lines keep their line numbers",
			input:       strings.NewReader(tcpLine + "\n\n" + bad + "\n" + udpLine + "\nnonsense\n"),
			wantStats:   Stats{Lines: 4, Entries: 2, Skipped: 2, Reported: -1, Errors: []*ParseError{{Line: 3, Column: strings.Index(bad, "dport=99999") + 7, Field: "dport"}, {Line: 5, Column: 9, Field: "proto"}}},
			wantEntries: 2,
		},
		{
			name:  "errors beyond MaxKeptErrors are counted, not kept",
			input: strings.NewReader(strings.Repeat("x\n", MaxKeptErrors+5)),
			wantStats: func() Stats {
				st := Stats{Lines: MaxKeptErrors + 5, Skipped: MaxKeptErrors + 5, Reported: -1}
				for i := range MaxKeptErrors {
					st.Errors = append(st.Errors, &ParseError{Line: i + 1, Column: 2, Field: "proto"})
				}
				return st
			}(),
		},
		{
			name:        "a 50 MB line is skipped and the next one read",
			input:       &repeatReader{c: 'a', n: 50 << 20, tail: []byte("\n" + tcpLine + "\n")},
			wantStats:   Stats{Lines: 2, Entries: 1, Skipped: 1, Reported: -1, Errors: []*ParseError{{Line: 1, Column: MaxLineBytes + 1}}},
			wantEntries: 1,
		},
		{
			name:        "a line of exactly MaxLineBytes-1 bytes and its newline is read",
			input:       strings.NewReader(tcpLine + strings.Repeat(" ", MaxLineBytes-1-len(tcpLine)) + "\n"),
			wantStats:   Stats{Lines: 1, Entries: 1, Reported: -1},
			wantEntries: 1,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var entries []Entry
			st, err := Parse(tc.input, each(func(e *Entry) { entries = append(entries, *e) }))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if diff := cmp.Diff(tc.wantStats, st, cmpopts.IgnoreFields(ParseError{}, "Reason")); diff != "" {
				t.Errorf("stats mismatch (-want +got):\n%s", diff)
			}
			if len(entries) != tc.wantEntries {
				t.Errorf("fn called %d times, want %d", len(entries), tc.wantEntries)
			}
			if len(entries) > 0 {
				if diff := cmp.Diff(tcpEntry(), entries[0], equateAddrs); diff != "" {
					t.Errorf("first entry mismatch (-want +got):\n%s", diff)
				}
			}
		})
	}
}

// TestParseEntryIsReused documents the contract: fn gets the same
// *Entry every time, so it must copy what it keeps.
func TestParseEntryIsReused(t *testing.T) {
	var ptrs []*Entry
	var keys []string
	_, err := Parse(strings.NewReader(tcpLine+"\n"+udpLine+"\n"), each(func(e *Entry) {
		ptrs = append(ptrs, e)
		keys = append(keys, KeyOf(e).String())
	}))
	if err != nil {
		t.Fatal(err)
	}
	if len(ptrs) != 2 || ptrs[0] != ptrs[1] {
		t.Fatalf("fn got %d pointers, want the same one twice", len(ptrs))
	}
	want := []string{"tcp|10.0.0.6|33857|203.0.113.80|443", "udp|10.0.0.5|41467|203.0.113.80|53"}
	if diff := cmp.Diff(want, keys); diff != "" {
		t.Errorf("keys mismatch (-want +got):\n%s", diff)
	}
}

func TestParseReadError(t *testing.T) {
	boom := errors.New("boom")
	var n int
	st, err := Parse(&errReader{data: []byte(tcpLine + "\n" + udpLine[:40]), err: boom}, each(func(*Entry) { n++ }))
	if !errors.Is(err, boom) {
		t.Fatalf("Parse error = %v, want it to wrap %v", err, boom)
	}
	if st.Entries != 1 || n != 1 {
		t.Errorf("Parse read %d entries (fn %d), want the 1 before the error", st.Entries, n)
	}
}

func TestParseTrailer(t *testing.T) {
	tests := []struct {
		name   string
		line   string
		wantN  int
		wantOK bool
	}{
		{name: "entries", line: trailer29, wantN: 29, wantOK: true},
		{name: "with newline", line: "conntrack v1.4.7 (conntrack-tools): 100000 flow entries have been shown.\n", wantN: 100000, wantOK: true},
		{name: "events", line: "conntrack v1.4.7 (conntrack-tools): 130 flow events have been shown.", wantN: 130, wantOK: true},
		{name: "zero, other version", line: "conntrack v1.4.8 (conntrack-tools): 0 flow entries have been shown.", wantN: 0, wantOK: true},
		{name: "permission error", line: "conntrack v1.4.7 (conntrack-tools): Operation failed: Operation not permitted"},
		{name: "deleted, not shown", line: "conntrack v1.4.7 (conntrack-tools): 3 flow entries have been deleted."},
		{name: "count not a number", line: "conntrack v1.4.7 (conntrack-tools): many flow entries have been shown."},
		{name: "count too big", line: "conntrack v1.4.7 (conntrack-tools): 99999999999999999999 flow entries have been shown."},
		{name: "a flow line", line: tcpLine},
		{name: "empty", line: ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n, ok := ParseTrailer([]byte(tc.line))
			if n != tc.wantN || ok != tc.wantOK {
				t.Errorf("ParseTrailer = %d, %v; want %d, %v", n, ok, tc.wantN, tc.wantOK)
			}
		})
	}
}

// BenchmarkParse measures Parse on the real 100,000-entry capture and
// reports lines/s and allocations per line (target: >= 3M lines/s on one
// core, 0 allocations per line). lines/cpu-s divides by the process's CPU
// time instead of the wall clock: on a shared, busy machine it is the
// steadier figure (run with GOMAXPROCS=1 so it counts one core).
func BenchmarkParse(b *testing.B) {
	data := readFixture(b, "big_100000.txt.gz")
	lines := bytes.Count(data, []byte{'\n'})
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	cpu0 := processCPU(b)
	b.ResetTimer()
	for b.Loop() {
		st, err := Parse(bytes.NewReader(data), each(func(*Entry) {}))
		if err != nil || st.Entries != lines {
			b.Fatalf("Parse: %d of %d entries, err %v", st.Entries, lines, err)
		}
	}
	b.StopTimer()
	cpu := processCPU(b) - cpu0
	runtime.ReadMemStats(&after)
	total := float64(lines) * float64(b.N)
	b.ReportMetric(total/b.Elapsed().Seconds(), "lines/s")
	b.ReportMetric(total/cpu.Seconds(), "lines/cpu-s")
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/total, "allocs/line")
}

// BenchmarkParseLine measures one line of each common shape.
func BenchmarkParseLine(b *testing.B) {
	for _, bc := range []struct{ name, line string }{
		{"tcp", tcpLine}, {"udp", udpLine}, {"icmp", icmpLine}, {"ipv6", v6Line},
	} {
		b.Run(bc.name, func(b *testing.B) {
			line := []byte(bc.line)
			b.SetBytes(int64(len(line)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := ParseLine(line); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkParseHugeLine shows that a 50 MB line costs a bounded buffer,
// not 50 MB (see B/op).
func BenchmarkParseHugeLine(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		st, err := Parse(&repeatReader{c: 'a', n: 50 << 20, tail: []byte("\n")}, each(func(*Entry) {}))
		if err != nil || st.Skipped != 1 {
			b.Fatalf("Parse: %+v, %v", st, err)
		}
	}
}

// TestParseMergedStderr replays what `conntrack -L 2>&1` gives: stdout is
// flushed in 4096-byte blocks, the trailer goes out unbuffered before the
// last block, in the middle of a line.
func TestParseMergedStderr(t *testing.T) {
	stdout := readFixture(t, "small_mixed.txt")
	stderr := readFixture(t, "small_mixed.stderr")
	merged := append(append(append([]byte(nil), stdout[:4096]...), stderr...), stdout[4096:]...)
	var keys, wantKeys []string
	st, err := Parse(bytes.NewReader(merged), each(func(e *Entry) { keys = append(keys, KeyOf(e).String()) }))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Parse(bytes.NewReader(stdout), each(func(e *Entry) { wantKeys = append(wantKeys, KeyOf(e).String()) })); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(Stats{Lines: 29, Entries: 29, Reported: 29}, st); diff != "" {
		t.Errorf("stats (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(wantKeys, keys); diff != "" {
		t.Errorf("keys (-want +got):\n%s", diff)
	}
}

// processCPU returns the CPU time the process has used so far.
func processCPU(tb testing.TB) time.Duration {
	tb.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatalf("getrusage: %v", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
