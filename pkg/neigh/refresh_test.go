package neigh

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/netmon-dev/netmon/pkg/device"
)

// fakeReader returns its readings in turn (the last one again), or err.
type fakeReader struct {
	mu    sync.Mutex
	reads int
	err   error
	table []device.Neighbour
}

var _ Reader = (*fakeReader)(nil)

func (f *fakeReader) Read(context.Context) ([]device.Neighbour, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reads++
	return f.table, f.err
}

type fakeWatcher struct{ ch chan struct{} }

var _ Watcher = (*fakeWatcher)(nil)

func (w *fakeWatcher) Changes(context.Context) (<-chan struct{}, error) { return w.ch, nil }

func TestRefresherTicksAndWatches(t *testing.T) {
	r := &fakeReader{table: []device.Neighbour{nb("10.0.0.5", "52:54:00:12:34:56", "lan0")}}
	w := &fakeWatcher{ch: make(chan struct{}, 1)}
	got := make(chan int, 100)
	ref := &Refresher{
		Reader: r, Watcher: w,
		Observe:  func(ns []device.Neighbour, _ time.Time) { got <- len(ns) },
		Interval: time.Hour, Debounce: 10 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- ref.Run(ctx) }()
	if n := <-got; n != 1 {
		t.Fatalf("first reading has %d neighbours", n)
	}
	// A burst of changes is one more reading after the debounce.
	for range 3 {
		select {
		case w.ch <- struct{}{}:
		default:
		}
	}
	select {
	case <-got:
	case <-time.After(5 * time.Second):
		t.Fatal("no reading after a change")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run = %v", err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.reads != 2 {
		t.Errorf("%d reads, want 2 (start, one per burst)", r.reads)
	}
}

func TestRefresherSurvivesErrors(t *testing.T) {
	r := &fakeReader{err: errors.New("boom")}
	var mu sync.Mutex
	observed := 0
	ref := &Refresher{
		Reader:   r,
		Observe:  func([]device.Neighbour, time.Time) { mu.Lock(); observed++; mu.Unlock() },
		Interval: 5 * time.Millisecond,
		Logger:   slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := ref.Run(ctx); err != nil {
		t.Fatal(err)
	}
	r.mu.Lock()
	reads := r.reads
	r.mu.Unlock()
	if reads < 3 || observed != 0 {
		t.Errorf("%d reads, %d observed; want several reads and nothing observed", reads, observed)
	}
}
