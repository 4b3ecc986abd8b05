package ingest

import (
	"context"
	"errors"
	"iter"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/netmon-dev/netmon/pkg/conntrack"
	"github.com/netmon-dev/netmon/pkg/flows"
	"github.com/netmon-dev/netmon/pkg/history"
	"github.com/netmon-dev/netmon/pkg/store"
)

// stepSource lists its snapshots one per List, repeating the last.
type stepSource struct {
	mu    sync.Mutex
	snaps [][]conntrack.Entry
	n     int
}

func (s *stepSource) List(ctx context.Context, st *conntrack.Stats) iter.Seq2[*conntrack.Entry, error] {
	s.mu.Lock()
	snap := s.snaps[min(s.n, len(s.snaps)-1)]
	s.n++
	s.mu.Unlock()
	return (&fakeSource{entries: snap, stats: conntrack.Stats{Entries: len(snap), Lines: len(snap), Reported: -1}}).List(ctx, st)
}

// recordingCommitter keeps the totals of every batch it was given and
// fails its first fail calls.
type recordingCommitter struct {
	mu     sync.Mutex
	fail   int
	calls  int
	totals []history.Usage // the device's lifetime growth per successful commit
	done   chan struct{}
}

func (c *recordingCommitter) Commit(_ context.Context, _ time.Time, b *history.Batch) error {
	c.mu.Lock()
	defer func() {
		c.mu.Unlock()
		c.done <- struct{}{}
	}()
	if b == nil {
		return nil // nothing pending: no growth to check
	}
	c.calls++
	if c.calls <= c.fail {
		return errors.New("flash is read-only")
	}
	c.totals = append(c.totals, b.Totals["ip:10.0.0.5"])
	return nil
}

// commitRig is a loop over a real live store, a flow that grows every
// snapshot, and tickers the test drives: one for cycles, one for commits.
type commitRig struct {
	in              *Ingester
	cycles, commits chan time.Time
	now             chan struct{}
	observed        chan struct{}
	committer       *recordingCommitter
	cancel          func()
	done            chan error
	cycleD, commitD time.Duration
}

func newCommitRig(t *testing.T, fail int, baseline bool, bytes ...uint64) *commitRig {
	t.Helper()
	db, err := store.OpenLive(context.Background(), filepath.Join(t.TempDir(), "live.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	src := &stepSource{}
	for _, b := range bytes {
		src.snaps = append(src.snaps, []conntrack.Entry{entry(conntrack.ProtoTCP, "10.0.0.5", 40000, "203.0.113.80", 443, b, 2*b)})
	}
	r := &commitRig{
		cycles: make(chan time.Time), commits: make(chan time.Time), now: make(chan struct{}),
		observed:  make(chan struct{}, 16),
		committer: &recordingCommitter{fail: fail, done: make(chan struct{}, 16)},
		done:      make(chan error, 1), cycleD: time.Second, commitD: 5 * time.Minute,
	}
	clock := &stepClock{t: t0, step: time.Second}
	r.in = &Ingester{
		Source: src, Filter: lanToWAN, Store: db, Now: clock.Now, Logger: slog.New(slog.DiscardHandler),
		History: &history.Accumulator{}, Committer: r.committer,
		CommitInterval: r.commitD, CommitNow: r.now, Baseline: baseline,
		Observe: func(time.Time, *flows.Delta) { r.observed <- struct{}{} },
	}
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	go func() { r.done <- r.in.Loop(ctx, r.cycleD, r.tick) }()
	t.Cleanup(cancel)
	return r
}

func (r *commitRig) tick(d time.Duration) (<-chan time.Time, func()) {
	if d == r.commitD {
		return r.commits, func() {}
	}
	return r.cycles, func() {}
}

// TestLoopCommits: commits on the commit ticker and on request, a failed
// commit keeps its growth for the next, and the loop's end commits what is
// left: every byte once.
func TestLoopCommits(t *testing.T) {
	r := newCommitRig(t, 1, false, 100, 150, 170)
	waitFor(t, r.observed, "the first cycle")
	r.commits <- t0
	waitFor(t, r.committer.done, "the failing commit")
	r.cycles <- t0
	waitFor(t, r.observed, "the second cycle")
	r.now <- struct{}{}
	waitFor(t, r.committer.done, "the requested commit")
	r.cycles <- t0
	waitFor(t, r.observed, "the third cycle")
	r.cancel()
	waitFor(t, r.committer.done, "the final commit")
	if err := waitFor(t, r.done, "the loop's end"); err != nil {
		t.Fatal(err)
	}
	want := []history.Usage{
		{Counters: conntrack.Counters{UplinkBytes: 150, DownlinkBytes: 300, UplinkPackets: 1, DownlinkPackets: 1}, Connections: 1},
		{Counters: conntrack.Counters{UplinkBytes: 20, DownlinkBytes: 40}},
	}
	if got := r.committer.totals; len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("committed %+v, want %+v", got, want)
	}
	st := r.in.Status()
	if st.Commits != 2 || st.CommitErrors != 1 || st.LastCommitErr != nil {
		t.Errorf("status: %d commits, %d errors, last %v", st.Commits, st.CommitErrors, st.LastCommitErr)
	}
}

// TestBaseline: with Baseline set, the first cycle's counters (possibly
// counted before a restart that lost the live state) are not history; the
// growth after them is.
func TestBaseline(t *testing.T) {
	r := newCommitRig(t, 0, true, 100, 130)
	waitFor(t, r.observed, "the first cycle")
	r.cycles <- t0
	waitFor(t, r.observed, "the second cycle")
	r.cancel()
	waitFor(t, r.committer.done, "the final commit")
	<-r.done
	if got := r.committer.totals; len(got) != 1 || got[0].UplinkBytes != 30 || got[0].Connections != 0 {
		t.Errorf("committed %+v, want only the 30 bytes after the baseline", got)
	}
}
