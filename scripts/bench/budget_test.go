package main

import (
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/netmon-dev/netmon/pkg/config"
)

func TestBudgetWindow(t *testing.T) {
	for _, tc := range []struct {
		commit, target time.Duration
		margin, window time.Duration
		k              int
	}{
		{5 * time.Minute, 15 * time.Minute, 30 * time.Second, 15 * time.Minute, 3},
		{5 * time.Second, 10 * time.Second, 1250 * time.Millisecond, 10 * time.Second, 2},
		{10 * time.Minute, 15 * time.Minute, 30 * time.Second, 20 * time.Minute, 2},
		{time.Hour, 15 * time.Minute, 30 * time.Second, time.Hour, 1},
		{5 * time.Minute, time.Hour, 30 * time.Second, time.Hour, 12},
	} {
		m, w, k := budgetWindow(tc.commit, tc.target)
		if m != tc.margin || w != tc.window || k != tc.k {
			t.Errorf("budgetWindow(%v, %v) = %v, %v, %d; want %v, %v, %d", tc.commit, tc.target, m, w, k, tc.margin, tc.window, tc.k)
		}
		if m >= tc.commit {
			t.Errorf("budgetWindow(%v, %v): the window starts after the first ticker commit", tc.commit, tc.target)
		}
	}
}

// TestDefaultCommit keeps the budget's interval the one netmon ships.
func TestDefaultCommit(t *testing.T) {
	if want := config.Default().CommitInterval; defaultCommit != want {
		t.Errorf("defaultCommit = %v, pkg/config's default commit_interval is %v", defaultCommit, want)
	}
}

func TestPerDay(t *testing.T) {
	if got := perDay(1000, 15*time.Minute); got != 96_000 {
		t.Errorf("1000 B in 15 min = %v B/day, want 96000", got)
	}
}

// result is a budget run that wrote wb bytes (write_bytes) over w.
func result(name string, commit time.Duration, idle bool, wb int64, w time.Duration, k, written int) budgetResult {
	t0 := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	return budgetResult{
		budgetSpec: budgetSpec{name: name, commit: commit, idle: idle, window: w, commits: k},
		a:          procSample{At: t0, WriteBytes: 100, Cycles: 10},
		b:          procSample{At: t0.Add(w), WriteBytes: 100 + wb, Cycles: 10 + int(w/time.Second)},
		written:    int64(written), outbound: 9000,
		gen: homeStats{Steps: int64(w / time.Second), Grown: 900 * int64(w/time.Second)},
	}
}

func TestBudgetRows(t *testing.T) {
	busy := result("busy-10m0s", 10*time.Minute, false, 300_000, 20*time.Minute, 2, 2)  // 21.6 MB/day
	fat := result("busy-10m0s", 10*time.Minute, false, 1_200_000, 20*time.Minute, 2, 2) // 86.4 MB/day
	fiveMin := result("busy-5m0s", 5*time.Minute, false, 300_000, 15*time.Minute, 3, 3) // 28.8 MB/day
	idle := result("idle", 10*time.Minute, true, 0, 20*time.Minute, 2, 0)
	before := result("before-busy", 0, false, 360_000_000, 3*time.Minute, 0, -1) // 172.8 GB/day
	beforeIdle := result("before-idle", 0, true, 900_000, 3*time.Minute, 0, -1)
	type got struct{ Target, Result, Ratio string }
	sum := func(rows []Row) (out []got) {
		for _, r := range rows {
			out = append(out, got{r.Target, r.Result, r.Ratio})
		}
		return out
	}
	for _, tc := range []struct {
		name  string
		in    []budgetResult
		smoke bool
		want  []got
	}{
		{"within the budget, beside the version before", []budgetResult{busy, fiveMin, idle, before, beforeIdle}, false, []got{
			{"<= 50 MB/day at the default commit interval", "PASS", "8000x less"},
			{"", "", "6000x less"},
			{"< 1 MB/day", "PASS", "nothing written"},
		}},
		{"over the budget", []budgetResult{fat}, false, []got{{"<= 50 MB/day at the default commit interval", "MISS", ""}}},
		{"smoke", []budgetResult{busy, idle}, true, []got{{"runs; every line parses", "ok", ""}, {"runs; every line parses", "ok", ""}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rows := budgetRows(tc.in, tc.smoke)
			if diff := cmp.Diff(tc.want, sum(rows)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			for _, r := range rows {
				if tc.smoke != strings.HasPrefix(r.What, "SMOKE RUN") {
					t.Errorf("smoke %v, row %q", tc.smoke, r.What)
				}
			}
		})
	}
	rows := budgetRows([]budgetResult{busy, before}, false)
	for _, want := range []string{"22 MB/day write_bytes", "150 kB per commit", "2 commits wrote"} {
		if !strings.Contains(rows[0].Netmon, want) {
			t.Errorf("row %q does not say %q", rows[0].Netmon, want)
		}
	}
	if want := "before the split (d4cbfe9, every cycle to --db): 173 GB/day (2.0 MB/cycle over 3m0s)"; rows[0].Baseline != want {
		t.Errorf("baseline %q, want %q", rows[0].Baseline, want)
	}
}

func TestRecordCommits(t *testing.T) {
	db := filepath.Join(t.TempDir(), "record.db")
	sdb, err := sql.Open("sqlite", db)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{"PRAGMA journal_mode=WAL", "CREATE TABLE record_state (id INTEGER PRIMARY KEY, commits INTEGER)", "INSERT INTO record_state VALUES (1, 3)"} {
		if _, err := sdb.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	defer sdb.Close() // open, as the daemon holds it
	if n, err := recordCommits(db); err != nil || n != 3 {
		t.Errorf("= %d, %v; want 3", n, err)
	}
	if _, err := recordCommits(filepath.Join(t.TempDir(), "none.db")); err == nil {
		t.Error("no error for a missing record")
	}
}

// TestCheckDisks: the databases must be on disk, the live state on a
// tmpfs.
func TestCheckDisks(t *testing.T) {
	disk := t.TempDir()
	if e := (&env{Options: Options{Work: disk, State: disk}}); e.checkDisks() == nil {
		t.Error("no error for live state on disk")
	}
	if ok, _ := tmpfs("/dev/shm"); !ok {
		t.Skip("/dev/shm is not a tmpfs here")
	}
	shm, err := os.MkdirTemp("/dev/shm", "bench-test")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(shm)
	if err := (&env{Options: Options{Work: disk, State: shm}}).checkDisks(); err != nil {
		t.Errorf("disk and tmpfs: %v", err)
	}
	if (&env{Options: Options{Work: shm, State: shm}}).checkDisks() == nil {
		t.Error("no error for databases on a tmpfs")
	}
}
