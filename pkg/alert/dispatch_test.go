package alert

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// outbox stores n test alerts for the sinks, written at at.
func outbox(st *fakeStore, at time.Time, n int, sinks ...string) []string {
	var ids []string
	for i := range n {
		id := fmt.Sprintf("a%02d", i)
		st.insert(Alert{ID: id, Kind: NewDevice, At: at, Title: id}, sinks, at)
		ids = append(ids, id)
	}
	return ids
}

func newTestDispatcher(t *testing.T, st *fakeStore, c *clock, sinks ...SinkConfig) *Dispatcher {
	t.Helper()
	d, err := NewDispatcher(DispatcherOptions{Outbox: st, Sinks: sinks, Now: c.Now,
		Backoff: Backoff{Base: 10 * time.Second, Max: time.Minute, GiveUpAfter: time.Hour}})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func pass(t *testing.T, d *Dispatcher, sink string) time.Time {
	t.Helper()
	next, err := d.Pass(context.Background(), sink)
	if err != nil {
		t.Fatal(err)
	}
	return next
}

func TestDispatchRetries(t *testing.T) {
	st := newFakeStore()
	c := &clock{t: t0}
	ids := outbox(st, t0, 3, "hook")
	down := true
	sink := &fakeSink{fail: func(a Alert) error {
		switch {
		case a.ID == "a02":
			return Permanent(errors.New("answered 400"))
		case down:
			return errDown
		}
		return nil
	}}
	d := newTestDispatcher(t, st, c, SinkConfig{Name: "hook", Sink: sink})
	if next := pass(t, d, "hook"); !next.Equal(t0.Add(10 * time.Second)) {
		t.Errorf("next pass after the first failures = %v, want +10s", next)
	}
	c.Advance(5 * time.Second)
	pass(t, d, "hook") // nothing due yet
	c.Advance(5 * time.Second)
	if next := pass(t, d, "hook"); !next.Equal(t0.Add(30 * time.Second)) {
		t.Errorf("next pass after the second failures = %v, want +30s (backoff doubled)", next)
	}
	down = false
	c.Advance(20 * time.Second)
	if next := pass(t, d, "hook"); !next.IsZero() {
		t.Errorf("next pass with nothing pending = %v", next)
	}
	want := []string{"a00 hook delivered", "a01 hook delivered", "a02 hook failed"}
	if diff := cmp.Diff(want, st.states()); diff != "" {
		t.Errorf("states (-want +got)\n%s", diff)
	}
	if diff := cmp.Diff(ids[:2], sink.ids()); diff != "" {
		t.Errorf("sink got (-want +got)\n%s", diff)
	}
	if a := st.dels[[2]string{"a00", "hook"}].attempts; a != 3 {
		t.Errorf("attempts of a00 = %d, want 3", a)
	}
}

func TestDispatchGivesUp(t *testing.T) {
	st := newFakeStore()
	c := &clock{t: t0}
	outbox(st, t0, 1, "hook")
	d := newTestDispatcher(t, st, c, SinkConfig{Name: "hook", Sink: &fakeSink{fail: func(Alert) error { return errDown }}})
	for range 100 {
		next := pass(t, d, "hook")
		if next.IsZero() {
			break
		}
		c.t = next
	}
	if diff := cmp.Diff([]string{"a00 hook failed"}, st.states()); diff != "" {
		t.Errorf("states (-want +got)\n%s", diff)
	}
	if c.Now().Sub(t0) < time.Hour || c.Now().Sub(t0) > time.Hour+time.Minute {
		t.Errorf("gave up after %v, want about GiveUpAfter (1h)", c.Now().Sub(t0))
	}
}

type retryAfterErr struct{}

func (retryAfterErr) Error() string             { return "answered 429" }
func (retryAfterErr) RetryAfter() time.Duration { return 45 * time.Second }

func TestDispatchRetryAfter(t *testing.T) {
	st := newFakeStore()
	c := &clock{t: t0}
	outbox(st, t0, 1, "hook")
	d := newTestDispatcher(t, st, c, SinkConfig{Name: "hook", Sink: &fakeSink{fail: func(Alert) error { return retryAfterErr{} }}})
	if next := pass(t, d, "hook"); !next.Equal(t0.Add(45 * time.Second)) {
		t.Errorf("next = %v, want Retry-After's 45s", next.Sub(t0))
	}
}

// TestDispatchRateLimit: 12 alerts at once to a sink allowing 5 a minute:
// 4 go out and a summary of the other 8; nothing more in that minute;
// the next minute's alerts go out again.
func TestDispatchRateLimit(t *testing.T) {
	st := newFakeStore()
	c := &clock{t: t0}
	ids := outbox(st, t0, 12, "hook", "log")
	sink, logSink := &fakeSink{}, &fakeSink{}
	d := newTestDispatcher(t, st, c, SinkConfig{Name: "hook", Sink: sink, RateLimit: 5}, SinkConfig{Name: "log", Sink: logSink, RateLimit: 100})
	pass(t, d, "hook")
	pass(t, d, "log")
	got := sink.ids()
	if len(got) != 5 || !strings.HasPrefix(sink.got[4].Title, "8 more netmon alerts") {
		t.Fatalf("hook got %v (%q), want 4 alerts and a summary of 8", got, titles(sink.got))
	}
	if diff := cmp.Diff(ids[:4], got[:4]); diff != "" {
		t.Errorf("the first alerts (-want +got)\n%s", diff)
	}
	f := sink.got[4].Folded
	if f == nil || f.Count != 8 || f.Kinds[NewDevice] != 8 || cmp.Diff(ids[4:], f.IDs) != "" {
		t.Errorf("summary folds %+v", f)
	}
	if len(logSink.ids()) != 12 {
		t.Errorf("the log sink's limit is its own: it got %d, want 12", len(logSink.ids()))
	}
	// Two more within the minute wait for it to end, then go out alone.
	st.insert(Alert{ID: "late1", Kind: Quota, At: t0}, []string{"hook"}, c.Advance(10*time.Second))
	st.insert(Alert{ID: "late2", Kind: Quota, At: t0}, []string{"hook"}, c.Now())
	if next := pass(t, d, "hook"); !next.Equal(t0.Add(time.Minute)) {
		t.Errorf("next pass with the minute full = %v, want its end", next.Sub(t0))
	}
	c.t = t0.Add(time.Minute)
	pass(t, d, "hook")
	if got := sink.ids(); len(got) != 7 || got[5] != "late1" || got[6] != "late2" {
		t.Errorf("after the minute the sink got %v", got)
	}
}

// TestDispatchRun: with real time, a sink that hangs past its timeout
// does not delay another sink, and is retried.
func TestDispatchRun(t *testing.T) {
	st := newFakeStore()
	outbox(st, time.Now(), 2, "slow", "fast")
	slowCalls := make(chan struct{}, 10)
	hang := sinkFunc(func(ctx context.Context, a Alert) error {
		slowCalls <- struct{}{}
		<-ctx.Done()
		return ctx.Err()
	})
	fast := &fakeSink{}
	d, err := NewDispatcher(DispatcherOptions{Outbox: st, Sinks: []SinkConfig{
		{Name: "slow", Sink: hang, Timeout: 50 * time.Millisecond},
		{Name: "fast", Sink: fast},
	}, Backoff: Backoff{Base: 20 * time.Millisecond, Max: time.Second, GiveUpAfter: time.Hour}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { d.Run(ctx); close(done) }()
	deadline := time.Now().Add(5 * time.Second)
	for len(fast.ids()) < 2 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if len(fast.ids()) != 2 {
		t.Errorf("the fast sink got %v", fast.ids())
	}
	for i := 0; i < 3; i++ {
		select {
		case <-slowCalls:
		case <-time.After(5 * time.Second):
			t.Fatalf("the hanging sink was tried %d times, want retries", i)
		}
	}
	cancel()
	<-done
	st.mu.Lock()
	defer st.mu.Unlock()
	if d := st.dels[[2]string{"a00", "slow"}]; d.state != Pending || !strings.Contains(d.err, "no answer within 50ms") {
		t.Errorf("the hanging sink's delivery: %+v", d)
	}
}

type sinkFunc func(context.Context, Alert) error

func (f sinkFunc) Send(ctx context.Context, a Alert) error { return f(ctx, a) }

func TestBackoffWait(t *testing.T) {
	b := Backoff{Base: 10 * time.Second, Max: time.Minute}
	var got []time.Duration
	for n := 1; n <= 5; n++ {
		got = append(got, b.wait(n))
	}
	want := []time.Duration{10 * time.Second, 20 * time.Second, 40 * time.Second, time.Minute, time.Minute}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("waits (-want +got)\n%s", diff)
	}
}

// TestDirect: an alert the outbox cannot take (the record is what
// failed) is sent from memory at once, and again from the outbox, under
// the same id, once the record can be written.
func TestDirect(t *testing.T) {
	st := newFakeStore()
	st.fail = errDown
	sink := &fakeSink{}
	d, err := NewDispatcher(DispatcherOptions{Outbox: st, Sinks: []SinkConfig{{Name: "hook", Sink: sink}}})
	if err != nil {
		t.Fatal(err)
	}
	rules := Rules{Sinks: []string{"hook"}, Health: HealthRule{Enabled: true, After: time.Minute}}
	e, err := NewEngine(context.Background(), Options{Rules: rules, Store: st, Notify: d.Notify, Direct: d.Direct})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go d.Run(ctx)
	since := time.Now().Add(-2 * time.Minute)
	e.HealthSeen(HealthReport{At: time.Now(), FailingSince: since, Err: "commit: database /var/lib/netmon/netmon.db: not writable"})
	for range 3 {
		if err := e.Flush(ctx); err == nil {
			t.Fatal("flush into a failing store succeeded")
		}
	}
	waitUntil(t, func() bool { return len(sink.ids()) == 1 }, "the alert sent from memory")
	st.mu.Lock()
	st.fail = nil
	st.mu.Unlock()
	flush(t, e)
	waitUntil(t, func() bool { return len(sink.ids()) == 2 }, "the alert sent from the outbox")
	time.Sleep(50 * time.Millisecond)
	if ids := sink.ids(); len(ids) != 2 || ids[0] != ids[1] {
		t.Errorf("sink got %v, want one id twice (from memory, then from the outbox)", ids)
	}
}
