package neigh

import (
	"bytes"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/netmon-dev/netmon/pkg/device"
)

func TestEachLine(t *testing.T) {
	long := strings.Repeat("x", maxLine+5)
	in := "a\r\n\nb\n" + long + "\nc\n" + long
	var got []string
	err := eachLine(strings.NewReader(in), func(n int, line []byte) {
		if line == nil {
			got = append(got, "LONG")
			return
		}
		got = append(got, string(line))
	})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"a", "", "b", "LONG", "c", "LONG"}, got); diff != "" {
		t.Errorf("lines (-want +got):\n%s", diff)
	}
}

func TestFields(t *testing.T) {
	var buf [4][]byte
	got := fields(buf[:0], []byte("  a\tbb  c "))
	var s []string
	for _, f := range got {
		s = append(s, string(f))
	}
	if diff := cmp.Diff([]string{"a", "bb", "c"}, s); diff != "" {
		t.Errorf("fields (-want +got):\n%s", diff)
	}
}

func TestEachNeighbour(t *testing.T) {
	in := "H x\n\n a\nbad\nno\n" + strings.Repeat("x", maxLine+5) + "\n"
	a := device.Neighbour{Addr: netip.MustParseAddr("10.0.0.1")}
	var st Stats
	got, err := eachNeighbour(strings.NewReader(in), &st, []byte("H "), func(line []byte) (device.Neighbour, bool, bool) {
		switch string(bytes.TrimSpace(line)) {
		case "a":
			return a, true, true
		case "no":
			return device.Neighbour{}, false, true
		}
		return device.Neighbour{}, false, false
	})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]device.Neighbour{a}, got, cmpAddr); diff != "" {
		t.Errorf("neighbours (-want +got):\n%s", diff)
	}
	// The header and the blank line do not count; bad (line 4) and the
	// over-long line are skipped, no is ignored.
	if diff := cmp.Diff(Stats{Lines: 4, Entries: 1, Ignored: 1, Skipped: 2, FirstSkip: 4}, st); diff != "" {
		t.Errorf("stats (-want +got):\n%s", diff)
	}
}
