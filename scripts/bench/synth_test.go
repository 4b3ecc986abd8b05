package main

import (
	"bufio"
	"bytes"
	"net/netip"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/netmon-dev/netmon/pkg/conntrack"
	"github.com/netmon-dev/netmon/pkg/filter"
)

func lanFilter(t *testing.T) *filter.Filter {
	t.Helper()
	f, err := filter.New([]netip.Prefix{netip.MustParsePrefix("10.0.0.0/24")})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// TestSynthesize builds captures from the real small_mixed capture (17
// outbound IPv4 flows as netmon print-outbound --top 0 counts them, 14 of
// them TCP or UDP) and checks that each has
// exactly n lines, all outbound by netmon's filter, with distinct keys.
func TestSynthesize(t *testing.T) {
	src, err := os.ReadFile("../../fixtures/conntrack/small_mixed.txt")
	if err != nil {
		t.Fatal(err)
	}
	f := lanFilter(t)
	for _, tc := range []struct {
		name      string
		n         int
		want      SynthStats
		wantError bool
	}{
		{name: "fewer than the real ones", n: 5, want: SynthStats{Lines: 29, Outbound: 17, Real: 5}},
		{name: "exactly the real ones", n: 17, want: SynthStats{Lines: 29, Outbound: 17, Real: 17}},
		{name: "many rounds of copies", n: 1000, want: SynthStats{Lines: 29, Outbound: 17, Real: 17, Synthetic: 983}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			st, err := synthesize(bytes.NewReader(src), &out, tc.n, f)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, st); diff != "" {
				t.Errorf("stats (-want +got):\n%s", diff)
			}
			written := bytes.Clone(out.Bytes())
			keys := map[conntrack.FlowKey]bool{}
			sc := bufio.NewScanner(&out)
			for sc.Scan() {
				e, err := conntrack.ParseLine(sc.Bytes())
				if err != nil {
					t.Fatalf("line %d: %v", len(keys)+1, err)
				}
				if !f.Outbound(&e) {
					t.Errorf("not outbound: %s", sc.Text())
				}
				k := conntrack.KeyOf(&e)
				if keys[k] {
					t.Errorf("duplicate key %s", k)
				}
				keys[k] = true
			}
			if len(keys) != tc.n {
				t.Errorf("%d flows, want %d", len(keys), tc.n)
			}
			var again bytes.Buffer
			if _, err := synthesize(bytes.NewReader(src), &again, tc.n, f); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(again.Bytes(), written) {
				t.Error("a second run wrote a different capture")
			}
		})
	}
}

func TestSynthesizeImpossible(t *testing.T) {
	// Only ICMP outbound: nothing to move ports on.
	icmp := "ipv4     2 icmp     1 29 src=10.0.0.5 dst=203.0.113.80 type=8 code=0 id=7 packets=3 bytes=252 src=203.0.113.80 dst=203.0.113.1 type=0 code=0 id=7 packets=3 bytes=252 mark=0 use=1\n"
	var out bytes.Buffer
	if _, err := synthesize(strings.NewReader(icmp), &out, 2, lanFilter(t)); err == nil {
		t.Error("no error for a capture without TCP/UDP templates")
	}
}

func TestMovePort(t *testing.T) {
	line := []byte("ipv4     2 tcp      6 431999 ESTABLISHED src=10.0.0.5 dst=203.0.113.80 sport=40000 dport=80 packets=6 bytes=400 src=203.0.113.80 dst=203.0.113.1 sport=80 dport=40000 packets=4 bytes=300 [ASSURED] mark=0 use=1")
	for _, tc := range []struct {
		name  string
		round int
		port  uint16
		want  string
	}{
		{"first round", 1, 47919, "sport=47919 dport=80 packets=6 bytes=400 src=203.0.113.80 dst=203.0.113.1 sport=80 dport=47919 "},
		// 40000-1024+4*7919 = 70652, mod 64512 = 6140, +1024
		{"wraps into 1024-65535", 4, 7164, "sport=7164 dport=80 packets=6 bytes=400 src=203.0.113.80 dst=203.0.113.1 sport=80 dport=7164 "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, k, err := movePort(line, tc.round, lanFilter(t))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Contains(got, []byte(tc.want)) {
				t.Errorf("got %s\nwant it to contain %s", got, tc.want)
			}
			if k.SrcPort != tc.port || k.DstPort != 80 {
				t.Errorf("key %s, want source port %d to port 80", k, tc.port)
			}
		})
	}
}

func TestReplaceValue(t *testing.T) {
	for _, tc := range []struct {
		name, line, field, v string
		last                 bool
		want                 string
		ok                   bool
	}{
		{"first", "a x=1 b x=2", " x=", "9", false, "a x=9 b x=2", true},
		{"last", "a x=1 b x=2", " x=", "99", true, "a x=1 b x=99", true},
		{"at the end", "a x=1", " x=", "", false, "a x=", true},
		{"missing", "a y=1", " x=", "9", false, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := replaceValue([]byte(tc.line), []byte(tc.field), []byte(tc.v), tc.last)
			if ok != tc.ok || string(got) != tc.want {
				t.Errorf("= %q, %v; want %q, %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}
