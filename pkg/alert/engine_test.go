package alert

import (
	"context"
	"testing"
	"time"
)

// TestFirstStart: the first start is recorded once and kept.
func TestFirstStart(t *testing.T) {
	st := newFakeStore()
	c := &clock{t: t0}
	e := newTestEngine(t, st, c, deviceRules())
	flush(t, e)
	c.Advance(48 * time.Hour)
	e2 := newTestEngine(t, st, c, deviceRules())
	flush(t, e2)
	if !e2.FirstStart().Equal(t0) || !st.has(MemStart, "") {
		t.Errorf("first start after a restart = %v, want %v", e2.FirstStart(), t0)
	}
}

// TestRun: Run writes what an input queued without being asked, keeps
// it while the store fails and writes it once it works, notifies after
// alerts were written, and on cancel writes held alerts at once.
func TestRun(t *testing.T) {
	st := newFakeStore()
	rules := deviceRules()
	rules.LearningPeriod = 0
	rules.NewDevice.Delay = time.Hour
	notified := make(chan struct{}, 10)
	e, err := NewEngine(context.Background(), Options{Rules: rules, Store: st, Notify: func() { notified <- struct{}{} }})
	if err != nil {
		t.Fatal(err)
	}
	st.mu.Lock()
	st.fail = errDown
	st.mu.Unlock()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { e.Run(ctx); close(done) }()
	e.DeviceSeen(Sighting{Device: laptop, At: time.Now()})
	time.Sleep(50 * time.Millisecond)
	st.mu.Lock()
	st.fail = nil
	st.mu.Unlock()
	waitUntil(t, func() bool { return st.has(MemStart, "") }, "the first start written after the store recovered")
	if len(st.stored()) != 0 {
		t.Fatal("a held alert was written before its delay")
	}
	cancel()
	<-done
	if len(st.stored()) != 1 {
		t.Fatalf("after cancel %d alerts stored, want the held one", len(st.stored()))
	}
	select {
	case <-notified:
	default:
		t.Error("no notification after the alert was written")
	}
}

func waitUntil(t *testing.T, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
