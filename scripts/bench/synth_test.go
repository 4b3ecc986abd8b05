package main

import (
	"bufio"
	"bytes"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/netmon-dev/netmon/pkg/conntrack"
	"github.com/netmon-dev/netmon/pkg/filter"
)

// TestSynthesize builds captures from the real small_mixed capture (17
// outbound IPv4 flows, 14 of them TCP or UDP): each must hold exactly n
// distinct outbound flows, the same on a second run.
func TestSynthesize(t *testing.T) {
	f, err := filter.New([]netip.Prefix{netip.MustParsePrefix("10.0.0.0/24")})
	if err != nil {
		t.Fatal(err)
	}
	src := filepath.Join("..", "..", "fixtures", "conntrack", "small_mixed.txt")
	for _, tc := range []struct{ n, wantReal, wantMoved int }{{5, 5, 0}, {17, 17, 0}, {1000, 17, 983}} {
		dst := filepath.Join(t.TempDir(), "out.txt")
		real, moved, err := synthesize(src, dst, tc.n, f)
		if err != nil || real != tc.wantReal || moved != tc.wantMoved {
			t.Fatalf("n %d: %d real, %d moved, %v; want %d, %d", tc.n, real, moved, err, tc.wantReal, tc.wantMoved)
		}
		b, _ := os.ReadFile(dst)
		keys := map[conntrack.FlowKey]bool{}
		for sc := bufio.NewScanner(bytes.NewReader(b)); sc.Scan(); {
			e, err := conntrack.ParseLine(sc.Bytes())
			if err != nil || !f.Outbound(&e) || keys[conntrack.KeyOf(&e)] {
				t.Errorf("n %d: not a new outbound flow (%v): %s", tc.n, err, sc.Text())
			}
			keys[conntrack.KeyOf(&e)] = true
		}
		if _, _, err := synthesize(src, dst+"2", tc.n, f); err != nil || len(keys) != tc.n {
			t.Errorf("n %d: %d flows, second run %v", tc.n, len(keys), err)
		}
		if again, _ := os.ReadFile(dst + "2"); !bytes.Equal(again, b) {
			t.Errorf("n %d: a second run wrote a different capture", tc.n)
		}
	}
	icmp := filepath.Join(t.TempDir(), "icmp.txt")
	os.WriteFile(icmp, []byte("ipv4     2 icmp     1 29 src=10.0.0.5 dst=203.0.113.80 type=8 code=0 id=7 src=203.0.113.80 dst=203.0.113.1 type=0 code=0 id=7 mark=0 use=1\n"), 0o644)
	if _, _, err := synthesize(icmp, icmp+".out", 2, f); err == nil {
		t.Error("no error for a capture without TCP/UDP lines to copy")
	}
}

func TestMovePort(t *testing.T) {
	line := "ipv4 2 tcp 6 431999 ESTABLISHED src=10.0.0.5 dst=203.0.113.80 sport=40000 dport=80 src=203.0.113.80 dst=203.0.113.1 sport=80 dport=40000 mark=0"
	for _, tc := range []struct {
		name, line string
		round      int
		want       string // "" for an error
	}{
		{"first round", line, 1, strings.ReplaceAll(line, "40000", "47919")},
		// 40000-1024+4*7919 = 70652, mod 64512 = 6140, +1024
		{"wraps into 1024-65535", line, 4, strings.ReplaceAll(line, "40000", "7164")},
		{"port at the end of the line", "src=10.0.0.5 sport=40000 dport=40000", 1, "src=10.0.0.5 sport=47919 dport=47919"},
		{"no ports", "ipv4 2 icmp 1 29 src=10.0.0.5 type=8", 1, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := movePort([]byte(tc.line), tc.round)
			if string(got) != tc.want || (err != nil) != (tc.want == "") {
				t.Errorf("= %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}
