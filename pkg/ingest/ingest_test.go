package ingest

import (
	"bytes"
	"context"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/netmon-dev/netmon/pkg/conntrack"
	"github.com/netmon-dev/netmon/pkg/store"
)

var addrOpts = cmpopts.EquateComparable(netip.Addr{}, netip.Prefix{})

var t0 = time.Date(2026, 11, 25, 17, 0, 0, 0, time.UTC)

func TestReconcileSnapshot(t *testing.T) {
	out1 := entry(conntrack.ProtoTCP, "10.0.0.5", 40000, "203.0.113.80", 443, 1000, 5000)
	out2 := entry(conntrack.ProtoUDP, "10.0.0.6", 5353, "203.0.113.81", 53, 60, 120)
	lanOnly := entry(conntrack.ProtoTCP, "10.0.0.5", 22, "10.0.0.1", 22, 10, 10)
	parseErr := &conntrack.ParseError{Line: 3, Column: 7, Field: "src", Reason: "bad address"}
	storeErr := errors.New("disk full")
	readErr := errors.New("conntrack: exit status 1")

	tests := []struct {
		name      string
		source    *fakeSource
		store     func(context.Context, int) (store.CycleResult, error)
		wantErr   error // errors.Is target, nil for success
		wantCalls int   // cycles whose read succeeded
		aborted   int   // cycles the store rolled back for a failed read
		wantFlows []conntrack.Entry
		want      Summary
	}{
		{
			name: "outbound kept, rest counted",
			source: &fakeSource{entries: []conntrack.Entry{out1, lanOnly, out2},
				stats: conntrack.Stats{Lines: 4, Entries: 3, Skipped: 1, Errors: []*conntrack.ParseError{parseErr}, Reported: 4}},
			wantCalls: 1,
			wantFlows: []conntrack.Entry{out1, out2},
			want: Summary{Entries: 3, Outbound: 2, Skipped: 1, Reported: 4, ParseErrors: []*conntrack.ParseError{parseErr},
				CycleResult: store.CycleResult{Opened: 2, RowsWritten: 3}, Took: 2 * time.Second, CPU: time.Millisecond},
		},
		{
			name:      "empty snapshot is reconciled",
			source:    &fakeSource{stats: conntrack.Stats{Reported: 0}},
			wantCalls: 1,
			want:      Summary{Reported: 0, CycleResult: store.CycleResult{RowsWritten: 1}, Took: 2 * time.Second, CPU: time.Millisecond},
		},
		{
			name:      "failed read aborts the store's cycle",
			source:    &fakeSource{entries: []conntrack.Entry{out1}, stats: conntrack.Stats{Reported: -1}, err: readErr},
			wantErr:   readErr,
			wantCalls: 0,
			aborted:   1,
			want:      Summary{Entries: 1, Reported: -1, Took: 2 * time.Second, CPU: time.Millisecond},
		},
		{
			name:      "store error is returned",
			source:    &fakeSource{entries: []conntrack.Entry{out1}, stats: conntrack.Stats{Reported: -1}},
			store:     func(context.Context, int) (store.CycleResult, error) { return store.CycleResult{}, storeErr },
			wantErr:   storeErr,
			wantCalls: 1,
			wantFlows: []conntrack.Entry{out1},
			want:      Summary{Entries: 1, Outbound: 1, Reported: -1, Took: 2 * time.Second, CPU: time.Millisecond},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := &fakeStore{reconcile: tt.store}
			clock := &stepClock{t: t0, step: time.Second}
			in := &Ingester{Source: tt.source, Filter: lanToWAN, Store: st, Now: clock.Now, Retention: time.Hour, CPU: stepCPU(time.Millisecond)}
			got, err := in.ReconcileSnapshot(context.Background())
			if tt.wantErr == nil && err != nil {
				t.Fatalf("ReconcileSnapshot: %v", err)
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Fatalf("ReconcileSnapshot error = %v, want %v", err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("summary (-want +got):\n%s", diff)
			}
			calls := st.Calls()
			if len(calls) != tt.wantCalls || st.Aborted() != tt.aborted {
				t.Fatalf("%d cycles read, %d aborted; want %d, %d", len(calls), st.Aborted(), tt.wantCalls, tt.aborted)
			}
			if tt.wantCalls == 0 {
				return
			}
			// Clock: start at t0, the store gets t0+1s.
			want := reconcileCall{Now: t0.Add(time.Second), Flows: tt.wantFlows, Retention: time.Hour}
			if diff := cmp.Diff(want, calls[0], addrOpts, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("Reconcile call (-want +got):\n%s", diff)
			}
			s := in.Status()
			if (err == nil) != (s.Cycles == 1 && s.Errors == 0 && s.LastErr == nil) {
				t.Errorf("status after err=%v: %+v", err, s)
			}
		})
	}
}

func TestReconcileSnapshotUnset(t *testing.T) {
	in := &Ingester{Source: &fakeSource{}, Store: &fakeStore{}}
	if _, err := in.ReconcileSnapshot(context.Background()); err == nil {
		t.Fatal("no error with a nil Filter")
	}
}

