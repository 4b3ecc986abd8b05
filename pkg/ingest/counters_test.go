package ingest

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/netmon-dev/netmon/pkg/conntrack"
	"github.com/netmon-dev/netmon/pkg/store"
)

// TestCountersInTheLiveState runs cycles into a real live state that
// records CycleCounters, and reads back what another process would: after
// a successful cycle the row is the ingester's own counters, except that
// the histogram lacks that cycle (its duration was not known yet); a
// failed cycle leaves the row as it was, and the next successful one
// brings its failure.
func TestCountersInTheLiveState(t *testing.T) {
	ctx := context.Background()
	db, err := store.OpenLive(ctx, filepath.Join(t.TempDir(), "live.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	out := entry(conntrack.ProtoTCP, "10.0.0.5", 40000, "203.0.113.80", 443, 1000, 5000)
	clock := &stepClock{t: t0, step: 10 * time.Millisecond}
	src := &fakeSource{}
	in := &Ingester{Source: src, Filter: lanToWAN, Store: db, Now: clock.Now}
	db.RecordStatus(in.CycleCounters)

	steps := []struct {
		name    string
		skipped int
		err     error
		cycles  int64 // want: all cycles in the row
		failed  int64
		skip    int64
	}{
		{name: "first", skipped: 2, cycles: 1, skip: 2},
		{name: "failure", err: errors.New("runner killed"), cycles: 1, skip: 2},
		{name: "recovered", skipped: 1, cycles: 3, failed: 1, skip: 3},
		{name: "clean", cycles: 4, failed: 1, skip: 3},
	}
	before := store.NewHistogram(CycleDurationBuckets...)
	for _, st := range steps {
		*src = fakeSource{entries: []conntrack.Entry{out}, stats: conntrack.Stats{Entries: 1, Lines: 1 + st.skipped, Skipped: st.skipped}, err: st.err}
		_, cerr := in.ReconcileSnapshot(ctx)
		if (cerr != nil) != (st.err != nil) {
			t.Fatalf("%s: cycle error %v", st.name, cerr)
		}
		got, err := db.IngestStatus(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if got.Cycles != st.cycles || got.FailedCycles != st.failed || got.SkippedLines != st.skip {
			t.Errorf("%s: row cycles=%d failed=%d skipped=%d, want %d %d %d", st.name,
				got.Cycles, got.FailedCycles, got.SkippedLines, st.cycles, st.failed, st.skip)
		}
		want := in.Counters()
		want.Durations, before = before, want.Durations
		if st.err != nil {
			continue
		}
		if diff := cmp.Diff(want, got, cmpopts.IgnoreFields(store.IngestStatus{}, "LastSuccessAt"), cmpopts.EquateApprox(0, 1e-9)); diff != "" {
			t.Errorf("%s: row (-ingester +row):\n%s", st.name, diff)
		}
		if got.LastSuccessAt.IsZero() || got.LastSuccessAt.After(in.Status().LastOK) {
			t.Errorf("%s: last success %v, want by %v", st.name, got.LastSuccessAt, in.Status().LastOK)
		}
	}
	if c := in.Counters(); c.Durations.Count != 4 || c.StartedAt.IsZero() {
		t.Errorf("histogram count %d, started %v; want every cycle, failed ones too, and a start", c.Durations.Count, c.StartedAt)
	}
}
