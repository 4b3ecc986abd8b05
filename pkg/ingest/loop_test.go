package ingest

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/netmon-dev/netmon/pkg/conntrack"
	"github.com/netmon-dev/netmon/pkg/store"
)

// manualTicker is a Ticker the test drives: a tick is sent by hand.
type manualTicker struct {
	c       chan time.Time
	stopped atomic.Bool
	period  time.Duration
}

var _ Ticker = (&manualTicker{}).start

func (m *manualTicker) start(d time.Duration) (<-chan time.Time, func()) {
	m.period = d
	return m.c, func() { m.stopped.Store(true) }
}

// waitFor receives from c or fails after a generous bound: only a broken
// loop waits that long, a working one answers at once.
func waitFor[T any](t *testing.T, c <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-c:
		return v
	case <-time.After(10 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
		panic("unreachable")
	}
}

// TestLoop drives the loop with a manual ticker: a cycle at once, one per
// tick, an error logged and survived, cycles never overlapping, and a
// cancel that waits for the running cycle to finish.
func TestLoop(t *testing.T) {
	var (
		inFlight, overlaps atomic.Int32
		finished           atomic.Int32          // store calls that returned
		entered            = make(chan int)      // the store reports each call number
		release            = make(chan struct{}) // the test lets each call finish
	)
	st := &fakeStore{reconcile: func(ctx context.Context, n int) (store.CycleResult, error) {
		if inFlight.Add(1) > 1 {
			overlaps.Add(1)
		}
		defer inFlight.Add(-1)
		entered <- n
		<-release
		defer finished.Add(1)
		if ctx.Err() != nil {
			return store.CycleResult{}, ctx.Err()
		}
		if n == 2 {
			return store.CycleResult{}, errors.New("disk full")
		}
		return store.CycleResult{RowsWritten: 1}, nil
	}}
	var logs bytes.Buffer
	tick := &manualTicker{c: make(chan time.Time)}
	in := &Ingester{
		Source: &fakeSource{entries: []conntrack.Entry{entry(conntrack.ProtoUDP, "10.0.0.5", 1, "203.0.113.80", 53, 1, 1)}},
		Filter: lanToWAN, Store: st,
		Logger: slog.New(slog.NewTextHandler(&logs, nil)),
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- in.Loop(ctx, 5*time.Second, tick.start) }()

	// Cycle 1 runs at once, before any tick.
	if n := waitFor(t, entered, "cycle 1"); n != 1 {
		t.Fatalf("first call is %d", n)
	}
	// A tick while cycle 1 runs: a loop that started a cycle per tick
	// would run two at once here, which the store counts as an overlap.
	tickSent := make(chan struct{})
	go func() { tick.c <- time.Time{}; close(tickSent) }()
	release <- struct{}{}
	waitFor(t, tickSent, "tick 1 accepted")
	if n := waitFor(t, entered, "cycle 2"); n != 2 {
		t.Fatalf("second call is %d", n)
	}
	release <- struct{}{} // cycle 2 fails; the loop goes on
	tick.c <- time.Time{}
	if n := waitFor(t, entered, "cycle 3"); n != 3 {
		t.Fatalf("third call is %d", n)
	}
	// Cancel while cycle 3 writes: the cycle must finish on a context that
	// is not cancelled (else the store fails it) and Loop must return only
	// after it.
	cancel()
	select {
	case err := <-done:
		t.Fatalf("Loop returned (%v) while a cycle was running", err)
	default:
	}
	release <- struct{}{}
	if err := waitFor(t, done, "Loop to return"); err != nil {
		t.Fatalf("Loop = %v, want nil after cancel", err)
	}
	if n := finished.Load(); n != 3 {
		t.Errorf("Loop returned after %d finished cycles, want 3", n)
	}

	if tick.period != 5*time.Second || !tick.stopped.Load() {
		t.Errorf("ticker period %v, stopped %v; want 5s, true", tick.period, tick.stopped.Load())
	}
	if overlaps.Load() != 0 {
		t.Errorf("%d overlapping cycles", overlaps.Load())
	}
	s := in.Status()
	if s.Cycles != 2 || s.Errors != 1 || s.LastErr != nil || s.LastErrAt.IsZero() {
		t.Errorf("status = %+v; want 2 cycles, 1 error, last cycle ok", s)
	}
	// At INFO: the first cycle, the failure, the recovery (reporter).
	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("%d log lines, want 3:\n%s", len(lines), logs.String())
	}
	for i, want := range []string{`level=INFO msg="first ingest cycle"`, `level=ERROR msg="ingest failing" err="reconcile: disk full" took=`, `level=INFO msg="ingest recovered" failed_cycles=1`} {
		if !strings.Contains(lines[i], want) {
			t.Errorf("log line %d = %q, want %s", i+1, lines[i], want)
		}
	}
}

// TestLoopCancelDuringRead checks a cancel that interrupts the read ends
// the loop without reconciling.
func TestLoopCancelDuringRead(t *testing.T) {
	st := &fakeStore{}
	ctx, cancel := context.WithCancel(context.Background())
	in := &Ingester{Source: &fakeSource{block: true}, Filter: lanToWAN, Store: st,
		Logger: slog.New(slog.NewTextHandler(&bytes.Buffer{}, nil))}
	done := make(chan error, 1)
	go func() { done <- in.Loop(ctx, time.Second, (&manualTicker{c: make(chan time.Time)}).start) }()
	cancel()
	if err := waitFor(t, done, "Loop to return"); err != nil {
		t.Fatalf("Loop = %v", err)
	}
	if n := len(st.Calls()); n != 0 {
		t.Errorf("%d Reconcile calls after a cancelled read, want 0", n)
	}
}

func TestLoopBadInterval(t *testing.T) {
	tests := []struct {
		name     string
		interval time.Duration
	}{
		{"zero", 0},
		{"negative", -time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := &Ingester{Source: &fakeSource{}, Filter: lanToWAN, Store: &fakeStore{}}
			if err := in.Loop(context.Background(), tt.interval, nil); err == nil {
				t.Error("no error")
			}
		})
	}
}

func TestRealTicker(t *testing.T) {
	c, stop := RealTicker(time.Millisecond)
	defer stop()
	waitFor(t, c, "a tick")
}
