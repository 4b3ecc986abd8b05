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
// cycle does not move it for long, and it comes back when the table
// shrinks. The first (cold) cycle is no sample at all.
func TestPace(t *testing.T) {
	ms := time.Millisecond
	// over is the interval a cost needs under a 10% budget, with the
	// headroom: a tenth of the cost is 90% of the budget.
	over := func(cost time.Duration) time.Duration {
		return (time.Duration(float64(cost)/(0.1*paceHeadroom)) + time.Millisecond - 1).Truncate(time.Millisecond)
	}
	tests := []struct {
		name   string
		budget float64
		costs  []time.Duration
		want   []time.Duration // after each cost
	}{
		{"cheap polls keep the interval", 0.1, []time.Duration{10 * ms, 50 * ms, 89 * ms},
			[]time.Duration{time.Second, time.Second, time.Second}},
		{"a big table stretches it", 0.1, []time.Duration{300 * ms, 300 * ms, 300 * ms},
			[]time.Duration{over(300 * ms), over(300 * ms), over(300 * ms)}},
		{"one slow cycle is outvoted", 0.1, []time.Duration{2 * time.Second, 50 * ms, 50 * ms, 50 * ms},
			[]time.Duration{over(2 * time.Second), over(2 * time.Second), time.Second, time.Second}},
		{"a shrinking table brings it back", 0.1, []time.Duration{500 * ms, 500 * ms, 500 * ms, 10 * ms, 10 * ms, 10 * ms},
			[]time.Duration{over(500 * ms), over(500 * ms), over(500 * ms), over(500 * ms), over(500 * ms), time.Second}},
		{"never beyond the cap", 0.1, []time.Duration{time.Hour}, []time.Duration{maxInterval}},
		{"no budget, no stretching", 0, []time.Duration{time.Hour}, []time.Duration{time.Second}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := pace{base: time.Second, budget: tc.budget}
			if first := p.observe(time.Hour); first != time.Second {
				t.Errorf("after the cold first cycle: %v, want the configured 1s", first)
			}
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

// TestLoopStretchesAndReports: cycles that cost 270 ms of CPU under a 10%
// budget make the loop wait 3 s between reads (270 ms is 90% of the
// budget's share of 3 s; the ticker restarted with that period,
// Status.Interval saying so), and a cycle that takes longer than its
// interval is counted, and logged once for a run of them.
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
		CPU: stepCPU(270 * time.Millisecond), PollCPUBudget: 0.1,
		Logger: slog.New(slog.NewTextHandler(&logs, nil))}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- in.Loop(ctx, time.Second, tick.start) }()
	waitFor(t, entered, "cycle 1") // cold: no sample
	tick.c <- time.Time{}
	waitFor(t, entered, "cycle 2")
	tick.c <- time.Time{}
	waitFor(t, entered, "cycle 3")
	cancel()
	waitFor(t, done, "Loop to return")

	// stepCPU advances 270 ms a call: a cycle costs the difference.
	if tick.period != 3*time.Second {
		t.Errorf("ticker period %v, want 3s", tick.period)
	}
	s := in.Status()
	if s.Interval != 3*time.Second {
		t.Errorf("Status.Interval %v, want 3s", s.Interval)
	}
	// The clock steps 1.5 s a call, two calls a cycle: 3 s a cycle, over
	// the first two cycles' 1 s interval, not over the third's 3 s.
	if s.Overruns != 2 || strings.Count(logs.String(), "took longer than the interval") != 1 {
		t.Errorf("Overruns %d, log:\n%s\nwant two overruns, said once", s.Overruns, logs.String())
	}
}
