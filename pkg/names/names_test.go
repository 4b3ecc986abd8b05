package names

import (
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestDuidMAC(t *testing.T) {
	for in, want := range map[string]string{
		"00:01:00:01:32:a1:f3:57:ba:48:48:04:35:67": "ba:48:48:04:35:67", // DUID-LLT, real (lab)
		"000300010025 4b112233":                     "",
		"00030001ba4848043567":                      "ba:48:48:04:35:67", // DUID-LL
		"00:02:00:00:ab:11:01:02:03:04":             "",                  // DUID-EN
		"00:01:00:06:32:a1:f3:57:ba:48:48:04:35:67": "",                  // not Ethernet
		"00:03:00:01:00:00:00:00:00:00":             "",                  // zero MAC
		"zz":                                        "",
	} {
		got := duidMAC(in)
		if (want == "" && !got.IsZero()) || (want != "" && got.String() != want) {
			t.Errorf("duidMAC(%q) = %v, want %q", in, got, want)
		}
	}
}

func TestEachLine(t *testing.T) {
	long := strings.Repeat("x", maxLine+1)
	var got []string
	err := eachLine(strings.NewReader("a\r\n"+long+"\nb"), func(n int, line []byte) {
		if line == nil {
			got = append(got, "LONG")
		} else {
			got = append(got, string(line))
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"a", "LONG", "b"}, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestEachRecord(t *testing.T) {
	long := strings.Repeat("x", maxLine+1)
	in := "  a  \n\n \t\n# c\nbad\n" + long + "\nb\n"
	kinds := map[string]lineKind{"a": record, "# c": notRecord, "bad": badRecord, "b": record}
	var got []string
	var st Stats
	err := eachRecord(strings.NewReader(in), &st, func(n int, s string) lineKind {
		got = append(got, strconv.Itoa(n)+" "+s)
		return kinds[s]
	})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"1 a", "4 # c", "5 bad", "7 b"}, got); diff != "" {
		t.Errorf("lines (-want +got):\n%s", diff)
	}
	// a, bad, the over-long line and b count; bad (line 5) and the long line are skipped.
	if diff := cmp.Diff(Stats{Lines: 4, Skipped: 2, FirstSkip: 5}, st); diff != "" {
		t.Errorf("stats (-want +got):\n%s", diff)
	}
}

func TestLastLeases(t *testing.T) {
	var b lastLeases
	b.set(Lease{Addr: ip("10.0.0.2"), Name: "a"}, true)
	b.set(Lease{Addr: ip("10.0.0.1"), Name: "b"}, true)
	b.set(Lease{Addr: ip("10.0.0.3"), Name: "c"}, true)
	b.set(Lease{Addr: ip("10.0.0.2"), Name: "a2"}, true) // renewed: keeps its place
	b.set(Lease{Addr: ip("10.0.0.1"), Name: "b"}, false) // released
	st := Stats{Entries: 1}
	want := []Lease{{Addr: ip("10.0.0.2"), Name: "a2"}, {Addr: ip("10.0.0.3"), Name: "c"}}
	if diff := cmp.Diff(want, b.leases(&st), cmpAddr); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if st.Entries != 3 {
		t.Errorf("Entries = %d, want 1 + 2", st.Entries)
	}
}
