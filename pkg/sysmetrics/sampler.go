package sysmetrics

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// Sampler takes a Snapshot on every tick of its own ticker and hands the
// latest one to any number of readers. A Reader computes rates between
// its consecutive Reads, whoever makes them: a Prometheus scrape just
// before a dashboard poll would leave the poll a rate over a few
// milliseconds, often 0 B/s. A Sampler is the only caller of its Reader,
// so its rates always span two of its own samples, over the time that
// really passed between them, and every reader sees the same figures.
//
// It is safe for concurrent use.
type Sampler struct {
	r *Reader

	mu   sync.Mutex // held while sampling: ticks and a first Read take turns
	snap Snapshot
	err  error
	ok   bool // a sample has been taken

	// sampled, when set (by tests), runs after every sample of the ticker.
	sampled func()
}

// NewSampler returns a Sampler reading through its own Reader for opts.
// Nothing is read until Run ticks or Read is called.
func NewSampler(opts Options) *Sampler {
	return &Sampler{r: NewReader(opts)}
}

// Run takes a sample every period until ctx is done, then returns nil. A
// period that is not positive is an error.
func (s *Sampler) Run(ctx context.Context, every time.Duration) error {
	if every <= 0 {
		return fmt.Errorf("sample every %v: must be > 0", every)
	}
	t := time.NewTicker(every)
	defer t.Stop()
	s.run(ctx, t.C)
	return nil
}

// run takes a sample on every value from ticks until ctx is done.
func (s *Sampler) run(ctx context.Context, ticks <-chan time.Time) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticks:
			s.mu.Lock()
			s.take(ctx) //nolint:errcheck // kept in s.err for the readers
			s.mu.Unlock()
			if s.sampled != nil {
				s.sampled()
			}
		}
	}
}

// Read returns the latest sample, or its error when that sample failed
// (see Reader.Read). Before the first tick it takes the first sample
// itself. Readers share the sample: they must not modify it.
func (s *Sampler) Read(ctx context.Context) (Snapshot, error) {
	if err := ctx.Err(); err != nil {
		return Snapshot{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.ok {
		if err := s.take(ctx); err != nil {
			return Snapshot{}, err
		}
	}
	return s.snap, s.err
}

// take reads a sample and makes it the latest. A read that ctx ended says
// nothing about the machine: it returns ctx's error and keeps nothing.
func (s *Sampler) take(ctx context.Context) error {
	snap, err := s.r.Read(ctx)
	if err != nil && ctx.Err() != nil {
		return err
	}
	s.snap, s.err, s.ok = snap, err, true
	return nil
}
