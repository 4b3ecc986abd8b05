package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// capture is the real capture the committed replay was made from.
func capture(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "fixtures", "conntrack", "small_mixed.txt"))
	if err != nil {
		t.Fatalf("read capture: %v", err)
	}
	return b
}

// TestCommittedReplayIsUpToDate fails when fixtures/replay or
// fixtures/replay-hostile were edited by hand or the generator changed
// without `go run ./scripts/make-replay`.
func TestCommittedReplayIsUpToDate(t *testing.T) {
	tmp := t.TempDir()
	in := filepath.Join(tmp, "capture.txt")
	if err := os.WriteFile(in, capture(t), 0o644); err != nil {
		t.Fatal(err)
	}
	out, hostile := filepath.Join(tmp, "replay"), filepath.Join(tmp, "hostile")
	if err := run(in, out, hostile); err != nil {
		t.Fatalf("run: %v", err)
	}
	for _, dir := range []struct{ got, committed string }{
		{out, "replay"},
		{hostile, "replay-hostile"},
	} {
		got := readTxt(t, dir.got)
		want := readTxt(t, filepath.Join("..", "..", "fixtures", dir.committed))
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("fixtures/%s is stale; run go run ./scripts/make-replay (-committed +generated):\n%s", dir.committed, diff)
		}
	}
}

// readTxt returns the *.txt files of dir by name.
func readTxt(t *testing.T, dir string) map[string]string {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(dir, "*.txt"))
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			t.Fatal(err)
		}
		m[filepath.Base(n)] = string(b)
	}
	return m
}

// flowID is the original tuple of a line: what identifies a flow.
func flowID(line string) string {
	f := strings.Fields(line)
	var id []string
	for _, tok := range f {
		if strings.HasPrefix(tok, "packets=") {
			break
		}
		if strings.Contains(tok, "=") {
			id = append(id, tok)
		}
	}
	return f[2] + " " + strings.Join(id, " ")
}

// counters returns the four packets=/bytes= values of a line as text.
func counters(line string) []string {
	var out []string
	for _, tok := range strings.Fields(line) {
		if strings.HasPrefix(tok, "packets=") || strings.HasPrefix(tok, "bytes=") {
			out = append(out, tok)
		}
	}
	return out
}

