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
// before a dashboard poll leaves the poll a rate over a few milliseconds,
// often 0 B/s. A Sampler is the only caller of its Reader, so its rates
// always span two of its own samples, over the time that really passed
// between them, and every reader sees the same figures.
//
// It is safe for concurrent use.
type Sampler struct {
	r *Reader

	// sampling serialises samples, so the Reader's rate chain only ever
	// moves forward and the first Read cannot race the first tick.
	sampling sync.Mutex

	mu   sync.Mutex // guards the latest sample
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
			_, _ = s.sample(ctx, false)
			if s.sampled != nil {
				s.sampled()
			}
		}
	}
}

// Read returns the latest sample, or its error when that sample failed
// (see Reader.Read). Before the first tick it takes the first sample
// itself, once: later Reads return that one until the ticker replaces it.
// The result is the caller's to keep or change.
func (s *Sampler) Read(ctx context.Context) (Snapshot, error) {
	if err := ctx.Err(); err != nil {
		return Snapshot{}, err
	}
	if snap, ok, err := s.latest(); ok {
		return snap, err
	}
	return s.sample(ctx, true)
}

// latest returns a copy of the latest sample, and false before the first.
func (s *Sampler) latest() (Snapshot, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.snap.clone(), s.ok, s.err
}

// sample takes a Snapshot and makes it the latest. With first set it
// takes one only when there is none yet. A read that ctx ended says
// nothing about the machine and leaves the latest sample as it was.
func (s *Sampler) sample(ctx context.Context, first bool) (Snapshot, error) {
	s.sampling.Lock()
	defer s.sampling.Unlock()
	if first {
		if snap, ok, err := s.latest(); ok {
			return snap, err
		}
	}
	snap, err := s.r.Read(ctx)
	if err != nil && ctx.Err() != nil {
		return Snapshot{}, err
	}
	s.mu.Lock()
	s.snap, s.err, s.ok = snap, err, true
	s.mu.Unlock()
	return snap.clone(), err
}

// clone copies s deeply enough that changing the copy leaves s alone.
func (s Snapshot) clone() Snapshot {
	c := s
	if s.Interfaces != nil {
		c.Interfaces = make([]Interface, len(s.Interfaces))
		for i, it := range s.Interfaces {
			it.RxRate, it.TxRate = clonePtr(it.RxRate), clonePtr(it.TxRate)
			c.Interfaces[i] = it
		}
	}
	c.Conntrack = clonePtr(s.Conntrack)
	return c
}

func clonePtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}
