package neigh

import (
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/netmon-dev/netmon/pkg/device"
)

const fixtureDir = "../../fixtures/neigh"

func fixture(tb testing.TB, name string) *os.File {
	tb.Helper()
	f, err := os.Open(filepath.Join(fixtureDir, name))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { f.Close() })
	return f
}

var cmpAddr = cmpopts.EquateComparable(netip.Addr{})

func nb(addr, mac, iface string) device.Neighbour {
	m, err := device.ParseMAC(mac)
	if err != nil {
		panic(err)
	}
	return device.Neighbour{Addr: netip.MustParseAddr(addr), MAC: m, Iface: iface}
}

// labTable is the real table of the lab router (fixtures/neigh/README.md):
// everything but the INCOMPLETE entry.
var labTable = []device.Neighbour{
	nb("10.0.3.114", "ba:48:48:04:35:67", "rb3"),
	nb("10.0.3.134", "ce:39:34:fe:e8:79", "rb3"),
	nb("10.0.0.5", "1a:50:49:93:b9:26", "rl0"),
	nb("203.0.113.80", "16:e4:26:25:62:cf", "rw0"),
	nb("10.0.3.250", "02:00:00:00:00:fa", "rb3"),
	nb("fe80::b848:48ff:fe04:3567", "ba:48:48:04:35:67", "rd1"),
	nb("fd00:3::102", "ba:48:48:04:35:67", "rb3"),
	nb("fe80::cc39:34ff:fefe:e879", "ce:39:34:fe:e8:79", "rd2"),
	nb("fe80::b848:48ff:fe04:3567", "ba:48:48:04:35:67", "rb3"),
	nb("fe80::1850:49ff:fe93:b926", "1a:50:49:93:b9:26", "rl0"),
	nb("fe80::cc39:34ff:fefe:e879", "ce:39:34:fe:e8:79", "rb3"),
	nb("fe80::885b:dfff:fef8:6d3", "8a:5b:df:f8:06:d3", "rl2"),
	nb("fe80::14e4:26ff:fe25:62cf", "16:e4:26:25:62:cf", "rw0"),
	nb("fd00:3::112", "ce:39:34:fe:e8:79", "rb3"),
}

func TestParseIPNeigh(t *testing.T) {
	testParse(t, ParseIPNeigh, []parseCase{
		{"ip-neigh-lab.txt", labTable, Stats{Lines: 15, Entries: 14, Ignored: 1}},
		// `ip -s neigh show` of the same table (iproute2 6.1 runs "used" and "probes" together).
		{"ip-neigh-s-lab.txt", labTable, Stats{Lines: 15, Entries: 14, Ignored: 1}},
		{"ip-neigh-handmade.txt", []device.Neighbour{
			nb("192.168.1.20", "00:1b:21:3a:4b:5c", "br-lan"),
			nb("192.168.1.21", "00:1b:21:3a:4b:5d", "br-lan"),
			nb("fe80::21b:21ff:fe3a:4b5c", "00:1b:21:3a:4b:5c", "br-lan"),
			nb("fd00::1:20", "00:1b:21:3a:4b:5c", "br-lan"),
			nb("192.168.1.25", "00:1b:21:3a:4b:5e", "br-lan"),
			nb("fd00::1:21", "00:1b:21:3a:4b:5d", ""),
			nb("192.168.1.30", "00:1b:21:3a:4b:61", "br-lan"),
			nb("fe80::1", "00:1b:21:3a:4b:62", "br-lan"),
		}, Stats{Lines: 17, Entries: 8, Ignored: 7, Skipped: 2, FirstSkip: 13}},
	})
}

// parseCase is a fixture and what a parser makes of it.
type parseCase struct {
	file  string
	want  []device.Neighbour
	stats Stats
}

// testParse runs parse on each case's fixture.
func testParse(t *testing.T, parse func(io.Reader, *Stats) ([]device.Neighbour, error), tests []parseCase) {
	t.Helper()
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			var st Stats
			got, err := parse(fixture(t, tc.file), &st)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got, cmpAddr); diff != "" {
				t.Errorf("neighbours (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.stats, st); diff != "" {
				t.Errorf("stats (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseIPNeighLine(t *testing.T) {
	tests := []struct {
		line          string
		ok, malformed bool
	}{
		{"10.0.0.5 dev rl0 lladdr 52:54:00:12:34:56 REACHABLE", true, false},
		{"10.0.0.5 dev rl0 FAILED", false, false},
		{"10.0.0.5 dev rl0 lladdr 52:54:00:12:34:56 FAILED", false, false},
		{"", false, true},
		{"Miss", false, true},
		{"bogus dev x", false, true},
		{"10.0.0.5 dev rl0 lladdr", false, true},
	}
	for _, tc := range tests {
		_, ok, bad := ParseIPNeighLine([]byte(tc.line))
		if ok != tc.ok || bad != tc.malformed {
			t.Errorf("ParseIPNeighLine(%q) = ok %v malformed %v, want %v %v", tc.line, ok, bad, tc.ok, tc.malformed)
		}
	}
}

func FuzzParseIPNeigh(f *testing.F) {
	addSeeds(f, "ip-neigh-lab.txt", "ip-neigh-s-lab.txt", "ip-neigh-handmade.txt")
	f.Fuzz(func(t *testing.T, in string) {
		got := parseChecked(t, ParseIPNeigh, in)
		// Each line parses alone to what it gave in the whole.
		var one []device.Neighbour
		for line := range strings.Lines(in) {
			if n, ok, _ := ParseIPNeighLine([]byte(strings.TrimRight(line, "\r\n"))); ok {
				one = append(one, n)
			}
		}
		if len(in) < maxLine && !strings.Contains(in, "\r") {
			if !slices.Equal(got, one) {
				t.Fatalf("ParseIPNeigh gives %v, its lines one by one %v", got, one)
			}
		}
	})
}

// addSeeds adds the fixtures named to f's seed corpus.
func addSeeds(f *testing.F, names ...string) {
	for _, name := range names {
		b, err := os.ReadFile(filepath.Join(fixtureDir, name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(b))
	}
}

// parseChecked parses in with parse and checks what holds for any
// input: no error from a reader that cannot fail, every neighbour is a
// machine, and the counts add up.
func parseChecked(t *testing.T, parse func(io.Reader, *Stats) ([]device.Neighbour, error), in string) []device.Neighbour {
	t.Helper()
	var st Stats
	got, err := parse(strings.NewReader(in), &st)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range got {
		if !n.Addr.IsValid() || n.Addr.Zone() != "" || n.Addr.Is4In6() || !n.MAC.Valid() {
			t.Fatalf("unusable neighbour %+v", n)
		}
	}
	if st.Entries != len(got) || st.Entries+st.Ignored+st.Skipped != st.Lines {
		t.Fatalf("stats %+v for %d neighbours", st, len(got))
	}
	if (st.Skipped == 0) != (st.FirstSkip == 0) {
		t.Fatalf("stats %+v: Skipped and FirstSkip disagree", st)
	}
	return got
}