func TestBuildScenario(t *testing.T) {
	snaps, err := Build(capture(t))
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	if len(snaps) != Steps {
		t.Fatalf("got %d snapshots, want %d", len(snaps), Steps)
	}
	flows := make([]map[string]string, len(snaps))
	for i, s := range snaps {
		flows[i] = map[string]string{}
		for _, l := range splitLines(s.Data) {
			flows[i][flowID(l)] = l
		}
	}
	tests := []struct {
		name  string
		check func(t *testing.T)
	}{
		{"names sort in replay order", func(t *testing.T) {
			for i := 1; i < len(snaps); i++ {
				if snaps[i-1].Name >= snaps[i].Name {
					t.Errorf("%s sorts after %s", snaps[i-1].Name, snaps[i].Name)
				}
			}
		}},
		{"first snapshot holds only capture lines, unchanged", func(t *testing.T) {
			real := map[string]bool{}
			for _, l := range splitLines(capture(t)) {
				real[l] = true
			}
			for _, l := range splitLines(snaps[0].Data) {
				if !real[l] {
					t.Errorf("00.txt line not in the capture: %s", l)
				}
			}
		}},
		{"every snapshot differs from the one before", func(t *testing.T) {
			for i := 1; i < len(snaps); i++ {
				if string(snaps[i].Data) == string(snaps[i-1].Data) {
					t.Errorf("%s equals %s", snaps[i].Name, snaps[i-1].Name)
				}
			}
		}},
		{"counters never go down while a flow stays", func(t *testing.T) {
			for i := 1; i < len(snaps); i++ {
				for id, l := range flows[i] {
					prev, ok := flows[i-1][id]
					if !ok {
						continue
					}
					for j, c := range counters(l) {
						if less(c, counters(prev)[j]) {
							t.Errorf("%s: %s went from %s to %s", snaps[i].Name, id, counters(prev)[j], c)
						}
					}
				}
			}
		}},
		{"flows appear and disappear", func(t *testing.T) {
			var gone, came int
			for i := 1; i < len(snaps); i++ {
				for id := range flows[i-1] {
					if _, ok := flows[i][id]; !ok {
						gone++
					}
				}
				for id := range flows[i] {
					if _, ok := flows[i-1][id]; !ok {
						came++
					}
				}
			}
			if gone == 0 || came == 0 {
				t.Errorf("%d flows left and %d came; want both > 0", gone, came)
			}
		}},
		{"new remote host appears mid-way", func(t *testing.T) {
			for i, s := range snaps {
				has := strings.Contains(string(s.Data), "dst=203.0.113.90 ")
				if has != (i >= newHostFrom) {
					t.Errorf("%s: holds 203.0.113.90 = %v", s.Name, has)
				}
			}
		}},
		{"IPv6 and ICMP in every snapshot", func(t *testing.T) {
			for _, s := range snaps {
				for _, want := range []string{"ipv6 ", " icmp ", " icmpv6 "} {
					if !strings.Contains(string(s.Data), want) {
						t.Errorf("%s has no %q line", s.Name, want)
					}
				}
			}
		}},
		{"no hostile text in the demo", func(t *testing.T) {
			for _, s := range snaps {
				if strings.ContainsAny(string(s.Data), "<>\"&") {
					t.Errorf("%s holds HTML metacharacters", s.Name)
				}
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, tc.check)
	}
}

// less compares two "key=N" tokens numerically.
func less(a, b string) bool {
	_, x, _ := strings.Cut(a, "=")
	_, y, _ := strings.Cut(b, "=")
	if len(x) != len(y) {
		return len(x) < len(y)
	}
	return x < y
}

func TestBuildHostile(t *testing.T) {
	snaps, err := BuildHostile(capture(t))
	if err != nil {
		t.Fatalf("BuildHostile: %v", err)
	}
	if len(snaps) != 1 {
		t.Fatalf("got %d snapshots, want 1", len(snaps))
	}
	for _, st := range hostileStates() {
		if !strings.Contains(string(snaps[0].Data), " "+st+" src=10.0.0.5 ") {
			t.Errorf("no line with state %q", st)
		}
	}
}

func TestGrow(t *testing.T) {
	const line = "ipv4     2 tcp      6 1 ESTABLISHED src=10.0.0.5 dst=203.0.113.80 sport=1 dport=80 packets=4 bytes=225 src=203.0.113.80 dst=203.0.113.1 sport=80 dport=1 packets=3 bytes=5164 [ASSURED] mark=0 use=1"
	tests := []struct {
		name    string
		line    string
		g       [4]uint64
		k       uint64
		want    string
		wantErr bool
	}{
		{name: "step zero keeps the line", line: line, g: [4]uint64{1, 1, 1, 1}, k: 0, want: line},
		{name: "two steps", line: line, g: [4]uint64{1, 10, 2, 100}, k: 2,
			want: strings.NewReplacer("packets=4 ", "packets=6 ", "bytes=225 ", "bytes=245 ", "packets=3 ", "packets=7 ", "bytes=5164 ", "bytes=5364 ").Replace(line)},
		{name: "no accounting", line: "ipv4     2 udp      17 27 src=10.0.0.5 dst=203.0.113.80 sport=1 dport=53 src=203.0.113.80 dst=203.0.113.1 sport=53 dport=1 mark=0 use=1", g: [4]uint64{1, 1, 1, 1}, k: 1, wantErr: true},
		{name: "bad counter", line: strings.Replace(line, "bytes=225", "bytes=x", 1), g: [4]uint64{1, 1, 1, 1}, k: 1, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := grow(tc.line, tc.g, tc.k)
			if (err != nil) != tc.wantErr {
				t.Fatalf("grow error = %v, wantErr %v", err, tc.wantErr)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("grow (-want +got):\n%s", diff)
			}
		})
	}
}

func TestIndex(t *testing.T) {
	lines := []string{"a sport=1 x", "b sport=2 x", "c sport=2 y"}
	tests := []struct {
		name    string
		match   string
		want    int
		wantErr bool
	}{
		{name: "unique", match: "sport=1 ", want: 0},
		{name: "ambiguous", match: "sport=2 ", wantErr: true},
		{name: "missing", match: "sport=3 ", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := index(lines, tc.match)
			if (err != nil) != tc.wantErr {
				t.Fatalf("index error = %v, wantErr %v", err, tc.wantErr)
			}
			if got != tc.want {
				t.Errorf("index = %d, want %d", got, tc.want)
			}
		})
	}
}
