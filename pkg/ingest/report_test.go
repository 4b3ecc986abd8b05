package ingest

import (
	"bytes"
	"errors"
	"log/slog"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestReporter feeds a reporter cycles a second apart and compares the
// INFO-and-above lines it writes (time and durations left out).
func TestReporter(t *testing.T) {
	clk := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	var logs bytes.Buffer
	r := newReporter(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo})), func() time.Time { return clk })
	ok := Summary{Entries: 3, Outbound: 2, Reported: -1, Took: time.Millisecond}
	ok.Opened = 1
	full := errors.New("database or disk is full")
	locked := errors.New("database is locked")
	step := func(s Summary, err error) {
		clk = clk.Add(time.Second)
		r.cycle(s, err)
	}
	step(ok, nil)
	for range 30 {
		step(Summary{}, full)
	}
	step(Summary{}, locked)
	for range 27 {
		step(Summary{}, locked)
	}
	step(ok, nil) // 60 s since the window began: the recovery, then a summary
	step(ok, nil)

	var got []string
	drop := regexp.MustCompile(`^time=\S+ | (took|max_took|window|failing_for)=\S+`)
	for _, l := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		got = append(got, drop.ReplaceAllString(l, ""))
	}
	want := []string{
		`level=INFO msg="first ingest cycle" entries=3 outbound=2 skipped=0 reported=none new_hosts=0 opened=1 updated=0 closed=0 pruned=0 duplicates=0 rows_written=0`,
		`level=ERROR msg="ingest failing" err="database or disk is full"`,
		`level=ERROR msg="ingest failing with another error" err="database is locked" previous_err="database or disk is full" previous_repeats=29`,
		`level=INFO msg="ingest recovered" failed_cycles=58 last_err="database is locked"`,
		`level=INFO msg="ingest summary" cycles=60 failed=58 opened=2 closed=0 state=ok`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("log lines (-want +got):\n%s", diff)
	}
}

func TestReporterSummaryWhileFailing(t *testing.T) {
	clk := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	var logs bytes.Buffer
	r := newReporter(slog.New(slog.NewTextHandler(&logs, nil)), func() time.Time { return clk })
	for range 61 {
		clk = clk.Add(time.Second)
		r.cycle(Summary{}, errors.New("permission denied"))
	}
	if !strings.Contains(logs.String(), `msg="ingest summary" cycles=60 failed=60 opened=0 closed=0 max_took=0s window=1m0s state=failing err="permission denied" repeats=59`) {
		t.Errorf("no failing summary:\n%s", logs.String())
	}
	if n := strings.Count(logs.String(), "level=ERROR"); n != 1 {
		t.Errorf("%d ERROR lines for one error repeated, want 1", n)
	}
}

func TestReporterDebugEveryCycle(t *testing.T) {
	var logs bytes.Buffer
	r := newReporter(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})), time.Now)
	r.cycle(Summary{Reported: 7}, nil)
	r.cycle(Summary{}, errors.New("boom"))
	for _, want := range []string{`level=DEBUG msg="ingest cycle" entries=0 outbound=0 skipped=0 reported=7`, `level=DEBUG msg="ingest cycle failed"`} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("no %s in:\n%s", want, logs.String())
		}
	}
}

func TestBackoff(t *testing.T) {
	r := newReporter(slog.New(slog.DiscardHandler), time.Now)
	var got []int
	for range 10 {
		r.cycle(Summary{}, errors.New("x"))
		got = append(got, r.backoff(time.Second))
	}
	r.cycle(Summary{}, nil)
	got = append(got, r.backoff(time.Second))
	want := []int{1, 2, 4, 8, 16, 32, 60, 60, 60, 60, 1}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ticks to wait (-want +got):\n%s", diff)
	}
	if n := r.backoff(10 * time.Minute); n != 1 {
		t.Errorf("backoff at a 10 min interval = %d ticks, want 1", n)
	}
}
