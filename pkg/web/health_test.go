package web

import (
	"encoding/json"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestHealthz(t *testing.T) {
	errs := func(n int64) *int64 { return &n }
	tests := []struct {
		name   string
		edit   func(*Options, *fakeStore)
		status int
		want   healthJSON
	}{
		{
			name:   "database cycle is recent",
			status: http.StatusOK,
			want:   healthJSON{Status: "ok", ingestJSON: ingestJSON{Healthy: true, LastCycleAt: "2026-11-25T17:29:59.000Z", Cycles: 42}},
		},
		{
			name:   "database cycle exactly 3 intervals old",
			edit:   func(_ *Options, fs *fakeStore) { fs.lastCycle = now.Add(-3 * time.Second) },
			status: http.StatusOK,
			want:   healthJSON{Status: "ok", ingestJSON: ingestJSON{Healthy: true, LastCycleAt: "2026-11-25T17:29:57.000Z", Cycles: 42}},
		},
		{
			name:   "database cycle too old",
			edit:   func(_ *Options, fs *fakeStore) { fs.lastCycle = now.Add(-3*time.Second - time.Millisecond) },
			status: http.StatusServiceUnavailable,
			want: healthJSON{Status: "unhealthy", ingestJSON: ingestJSON{LastCycleAt: "2026-11-25T17:29:56.999Z", Cycles: 42,
				Reason: "last successful ingest cycle 3.001s ago, more than 3 intervals (3s)"}},
		},
		{
			name: "longer interval",
			edit: func(o *Options, fs *fakeStore) {
				o.Interval = 10 * time.Second
				fs.lastCycle = now.Add(-25 * time.Second)
			},
			status: http.StatusOK,
			want:   healthJSON{Status: "ok", ingestJSON: ingestJSON{Healthy: true, LastCycleAt: "2026-11-25T17:29:35.000Z", Cycles: 42}},
		},
		{
			name:   "empty database",
			edit:   func(_ *Options, fs *fakeStore) { fs.lastCycle, fs.cycles = time.Time{}, 0 },
			status: http.StatusServiceUnavailable,
			want:   healthJSON{Status: "unhealthy", ingestJSON: ingestJSON{Reason: "no successful ingest cycle yet"}},
		},
		{
			name:   "database unreadable",
			edit:   func(_ *Options, fs *fakeStore) { fs.err = errors.New("disk I/O error") },
			status: http.StatusServiceUnavailable,
			want:   healthJSON{Status: "unhealthy", ingestJSON: ingestJSON{Reason: "cannot read the last ingest cycle from the database"}},
		},
		{
			name:   "another process's failures, from its counters",
			edit:   func(o *Options, _ *fakeStore) { withCounters(IngestCounters{Cycles: 50, FailedCycles: 4})(o) },
			status: http.StatusOK,
			want:   healthJSON{Status: "ok", ingestJSON: ingestJSON{Healthy: true, LastCycleAt: "2026-11-25T17:29:59.000Z", Cycles: 42, Errors: errs(4)}},
		},
		{
			name: "events lost in another process, shown but healthy",
			edit: func(o *Options, _ *fakeStore) {
				withCounters(IngestCounters{Cycles: 50, Events: EventCounters{Enabled: true, Listening: true,
					Received: 1000, Kept: 900, Folded: 880, Overruns: 2, Dropped: 3, Undecoded: 1}})(o)
			},
			status: http.StatusOK,
			want: healthJSON{Status: "ok", ingestJSON: ingestJSON{Healthy: true, LastCycleAt: "2026-11-25T17:29:59.000Z", Cycles: 42, Errors: errs(0),
				Events: &eventsJSON{Listening: true, Received: 1000, Folded: 880, Lost: 6}}},
		},
		{
			name: "events off: no events object",
			edit: func(o *Options, _ *fakeStore) {
				withCounters(IngestCounters{Cycles: 50, Events: EventCounters{Received: 5}})(o)
			},
			status: http.StatusOK,
			want:   healthJSON{Status: "ok", ingestJSON: ingestJSON{Healthy: true, LastCycleAt: "2026-11-25T17:29:59.000Z", Cycles: 42, Errors: errs(0)}},
		},
		{
			name: "in-process loop with its events not listening",
			edit: func(o *Options, _ *fakeStore) {
				o.Health = HealthFunc(func() IngestStatus { return IngestStatus{LastOK: now.Add(-time.Second), Cycles: 3} })
				withCounters(IngestCounters{Cycles: 3, Events: EventCounters{Enabled: true}})(o)
			},
			status: http.StatusOK,
			want: healthJSON{Status: "ok", ingestJSON: ingestJSON{Healthy: true, LastCycleAt: "2026-11-25T17:29:59.000Z", Cycles: 3, Errors: errs(0), InProcess: true,
				Events: &eventsJSON{}}},
		},
		{
			name: "in-process loop healthy despite an old database",
			edit: func(o *Options, fs *fakeStore) {
				fs.lastCycle = now.Add(-time.Hour)
				o.Health = HealthFunc(func() IngestStatus {
					return IngestStatus{LastOK: now.Add(-500 * time.Millisecond), Cycles: 9, Errors: 1}
				})
			},
			status: http.StatusOK,
			want:   healthJSON{Status: "ok", ingestJSON: ingestJSON{Healthy: true, LastCycleAt: "2026-11-25T17:29:59.500Z", Cycles: 9, Errors: errs(1), InProcess: true}},
		},
		{
			name: "in-process loop failing",
			edit: func(o *Options, _ *fakeStore) {
				o.Health = HealthFunc(func() IngestStatus {
					return IngestStatus{LastOK: now.Add(-time.Minute), LastErr: errors.New("run conntrack: exit status 1"), Cycles: 70, Errors: 10}
				})
			},
			status: http.StatusServiceUnavailable,
			want: healthJSON{Status: "unhealthy", ingestJSON: ingestJSON{LastCycleAt: "2026-11-25T17:29:00.000Z", Cycles: 70, Errors: errs(10), InProcess: true,
				LastError: "run conntrack: exit status 1",
				Reason:    "last successful ingest cycle 1m0s ago, more than 3 intervals (3s); last error: run conntrack: exit status 1"}},
		},
		{
			name: "in-process loop before its first cycle",
			edit: func(o *Options, _ *fakeStore) {
				o.Health = HealthFunc(func() IngestStatus { return IngestStatus{} })
			},
			status: http.StatusServiceUnavailable,
			want:   healthJSON{Status: "unhealthy", ingestJSON: ingestJSON{Errors: errs(0), InProcess: true, Reason: "no successful ingest cycle yet"}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, _ := testServer(t, func(o *Options) {
				if tc.edit != nil {
					tc.edit(o, o.Store.(*fakeStore))
				}
			})
			res := do(t, h, http.MethodGet, "/healthz")
			checkResponse(t, res, tc.status, "application/json; charset=utf-8")
			var got healthJSON
			if err := json.NewDecoder(res.Body).Decode(&got); err != nil {
				t.Fatalf("decode: %v", err)
			}
			if diff := cmp.Diff(tc.want, got, cmp.AllowUnexported(healthJSON{}, ingestJSON{})); diff != "" {
				t.Errorf("healthz (-want +got):\n%s", diff)
			}
		})
	}
}
