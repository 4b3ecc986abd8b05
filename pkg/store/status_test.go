package store

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/netmon-dev/netmon/pkg/conntrack"
)

// TestIngestStatus records counters through RecordStatus and reads them
// back: written only by a cycle that commits, in its own transaction, and
// kept as given (times at ms, a histogram's buckets and sum).
func TestIngestStatus(t *testing.T) {
	t0 := cycleT0
	full := IngestStatus{
		StartedAt: t0.Add(-time.Hour), Cycles: 12, FailedCycles: 2, Overruns: 1, SkippedLines: 7,
		LastSuccessAt: t0,
		Durations:     Histogram{Bounds: []float64{0.005, 0.5, 10}, Counts: []uint64{3, 10, 11}, Count: 11, Sum: 2.75},
		Commits:       4, CommitErrors: 1, LastCommitAt: t0.Add(-time.Minute),
		Events: EventCounters{Enabled: true, Listening: true, Received: 900, Kept: 800, Folded: 799,
			Overruns: 2, Dropped: 1, Undecoded: 3, Restarts: 1},
	}
	boom := errors.New("conntrack: exit status 1")
	for _, tc := range []struct {
		name    string
		record  *IngestStatus // nil: RecordStatus not called
		readErr error
		want    IngestStatus
	}{
		{name: "never recorded", want: IngestStatus{}},
		{name: "recorded by a cycle", record: &full, want: full},
		{name: "empty histogram", record: &IngestStatus{Cycles: 1, Durations: NewHistogram(0.1, 1)},
			want: IngestStatus{Cycles: 1, Durations: Histogram{Bounds: []float64{0.1, 1}, Counts: []uint64{0, 0}}}},
		{name: "failed cycle writes nothing", record: &full, readErr: boom, want: IngestStatus{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db := openTemp(t)
			ctx := context.Background()
			if tc.record != nil {
				db.RecordStatus(func() IngestStatus { return *tc.record })
			}
			read := func(yield func(*conntrack.Entry, error) bool) {
				f := flowTCP
				if !yield(&f, nil) || tc.readErr == nil {
					return
				}
				yield(nil, tc.readErr)
			}
			if _, _, err := db.Reconcile(ctx, t0, read, 0); !errors.Is(err, tc.readErr) {
				t.Fatalf("Reconcile: %v, want %v", err, tc.readErr)
			}
			got, err := db.IngestStatus(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if tc.want.Durations.Bounds == nil && len(got.Durations.Bounds) == 0 {
				got.Durations = Histogram{}
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("IngestStatus (-want +got):\n%s", diff)
			}
		})
	}
}

// TestHistogramObserve checks the cumulative buckets.
func TestHistogramObserve(t *testing.T) {
	h := NewHistogram(0.01, 0.1, 1)
	for _, v := range []float64{0.001, 0.01, 0.05, 0.5, 3} {
		h.Observe(v)
	}
	want := Histogram{Bounds: []float64{0.01, 0.1, 1}, Counts: []uint64{2, 3, 4}, Count: 5, Sum: 3.561}
	if diff := cmp.Diff(want, h, cmp.Comparer(func(a, b float64) bool { return a-b < 1e-9 && b-a < 1e-9 })); diff != "" {
		t.Errorf("histogram (-want +got):\n%s", diff)
	}
	c := h.Clone()
	c.Observe(0)
	if h.Counts[0] != 2 {
		t.Errorf("Clone shares its counts: %v", h.Counts)
	}
}
