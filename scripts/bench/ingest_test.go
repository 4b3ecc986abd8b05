package main

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestParseSummary(t *testing.T) {
	for _, tc := range []struct {
		name    string
		in      string
		want    map[string]int64
		wantErr bool
	}{
		{
			name: "real line",
			in:   "entries=10000 outbound=9290 skipped=0 reported=none new_hosts=20 opened=9290 updated=0 closed=0 pruned=0 duplicates=0 rows_written=9364 took=541.724ms\n",
			want: map[string]int64{"entries": 10000, "outbound": 9290, "skipped": 0, "new_hosts": 20, "opened": 9290, "updated": 0, "closed": 0, "pruned": 0, "duplicates": 0, "rows_written": 9364},
		},
		{name: "no rows_written", in: "entries=1 outbound=1", wantErr: true},
		{name: "no outbound", in: "rows_written=1", wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseSummary(tc.in)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tc.wantErr)
			}
			if diff := cmp.Diff(tc.want, got); !tc.wantErr && diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestDBSize(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "x.db")
	if got := dbSize(db); got != 0 {
		t.Errorf("missing files: %d, want 0", got)
	}
	os.WriteFile(db, make([]byte, 4096), 0o644)
	os.WriteFile(db+"-wal", make([]byte, 100), 0o644)
	os.WriteFile(db+"-shm", make([]byte, 32768), 0o644) // not data: ignored
	if got := dbSize(db); got != 4196 {
		t.Errorf("dbSize = %d, want 4196", got)
	}
}

func TestIngestRows(t *testing.T) {
	cold := ingestRun{Run: Run{Wall: 1500 * time.Millisecond, User: time.Second, MaxRSS: 40 << 20}, Rows: 10_000, Outbound: 10_000, DBSize: 2_000_000}
	// one row = 200 B, so a steady cycle may write < 20 B per flow.
	for _, tc := range []struct {
		name       string
		n          int
		steadyW    uint64
		cold       ingestRun
		wantCold   Verdict
		wantSteady Verdict
	}{
		{name: "10k quiet steady state", n: 10_000, steadyW: 8192, cold: cold, wantSteady: Pass},
		{name: "10k steady state rewriting rows", n: 10_000, steadyW: 300_000, cold: cold, wantSteady: Miss},
		{name: "100k cold in time", n: 100_000, steadyW: 8192, cold: cold, wantCold: Pass},
		{name: "100k cold too big", n: 100_000, steadyW: 8192, cold: ingestRun{Run: Run{Wall: time.Second, MaxRSS: 65 << 20}, Rows: 1, DBSize: 1}, wantCold: Miss},
		{name: "100k cold too slow", n: 100_000, steadyW: 8192, cold: ingestRun{Run: Run{Wall: 2 * time.Second, MaxRSS: 1}, Rows: 1, DBSize: 1}, wantCold: Miss},
	} {
		t.Run(tc.name, func(t *testing.T) {
			steady := ingestRun{Run: Run{IO: IO{WChar: tc.steadyW}}, Rows: 1, Outbound: int64(tc.n)}
			rows := ingestRows([]ingestRun{tc.cold}, []ingestRun{steady}, tc.n)
			if len(rows) != 2 {
				t.Fatalf("%d rows, want 2", len(rows))
			}
			if rows[0].Result != tc.wantCold || rows[1].Result != tc.wantSteady {
				t.Errorf("verdicts %q, %q; want %q, %q", rows[0].Result, rows[1].Result, tc.wantCold, tc.wantSteady)
			}
		})
	}
}

func TestMedianIngest(t *testing.T) {
	runs := []ingestRun{
		{Run: Run{User: 3 * time.Second, Sys: time.Second}, Rows: 5, Growth: 10},
		{Run: Run{User: time.Second}, Rows: 3, Growth: 30},
		{Run: Run{User: 2 * time.Second}, Rows: 9, Growth: 20},
	}
	m := medianIngest(runs)
	if m.CPU() != 2*time.Second || m.Rows != 5 || m.Growth != 20 {
		t.Errorf("CPU %v rows %d growth %d; want 2s, 5, 20", m.CPU(), m.Rows, m.Growth)
	}
}
