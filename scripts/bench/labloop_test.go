package main

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestSyntheticLoad: n distinct outbound entries, as conntrack -R reads
// them.
func TestSyntheticLoad(t *testing.T) {
	path := filepath.Join(t.TempDir(), "load.txt")
	const n = 200_000
	if err := writeSyntheticLoad(path, n); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	seen := map[string]bool{}
	tcp := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "-I -s 10.0.0.") || !strings.Contains(line, " -d 203.0.113.") {
			t.Fatalf("line %q: not an outbound insert", line)
		}
		tuple := strings.Join(strings.Fields(line)[:10], " ")
		if seen[tuple] {
			t.Fatalf("tuple twice: %s", tuple)
		}
		seen[tuple] = true
		if strings.Contains(line, "-p tcp") {
			tcp++
		}
	}
	if len(seen) != n || tcp != n*3/10 {
		t.Errorf("%d entries, %d TCP; want %d, %d", len(seen), tcp, n, n*3/10)
	}
}

func TestStatChildCPU(t *testing.T) {
	line := []byte("1234 (netmon) S 1 1234 1234 0 -1 4194560 100 0 0 0 150 50 30 12 20 0 9 0 100 0 0")
	got, err := statChildCPU(line)
	if err != nil || got != 420*time.Millisecond {
		t.Errorf("statChildCPU = %v, %v; want 420ms (cutime 30 + cstime 12 ticks)", got, err)
	}
	if _, err := statChildCPU([]byte("1234 (netmon) S 1")); err == nil {
		t.Error("short line: no error")
	}
}

func TestLastInterval(t *testing.T) {
	log := `msg="ingest cycle" took=1s
msg="poll interval changed to keep polling within its CPU budget" interval=9.5s cycle_cpu=950ms budget=0.1
msg="poll interval changed to keep polling within its CPU budget" interval=6.1s cycle_cpu=610ms budget=0.1`
	if got := lastInterval(log); got != "6.1s" {
		t.Errorf("lastInterval = %q, want 6.1s", got)
	}
	if got := lastInterval("nothing"); got != "1s" {
		t.Errorf("no change: %q, want 1s", got)
	}
}
