package ingest

import (
	"context"
	"iter"
	"net/netip"
	"sync"
	"time"

	"github.com/netmon-dev/netmon/pkg/conntrack"
	"github.com/netmon-dev/netmon/pkg/filter"
	"github.com/netmon-dev/netmon/pkg/flows"
	"github.com/netmon-dev/netmon/pkg/source"
	"github.com/netmon-dev/netmon/pkg/store"
)

// Compile-time checks: the fakes and the real types satisfy the interfaces.
var (
	_ Source     = (*fakeSource)(nil)
	_ Classifier = fakeClassifier(nil)
	_ Store      = (*fakeStore)(nil)
	_ Store      = (*store.Live)(nil)
	_ Source     = (*source.Conntrack)(nil)
	_ Source     = (*source.File)(nil)
	_ Classifier = (*filter.Filter)(nil)
)

// fakeSource yields entries, then sets stats and yields err if not nil.
// With block set, it waits for ctx to be done and yields ctx's error.
type fakeSource struct {
	entries []conntrack.Entry
	stats   conntrack.Stats
	err     error
	block   bool
}

func (s *fakeSource) List(ctx context.Context, st *conntrack.Stats) iter.Seq2[*conntrack.Entry, error] {
	return func(yield func(*conntrack.Entry, error) bool) {
		for i := range s.entries {
			e := s.entries[i] // a copy: the consumer must not keep the pointer
			if !yield(&e, nil) {
				return
			}
		}
		*st = s.stats
		err := s.err
		if s.block {
			<-ctx.Done()
			err = ctx.Err()
		}
		if err != nil {
			yield(nil, err)
		}
	}
}

// fakeClassifier is a function deciding what is outbound.
type fakeClassifier func(*conntrack.Entry) bool

func (f fakeClassifier) Outbound(e *conntrack.Entry) bool { return f(e) }

// lanToWAN keeps entries from 10.0.0.0/24 to anything outside it.
var lanToWAN = fakeClassifier(func(e *conntrack.Entry) bool {
	lan := netip.MustParsePrefix("10.0.0.0/24")
	return lan.Contains(e.Orig.Src) && !lan.Contains(e.Orig.Dst)
})

// reconcileCall is what one Store.Reconcile call received: the entries
// of its read, copied.
type reconcileCall struct {
	Now       time.Time
	Flows     []conntrack.Entry
	Retention time.Duration
}

// fakeStore records the cycles whose read succeeded, as a store commits
// them; a failed read is counted in aborted and its error returned
// unchanged, as store.DB does. reconcile, when set, decides the answer of
// a cycle whose read succeeded.
type fakeStore struct {
	mu        sync.Mutex
	calls     []reconcileCall
	aborted   int
	reconcile func(ctx context.Context, n int) (store.CycleResult, error) // n: 1-based call number
}

func (s *fakeStore) Reconcile(ctx context.Context, now time.Time, read iter.Seq2[*conntrack.Entry, error], retention time.Duration) (store.CycleResult, *flows.Delta, error) {
	var es []conntrack.Entry
	for e, err := range read {
		if err != nil {
			s.mu.Lock()
			s.aborted++
			s.mu.Unlock()
			return store.CycleResult{}, nil, err
		}
		es = append(es, *e)
	}
	s.mu.Lock()
	s.calls = append(s.calls, reconcileCall{now, es, retention})
	n := len(s.calls)
	s.mu.Unlock()
	if s.reconcile != nil {
		res, err := s.reconcile(ctx, n)
		return res, nil, err
	}
	return store.CycleResult{Opened: len(es), RowsWritten: len(es) + 1}, nil, nil
}

// Aborted is the number of cycles whose read failed.
func (s *fakeStore) Aborted() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.aborted
}

func (s *fakeStore) Calls() []reconcileCall {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]reconcileCall(nil), s.calls...)
}

// stepClock is a fake clock that advances by step on every call.
type stepClock struct {
	mu   sync.Mutex
	t    time.Time
	step time.Duration
}

func (c *stepClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.t
	c.t = c.t.Add(c.step)
	return now
}

// stepCPU is a fake CPU clock that advances by step on every call, so a
// cycle costs step.
func stepCPU(step time.Duration) func() time.Duration {
	var mu sync.Mutex
	var t time.Duration
	return func() time.Duration {
		mu.Lock()
		defer mu.Unlock()
		t += step
		return t
	}
}

// entry builds a conntrack entry for the tests.
func entry(proto conntrack.Proto, src string, sport uint16, dst string, dport uint16, upB, downB uint64) conntrack.Entry {
	return conntrack.Entry{
		Proto: proto,
		Orig: conntrack.Tuple{
			Src: netip.MustParseAddr(src), Dst: netip.MustParseAddr(dst),
			SrcPort: sport, DstPort: dport, Packets: 1, Bytes: upB,
		},
		Reply: conntrack.Tuple{
			Src: netip.MustParseAddr(dst), Dst: netip.MustParseAddr(src),
			SrcPort: dport, DstPort: sport, Packets: 1, Bytes: downB,
		},
	}
}
