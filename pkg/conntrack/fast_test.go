package conntrack

import (
	"bytes"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// parseBoth parses line with and without the fast path.
func parseBoth(line []byte) (fast, slow Entry, fastErr, slowErr *ParseError) {
	fastErr = parseLineWith(line, &fast, true)
	slowErr = parseLineWith(line, &slow, false)
	return fast, slow, fastErr, slowErr
}

// surprises are lines the fast path must give up on part-way, each next to
// the general loop's answer for it (an entry or an error), so that a fast
// path that half-fills a tuple and does not undo it shows up as a
// difference.
//
// fast says whether the fast path still reads both tuples, leaving what
// follows them (a repeated field, a third tuple) to the general loop.
var surprises = []struct {
	name string
	fast bool
	line string
}{
	{"tab after the first address", false, strings.Replace(tcpLine, "10.0.0.6 dst", "10.0.0.6\tdst", 1)},
	{"two spaces in the reply tuple", false, strings.Replace(tcpLine, "dst=203.0.113.1 sport", "dst=203.0.113.1  sport", 1)},
	{"dport before sport", false, strings.Replace(tcpLine, "sport=33857 dport=443", "dport=443 sport=33857", 1)},
	{"bytes without packets in orig", false, strings.Replace(tcpLine, "packets=6 bytes=330", "bytes=330", 1)},
	{"packets without bytes in reply", false, strings.Replace(tcpLine, "packets=5 bytes=20268", "packets=5", 1)},
	{"bytes without packets in reply", true, strings.Replace(tcpLine, "packets=5 bytes=20268", "bytes=20268", 1)},
	{"repeated packets in reply", true, strings.Replace(tcpLine, "bytes=20268", "bytes=20268 packets=9", 1)},
	{"repeated dport in reply", true, strings.Replace(tcpLine, "dport=33857 packets=5", "dport=33857 dport=1 packets=5", 1)},
	{"zone inside orig", false, strings.Replace(tcpLine, "bytes=330", "bytes=330 zone=1", 1)},
	{"port out of range in orig", false, strings.Replace(tcpLine, "sport=33857", "sport=65536", 1)},
	{"port out of range in reply", false, strings.Replace(tcpLine, "dport=33857", "dport=70000", 1)},
	{"not a number", false, strings.Replace(tcpLine, "packets=6", "packets=6x", 1)},
	{"counter overflow", false, strings.Replace(tcpLine, "bytes=330", "bytes=18446744073709551616", 1)},
	{"bad address in reply", false, strings.Replace(tcpLine, "src=203.0.113.80", "src=203.0.113.800", 1)},
	{"IPv6 address on an ipv4 line", true, strings.Replace(tcpLine, "dst=203.0.113.80", "dst=2001:db8::1", 1)},
	{"third tuple", true, tcpLine + " src=10.0.0.1 dst=10.0.0.2 sport=1 dport=2"},
	{"truncated reply tuple", false, tcpLine[:strings.Index(tcpLine, "sport=443")]},
	{"truncated orig tuple", false, tcpLine[:strings.Index(tcpLine, "dport=443")]},
	{"UNREPLIED glued to src", false, strings.Replace(udpLine, " src=203.0.113.80", " [UNREPLIED]src=203.0.113.80", 1)},
	{"UNREPLIED without a reply", false, strings.Replace(udpLine, " src=203.0.113.80", " [UNREPLIED]", 1)[:len("ipv4     2 udp      17 27 src=10.0.0.5 dst=203.0.113.80 sport=41467 dport=53 packets=1 bytes=68 [UNREPLIED]")]},
	{"other flag between tuples", false, strings.Replace(udpLine, " src=203.0.113.80", " [ASSURED] src=203.0.113.80", 1)},
	{"event id after the reply tuple", true, "[DESTROY] " + strings.TrimSuffix(tcpLine, " mark=0 use=1") + " id=12"},
	{"icmp", false, icmpLine},
	{"ipv6", true, v6Line},
}

// TestFastPathAgrees: on every fixture line and every surprise, the fast
// path gives exactly the entry or the error the general loop gives.
func TestFastPathAgrees(t *testing.T) {
	lines := fixtureLines(t)
	lines = append(lines, bytes.Split(readFixture(t, "big_10000.txt.gz"), []byte{'\n'})...)
	for _, s := range surprises {
		lines = append(lines, []byte(s.line))
	}
	for _, line := range lines {
		fast, slow, fastErr, slowErr := parseBoth(line)
		if diff := cmp.Diff(slowErr, fastErr); diff != "" {
			t.Errorf("%q: error (-general +fast):\n%s", line, diff)
		}
		if diff := cmp.Diff(slow, fast, equateAddrs); diff != "" {
			t.Errorf("%q: entry (-general +fast):\n%s", line, diff)
		}
	}
}

// TestFastTuples checks which lines the fast path takes whole and that it
// leaves everything as it was when it gives up.
func TestFastTuples(t *testing.T) {
	tests := []struct {
		name, line string
		want       bool
	}{
		{"tcp with counters", tcpLine, true},
		{"udp with counters", udpLine, true},
		{"without counters", strings.NewReplacer(" packets=6 bytes=330", "", " packets=5 bytes=20268", "").Replace(tcpLine), true},
		{"unreplied", strings.Replace(udpLine, " src=203.0.113.80", " [UNREPLIED] src=203.0.113.80", 1), true},
		{"icmp fields instead of ports", icmpLine, false},
	}
	for _, s := range surprises {
		tests = append(tests, struct {
			name, line string
			want       bool
		}{s.name, s.line, s.fast})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			line := []byte(tt.line)
			var e Entry
			e.Proto = ProtoTCP
			l := lexer{b: line, pos: bytes.Index(line, []byte("src=")) + len("src="), pending: true}
			before := l
			var seen [2]uint16
			var addrCol [4]int
			got := fastTuples(&l, &e, &seen, &addrCol)
			if got != tt.want {
				t.Fatalf("fastTuples = %v, want %v", got, tt.want)
			}
			if got {
				if l.pending || (l.pos < len(line) && line[l.pos] != ' ') {
					t.Errorf("lexer left at %d (pending %v), not after a value", l.pos, l.pending)
				}
				var slow Entry
				if perr := parseLineWith(line, &slow, false); perr != nil {
					// What follows the tuples makes the line bad; that
					// both paths then agree is TestFastPathAgrees' job.
					return
				}
				// Counters the fast path did not read are the general
				// loop's to read after it.
				for i, tu := range []*Tuple{&slow.Orig, &slow.Reply} {
					if seen[i]&seenPackets == 0 {
						tu.Packets, tu.Bytes = 0, 0
					}
				}
				if diff := cmp.Diff(slow.Orig, e.Orig, equateAddrs); diff != "" {
					t.Errorf("orig tuple (-general +fast):\n%s", diff)
				}
				if diff := cmp.Diff(slow.Reply, e.Reply, equateAddrs); diff != "" {
					t.Errorf("reply tuple (-general +fast):\n%s", diff)
				}
				return
			}
			if l.pos != before.pos || l.pending != before.pending {
				t.Errorf("lexer %+v, want it back at %+v", l, before)
			}
			if diff := cmp.Diff(Entry{Proto: ProtoTCP}, e, equateAddrs); diff != "" {
				t.Errorf("entry not restored (-want +got):\n%s", diff)
			}
			if seen != [2]uint16{} || addrCol != [4]int{} {
				t.Errorf("seen %v, addrCol %v written on a surprise", seen, addrCol)
			}
		})
	}
}

// FuzzFastPath: for any line, the fast path and the general loop agree.
func FuzzFastPath(f *testing.F) {
	for _, line := range fixtureLines(f) {
		f.Add(line)
	}
	for _, s := range surprises {
		f.Add([]byte(s.line))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		fast, slow, fastErr, slowErr := parseBoth(line)
		if diff := cmp.Diff(slowErr, fastErr); diff != "" {
			t.Fatalf("error (-general +fast):\n%s", diff)
		}
		if diff := cmp.Diff(slow, fast, equateAddrs); diff != "" {
			t.Fatalf("entry (-general +fast):\n%s", diff)
		}
	})
}
