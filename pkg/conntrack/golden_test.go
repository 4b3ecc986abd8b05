package conntrack

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// goldenEntry is an Entry as the golden files show it: the event and the
// status flags by name, the conntrack id only where the line has one, plus
// the flow key.
type goldenEntry struct {
	Event string `json:",omitempty"`
	Entry
	Status string `json:",omitempty"`
	ID     uint32 `json:",omitempty"`
	Key    string
	// BeforeRead is the ingest cycle's mark on an event, never parsed:
	// shadowed here (always false, omitted) so the goldens hold only what
	// Parse makes.
	BeforeRead bool `json:",omitempty"`
}

func newGoldenEntry(e *Entry) goldenEntry {
	return goldenEntry{Event: e.Event.String(), Entry: *e, Status: e.Status.String(), ID: e.ID, Key: KeyOf(e).String()}
}

// bigSummary stands in for the entries of the big captures, whose full
// listing would be tens of megabytes: what they contain, counted.
type bigSummary struct {
	Stats        Stats
	Kinds        map[string]int // "ipv4 tcp TIME_WAIT ASSURED" -> entries
	OrigPackets  uint64
	OrigBytes    uint64
	ReplyPackets uint64
	ReplyBytes   uint64
	DistinctKeys int
	First        goldenEntry
}

// goldenCases lists every fixture with what it shows. Each X.txt has its
// X.golden.json beside it, the spec of what Parse makes of it.
var goldenCases = []struct {
	name string // fixture file
	big  bool   // summarised rather than listed
}{
	{name: "tcp-established-counters.txt"},
	{name: "tcp-no-counters.txt"},
	{name: "udp-no-state-counters.txt"},
	{name: "icmp.txt"},
	{name: "ipv6.txt"},
	{name: "zone-helper-mark.txt"},
	{name: "timestamps.txt"},
	{name: "ktimestamps-ids.txt"},
	{name: "events.txt"},
	{name: "events-timestamp.txt"},
	{name: "events-ktimestamp.txt"},
	{name: "events-ids.txt"},
	{name: "plain.txt"},
	{name: "procfs.txt"},
	{name: "gre-unknown.txt"},
	{name: "offload.txt"},
	{name: "malformed.txt"},
	{name: "small_mixed.txt"},
	{name: "router_extended.txt"},
	{name: "big_10000.txt.gz", big: true},
	{name: "big_100000.txt.gz", big: true},
}

func TestGolden(t *testing.T) {
	for _, tc := range goldenCases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.big && testing.Short() && !*update {
				t.Skip("big capture skipped in -short mode")
			}
			var got []byte
			if tc.big {
				got = bigGolden(t, tc.name)
			} else {
				got = listGolden(t, tc.name)
			}
			path := fixturePath(strings.TrimSuffix(strings.TrimSuffix(tc.name, ".gz"), ".txt") + ".golden.json")
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./pkg/conntrack -update to create it)", err)
			}
			if !bytes.Equal(want, got) {
				t.Errorf("%s differs from what Parse makes of %s now; review with -update and git diff:\n%s",
					filepath.Base(path), tc.name, firstDiff(want, got))
			}
		})
	}
}

// TestGoldenCoversEveryFixture keeps a new fixture from going untested.
func TestGoldenCoversEveryFixture(t *testing.T) {
	listed := map[string]bool{}
	for _, tc := range goldenCases {
		listed[tc.name] = true
	}
	for _, pattern := range []string{"*.txt", "*.txt.gz"} {
		names, err := filepath.Glob(fixturePath(pattern))
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range names {
			if !listed[filepath.Base(n)] {
				t.Errorf("fixture %s has no golden case in goldenCases", filepath.Base(n))
			}
		}
	}
}

// TestFixtureTrailers checks the captures' stderr trailers against the
// lines Parse counts: conntrack's own count is the independent answer.
func TestFixtureTrailers(t *testing.T) {
	tests := []struct {
		name, stdout, stderr string
	}{
		{name: "small mixed", stdout: "small_mixed.txt", stderr: "small_mixed.stderr"},
		{name: "big 10000", stdout: "big_10000.txt.gz", stderr: "big_10000.stderr"},
		{name: "big 100000", stdout: "big_100000.txt.gz", stderr: "big_100000.stderr"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if strings.HasPrefix(tc.stdout, "big_") && testing.Short() {
				t.Skip("big capture skipped in -short mode")
			}
			n, ok := ParseTrailer(readFixture(t, tc.stderr))
			if !ok {
				t.Fatalf("ParseTrailer(%s) found no trailer", tc.stderr)
			}
			st, err := Parse(bytes.NewReader(readFixture(t, tc.stdout)), each(func(*Entry) {}))
			if err != nil {
				t.Fatal(err)
			}
			if st.Lines != n || st.Entries != n || st.Skipped != 0 {
				t.Errorf("conntrack reported %d entries; Parse read %d lines, %d entries, %d skipped", n, st.Lines, st.Entries, st.Skipped)
			}
		})
	}
}

// listGolden renders the stats and every entry, one entry per line so
// that a diff points at the entry that changed.
func listGolden(t *testing.T, name string) []byte {
	t.Helper()
	var entries [][]byte
	st, err := Parse(bytes.NewReader(readFixture(t, name)), each(func(e *Entry) {
		b, err := json.Marshal(newGoldenEntry(e))
		if err != nil {
			t.Fatal(err)
		}
		entries = append(entries, b)
	}))
	if err != nil {
		t.Fatal(err)
	}
	stats, err := json.MarshalIndent(st, "  ", "  ")
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	fmt.Fprintf(&out, "{\n  \"Stats\": %s,\n  \"Entries\": [", stats)
	for i, e := range entries {
		if i > 0 {
			out.WriteByte(',')
		}
		out.WriteString("\n    ")
		out.Write(e)
	}
	out.WriteString("\n  ]\n}\n")
	return out.Bytes()
}

func bigGolden(t *testing.T, name string) []byte {
	t.Helper()
	s := bigSummary{Kinds: map[string]int{}}
	keys := map[FlowKey]bool{}
	st, err := Parse(bytes.NewReader(readFixture(t, name)), each(func(e *Entry) {
		if len(keys) == 0 {
			s.First = newGoldenEntry(e)
		}
		fam := "ipv4"
		if e.Family == 10 {
			fam = "ipv6"
		}
		kind := strings.Join(strings.Fields(fam+" "+e.Proto.trackerName()+" "+e.State+" "+e.Status.String()), " ")
		s.Kinds[kind]++
		s.OrigPackets += e.Orig.Packets
		s.OrigBytes += e.Orig.Bytes
		s.ReplyPackets += e.Reply.Packets
		s.ReplyBytes += e.Reply.Bytes
		keys[KeyOf(e)] = true
	}))
	if err != nil {
		t.Fatal(err)
	}
	s.Stats, s.DistinctKeys = st, len(keys)
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return append(b, '\n')
}

// firstDiff shows the first line where want and got differ.
func firstDiff(want, got []byte) string {
	w, g := strings.Split(string(want), "\n"), strings.Split(string(got), "\n")
	for i := 0; i < len(w) || i < len(g); i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			return fmt.Sprintf("line %d\nwant: %s\ngot:  %s", i+1, wl, gl)
		}
	}
	return "(no line differs)"
}
