package main

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseAcct(t *testing.T) {
	got, err := parseAcct(strings.NewReader("10.0.0.20 up valid 3059 57\n10.0.0.20 down invalid 40 1\n\nfd00::20 down valid 10 1\n"))
	if err != nil {
		t.Fatal(err)
	}
	h4, h6 := netip.MustParseAddr("10.0.0.20"), netip.MustParseAddr("fd00::20")
	want := map[acctKey]int64{{h4, "up", "valid"}: 3059, {h4, "down", "invalid"}: 40, {h6, "down", "valid"}: 10}
	if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	for _, bad := range []string{"10.0.0.20 up valid 1\n", "host up valid 1 1\n", "10.0.0.20 sideways valid 1 1\n"} {
		if _, err := parseAcct(strings.NewReader(bad)); err == nil {
			t.Errorf("parseAcct(%q): no error", bad)
		}
	}
}

// TestAccuracy: within the bound passes, beyond it fails, and a host the
// rules saw nothing of fails too (the rules or the traffic are broken).
func TestAccuracy(t *testing.T) {
	h := netip.MustParseAddr("10.0.0.20")
	truth := map[acctKey]int64{{h, "up", "valid"}: 1000, {h, "down", "valid"}: 99000, {h, "down", "invalid"}: 77}
	for _, tc := range []struct {
		name     string
		got      [2]int64
		problems int
	}{
		{"exact", [2]int64{1000, 99000}, 0},
		{"0.4% short", [2]int64{1000, 98600}, 0},
		{"0.6% short", [2]int64{1000, 98400}, 1},
		{"0.6% over", [2]int64{1000, 99600}, 1},
	} {
		lines, problems := accuracy("s", []netip.Addr{h}, truth, map[netip.Addr][2]int64{h: tc.got}, nil, 0.005)
		if len(problems) != tc.problems || len(lines) != 1 || !strings.Contains(lines[0], "INVALID apart 77") {
			t.Errorf("%s: %v %v", tc.name, lines, problems)
		}
	}
	if _, problems := accuracy("s", []netip.Addr{netip.MustParseAddr("10.0.0.99")}, truth, nil, nil, 0.005); len(problems) != 1 {
		t.Errorf("a host without traffic: %v, want one problem", problems)
	}
}

// TestSameEvents: the same values match whatever their order; a value
// that differs is missing on one side and extra on the other.
func TestSameEvents(t *testing.T) {
	text := []byte("[DESTROY] ipv4     2 udp      17 src=10.0.0.30 dst=203.0.113.85 sport=1 dport=53 packets=1 bytes=60 [UNREPLIED] src=203.0.113.85 dst=10.0.0.30 sport=53 dport=1 packets=0 bytes=0 id=7\n" +
		"    [NEW] ipv4     2 udp      17 30 src=10.0.0.30 dst=203.0.113.85 sport=2 dport=53 [UNREPLIED] src=203.0.113.85 dst=10.0.0.30 sport=53 dport=2 id=8\n")
	good := []byte(`{"Event":3,"Family":2,"Proto":17,"Timeout":0,"HasTimeout":false,"State":"","Orig":{"Src":"10.0.0.30","Dst":"203.0.113.85","SrcPort":1,"DstPort":53,"ICMPType":0,"ICMPCode":0,"ICMPID":0,"Packets":1,"Bytes":60},"Reply":{"Src":"203.0.113.85","Dst":"10.0.0.30","SrcPort":53,"DstPort":1,"ICMPType":0,"ICMPCode":0,"ICMPID":0,"Packets":0,"Bytes":0},"Status":2,"Mark":0,"HasMark":false,"Use":0,"ID":7}` + "\n")
	prefix := netip.MustParsePrefix("10.0.0.30/32")
	missing, extra, n, err := sameEvents(text, good, prefix)
	if err != nil || n != 1 || len(missing)+len(extra) != 0 {
		t.Errorf("same values: %v %v %d %v", missing, extra, n, err)
	}
	bad := []byte(strings.Replace(string(good), `"ID":7`, `"ID":9`, 1))
	missing, extra, _, _ = sameEvents(text, bad, prefix)
	if len(missing) != 1 || len(extra) != 1 {
		t.Errorf("another id: missing %v, extra %v; want one each", missing, extra)
	}
}
