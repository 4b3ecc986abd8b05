package ingest

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/netmon-dev/netmon/pkg/store"
)

// TestPace: the interval is the configured one while polling is cheap and
// stretches to the median recent cost over the budget, so one expensive
// cycle (a cold start) does not move it for long, and it comes back when
// the table shrinks.
func TestPace(t *testing.T) {
	ms := time.Millisecond
	tests := []struct {
		name   string
		budget float64
		costs  []time.Duration
		want   []time.Duration // after each cost
	}{
		{"cheap polls keep the interval", 0.1, []time.Duration{10 * ms, 50 * ms, 99 * ms},
			[]time.Duration{time.Second, time.Second, time.Second}},
		{"a big table stretches it", 0.1, []time.Duration{300 * ms, 300 * ms, 300 * ms},
			[]time.Duration{3 * time.Second, 3 * time.Second, 3 * time.Second}},
		{"one cold cycle is outvoted", 0.1, []time.Duration{2 * time.Second, 50 * ms, 50 * ms, 50 * ms},
			[]time.Duration{20 * time.Second, 20 * time.Second, time.Second, time.Second}},
		{"a shrinking table brings it back", 0.1, []time.Duration{500 * ms, 500 * ms, 500 * ms, 10 * ms, 10 * ms, 10 * ms},
			[]time.Duration{5 * time.Second, 5 * time.Second, 5 * time.Second, 5 * time.Second, 5 * time.Second, time.Second}},
		{"never beyond the cap", 0.1, []time.Duration{time.Hour}, []time.Duration{maxInterval}},
		{"no budget, no stretching", 0, []time.Duration{time.Hour}, []time.Duration{time.Second}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := pace{base: time.Second, budget: tc.budget}
			var got []time.Duration
			for _, c := range tc.costs {
				got = append(got, p.observe(c))
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("intervals (-want +got):\n%s", diff)
			}
		})
	}
}

// TestCPUTime: the real measure moves forward with work done.
func TestCPUTime(t *testing.T) {
	before := cpuTime()
	deadline := time.Now().Add(20 * time.Millisecond)
	for n := 0; time.Now().Before(deadline); n++ {
		_ = n * n
	}
	if after := cpuTime(); after <= before {
		t.Errorf("cpuTime went from %v to %v over 20 ms of work", before, after)
	}
}

// TestLoopStretchesAndReports: cycles that cost 300 ms of CPU under a 10%
// budget make the loop wait 3 s between reads (the ticker restarted with
// that period, Status.Interval saying so), and a cycle that takes longer
// than its interval is logged and counted.
func TestLoopStretchesAndReports(t *testing.T) {
	var logs bytes.Buffer
	tick := &manualTicker{c: make(chan time.Time)}
	entered := make(chan int)
	st := &fakeStore{reconcile: func(_ context.Context, n int) (store.CycleResult, error) {
		entered <- n
		return store.CycleResult{}, nil
	}}
	clock := &stepClock{t: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), step: 1500 * time.Millisecond}
	in := &Ingester{Source: &fakeSource{}, Filter: lanToWAN, Store: st, Now: clock.Now,
		CPU: stepCPU(300 * time.Millisecond), PollCPUBudget: 0.1,
		Logger: slog.New(slog.NewTextHandler(&logs, nil))}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- in.Loop(ctx, time.Second, tick.start) }()
	waitFor(t, entered, "cycle 1")
	tick.c <- time.Time{}
	waitFor(t, entered, "cycle 2")
	cancel()
	waitFor(t, done, "Loop to return")

	// stepCPU advances 300 ms a call: a cycle costs the difference, 300 ms.
	if tick.period != 3*time.Second {
		t.Errorf("ticker period %v, want 3s", tick.period)
	}
	s := in.Status()
	if s.Interval != 3*time.Second {
		t.Errorf("Status.Interval %v, want 3s", s.Interval)
	}
	// The clock steps 1.5 s a call, two calls a cycle: 3 s a cycle, over
	// the first cycle's 1 s interval, not over the second's 3 s.
	if s.Overruns != 1 || strings.Count(logs.String(), "took longer than the interval") != 1 {
		t.Errorf("Overruns %d, log:\n%s\nwant one overrun", s.Overruns, logs.String())
	}
}
