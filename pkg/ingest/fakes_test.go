package ingest

import (
	"context"
	"net/netip"
	"sync"
	"time"

	"github.com/netmon-dev/netmon/pkg/conntrack"
	"github.com/netmon-dev/netmon/pkg/filter"
	"github.com/netmon-dev/netmon/pkg/store"
)

// Compile-time checks: the fakes and the real types satisfy the interfaces.
var (
	_ Source     = (*fakeSource)(nil)
	_ Classifier = fakeClassifier(nil)
	_ Store      = (*fakeStore)(nil)
	_ Store      = (*store.DB)(nil)
	_ Source     = (*conntrack.Snapshot)(nil)
	_ Source     = (*conntrack.FileSource)(nil)
	_ Classifier = (*filter.Filter)(nil)
)

// fakeSource replays entries, then returns stats and err. With block set,
// Read waits for ctx to be done before returning ctx's error.
type fakeSource struct {
	entries []conntrack.Entry
	stats   conntrack.Stats
	err     error
	block   bool
}

func (s *fakeSource) Read(ctx context.Context, fn func(*conntrack.Entry)) (conntrack.Stats, error) {
	for i := range s.entries {
		e := s.entries[i] // a copy: fn must not keep the pointer
		fn(&e)
	}
	if s.block {
		<-ctx.Done()
		return s.stats, ctx.Err()
	}
	return s.stats, s.err
}

// fakeClassifier is a function deciding what is outbound.
type fakeClassifier func(*conntrack.Entry) bool

func (f fakeClassifier) Outbound(e *conntrack.Entry) bool { return f(e) }

// lanToWAN keeps entries from 10.0.0.0/24 to anything outside it.
var lanToWAN = fakeClassifier(func(e *conntrack.Entry) bool {
	lan := netip.MustParsePrefix("10.0.0.0/24")
	return lan.Contains(e.Orig.Src) && !lan.Contains(e.Orig.Dst)
})

// reconcileCall is what one Store.ReconcileFunc call received: the
// flows its read added, copied.
type reconcileCall struct {
	Now       time.Time
	Flows     []store.Flow
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

func (s *fakeStore) ReconcileFunc(ctx context.Context, now time.Time, read store.ReadFunc, retention time.Duration) (store.CycleResult, error) {
	var flows []store.Flow
	if err := read(func(f *store.Flow) { flows = append(flows, *f) }); err != nil {
		s.mu.Lock()
		s.aborted++
		s.mu.Unlock()
		return store.CycleResult{}, err
	}
	s.mu.Lock()
	s.calls = append(s.calls, reconcileCall{now, flows, retention})
	n := len(s.calls)
	s.mu.Unlock()
	if s.reconcile != nil {
		return s.reconcile(ctx, n)
	}
	return store.CycleResult{Opened: len(flows), RowsWritten: len(flows) + 1}, nil
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

// entry builds a conntrack entry for the tests.
func entry(proto uint8, src string, sport uint16, dst string, dport uint16, upB, downB uint64) conntrack.Entry {
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