// TestReconcileSnapshotDetachesWrite checks that the store's context is
// not cancelled by a cancel after the read, but is cancelled CommitTimeout
// after the read ended, so a stuck write cannot hold shutdown for ever.
func TestReconcileSnapshotDetachesWrite(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var afterCancel, afterTimeout error
	st := &fakeStore{reconcile: func(sctx context.Context, _ int) (store.CycleResult, error) {
		cancel() // shutdown arrives while the cycle writes
		afterCancel = sctx.Err()
		select {
		case <-sctx.Done():
			afterTimeout = sctx.Err()
		case <-time.After(time.Minute):
		}
		return store.CycleResult{RowsWritten: 1}, nil
	}}
	in := &Ingester{Source: &fakeSource{}, Filter: lanToWAN, Store: st, CommitTimeout: 10 * time.Millisecond}
	if _, err := in.ReconcileSnapshot(ctx); err != nil {
		t.Fatal(err)
	}
	if afterCancel != nil || !errors.Is(afterTimeout, context.Canceled) {
		t.Errorf("store context: err %v after the caller's cancel, %v after the commit timeout; want nil, %v",
			afterCancel, afterTimeout, context.Canceled)
	}
}

func TestSummaryString(t *testing.T) {
	tests := []struct {
		name string
		in   Summary
		want string
	}{
		{
			name: "with trailer",
			in: Summary{Entries: 29, Outbound: 17, Skipped: 1, Reported: 29, Took: 1234567 * time.Nanosecond,
				CycleResult: store.CycleResult{NewHosts: 5, Opened: 17, Updated: 2, Closed: 3, Pruned: 4, Duplicates: 1, RowsWritten: 30}},
			want: "entries=29 outbound=17 skipped=1 reported=29 new_hosts=5 opened=17 updated=2 closed=3 pruned=4 duplicates=1 rows_written=30 took=1.235ms",
		},
		{
			name: "no trailer",
			in:   Summary{Reported: -1},
			want: "entries=0 outbound=0 skipped=0 reported=none new_hosts=0 opened=0 updated=0 closed=0 pruned=0 duplicates=0 rows_written=0 took=0s",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.in.String(); got != tt.want {
				t.Errorf("String() =\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

// dumpDB returns the database's rows as text and its files' bytes.
func dumpDB(t *testing.T, db *store.Live) (string, map[string][]byte) {
	t.Helper()
	var b bytes.Buffer
	if err := db.Dump(context.Background(), &b); err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	for _, suffix := range []string{"", "-wal"} {
		data, err := os.ReadFile(db.Path() + suffix)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
		files[filepath.Base(db.Path()+suffix)] = data
	}
	return b.String(), files
}

// TestWithRealStore runs cycles against a real database: a failed read
// leaves every table and both files byte for byte as they were, and an
// empty snapshot closes everything.
func TestWithRealStore(t *testing.T) {
	ctx := context.Background()
	db, err := store.OpenLive(ctx, filepath.Join(t.TempDir(), "netmon.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	out1 := entry(conntrack.ProtoTCP, "10.0.0.5", 40000, "203.0.113.80", 443, 1000, 5000)
	out2 := entry(conntrack.ProtoUDP, "10.0.0.6", 5353, "203.0.113.81", 53, 60, 120)
	clock := &stepClock{t: t0, step: time.Second}
	src := &fakeSource{entries: []conntrack.Entry{out1, out2}}
	in := &Ingester{Source: src, Filter: lanToWAN, Store: db, Now: clock.Now, Retention: time.Hour}

	if _, err := in.ReconcileSnapshot(ctx); err != nil {
		t.Fatal(err)
	}
	beforeRows, beforeFiles := dumpDB(t, db)

	src.err = errors.New("runner killed")
	if _, err := in.ReconcileSnapshot(ctx); err == nil {
		t.Fatal("failing source: no error")
	}
	afterRows, afterFiles := dumpDB(t, db)
	if diff := cmp.Diff(beforeRows, afterRows); diff != "" {
		t.Errorf("tables changed by a failed read (-before +after):\n%s", diff)
	}
	if diff := cmp.Diff(beforeFiles, afterFiles); diff != "" {
		t.Errorf("files changed by a failed read (-before +after):\n%s", diff)
	}

	*src = fakeSource{} // a successful, empty snapshot
	sum, err := in.ReconcileSnapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Closed != 2 {
		t.Errorf("empty snapshot closed %d connections, want 2", sum.Closed)
	}
	if active, total, err := db.ActiveConnections(ctx, 0); err != nil || len(active) != 0 || total != 0 {
		t.Errorf("after an empty snapshot: %d active (total %d), err %v", len(active), total, err)
	}
	s := in.Status()
	if s.Cycles != 2 || s.Errors != 1 || s.LastErr != nil || s.LastSummary.Closed != 2 {
		t.Errorf("status = %+v", s)
	}
}
