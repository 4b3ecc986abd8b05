package main

import (
	"net/netip"
	"testing"
)

// TestRecordAccuracy: each remote against its host within 1%, all the
// devices together against all the hosts.
func TestRecordAccuracy(t *testing.T) {
	h4, h6 := netip.MustParseAddr("10.0.0.20"), netip.MustParseAddr("fd00::20")
	r4, r6 := netip.MustParseAddr("203.0.113.80"), netip.MustParseAddr("2001:db8::80")
	truth := map[acctKey]int64{{h4, "up", "valid"}: 1000, {h4, "down", "valid"}: 99000,
		{h6, "up", "valid"}: 500, {h6, "down", "valid"}: 49500, {h6, "down", "invalid"}: 40}
	pairs := []hostPair{{h4, r4}, {h6, r6}}
	dev := []reportRow{{Device: "02:00:00:00:00:01", UplinkBytes: 1500, DownlinkBytes: 148500}}
	for _, tc := range []struct {
		name     string
		remotes  []reportRow
		devices  []reportRow
		problems int
	}{
		{"exact", []reportRow{{Remote: "203.0.113.80", UplinkBytes: 1000, DownlinkBytes: 99000}, {Remote: "2001:db8::80", UplinkBytes: 500, DownlinkBytes: 49500}}, dev, 0},
		{"0.9% short", []reportRow{{Remote: "203.0.113.80", UplinkBytes: 1000, DownlinkBytes: 98100}, {Remote: "2001:db8::80", UplinkBytes: 500, DownlinkBytes: 49500}}, dev, 0},
		{"counted twice", []reportRow{{Remote: "203.0.113.80", UplinkBytes: 2000, DownlinkBytes: 198000}, {Remote: "2001:db8::80", UplinkBytes: 500, DownlinkBytes: 49500}}, dev, 1},
		{"a remote missing", []reportRow{{Remote: "203.0.113.80", UplinkBytes: 1000, DownlinkBytes: 99000}}, dev, 1},
		{"devices short", []reportRow{{Remote: "203.0.113.80", UplinkBytes: 1000, DownlinkBytes: 99000}, {Remote: "2001:db8::80", UplinkBytes: 500, DownlinkBytes: 49500}},
			[]reportRow{{Device: "ip:10.0.0.20", UplinkBytes: 1000, DownlinkBytes: 99000}}, 1},
	} {
		lines, problems := recordAccuracy(pairs, truth, tc.remotes, tc.devices, 0.01)
		if len(problems) != tc.problems || len(lines) != 3 {
			t.Errorf("%s: lines %v, problems %v; want %d problems", tc.name, lines, problems, tc.problems)
		}
	}
}

func TestParseHostPairs(t *testing.T) {
	if ps, err := parseHostPairs("10.0.0.20=203.0.113.80, fd00::20=2001:db8::80"); err != nil || len(ps) != 2 {
		t.Errorf("parsePairs: %v %v", ps, err)
	}
	for _, bad := range []string{"", "10.0.0.20", "10.0.0.20=x", "x=203.0.113.80"} {
		if _, err := parseHostPairs(bad); err == nil {
			t.Errorf("parseHostPairs(%q) accepted", bad)
		}
	}
}
