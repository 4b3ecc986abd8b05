package web

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/netmon-dev/netmon/pkg/alert"
)

var _ Alerts = (*fakeAlerts)(nil)

// fakeAlerts answers from fixed rows and records the limit it was asked.
type fakeAlerts struct {
	entries []alert.Entry
	counts  []alert.Count
	pending map[string]int
	limit   int
	err     error
}

func (f *fakeAlerts) RecentAlerts(_ context.Context, limit int) ([]alert.Entry, error) {
	f.limit = limit
	return f.entries[:min(limit, len(f.entries))], f.err
}
func (f *fakeAlerts) AlertCounts(context.Context) ([]alert.Count, error) { return f.counts, f.err }
func (f *fakeAlerts) PendingAlerts(context.Context) (map[string]int, error) {
	return f.pending, f.err
}

func sampleAlerts() *fakeAlerts {
	d := alert.Device{ID: "aa:bb:cc:dd:ee:01", Name: `</script><script>alert(1)</script>`, Addr: netip.MustParseAddr("10.0.0.7")}
	return &fakeAlerts{
		entries: []alert.Entry{
			{Alert: alert.Alert{ID: "a2", Kind: alert.NewDevice, Severity: alert.Warning, At: now, Title: "New device on the LAN: " + d.Name, Device: &d},
				Created: now, Deliveries: []alert.Delivery{{Sink: "hook", State: alert.Pending, Attempts: 2, NextAt: now.Add(time.Minute), Error: "answered 503"}}},
			{Alert: alert.Alert{ID: "a1", Kind: alert.IngestFailing, Severity: alert.Critical, At: now.Add(-time.Hour), Title: "netmon ingest failing"},
				Created: now.Add(-time.Hour), Deliveries: []alert.Delivery{{Sink: "hook", State: alert.Delivered, Attempts: 1, SentAt: now.Add(-time.Hour)}}},
		},
		counts: []alert.Count{
			{Kind: alert.IngestFailing, Sink: "hook", Outcome: alert.OutcomeDelivered, N: 1},
			{Kind: alert.NewDevice, Sink: "hook", Outcome: alert.OutcomeRetried, N: 2},
		},
		pending: map[string]int{"hook": 1},
	}
}

func TestAPIAlerts(t *testing.T) {
	fa := sampleAlerts()
	h, _ := testServer(t, func(o *Options) { o.Alerts = fa })
	tests := []struct {
		target    string
		status    int
		wantLimit int
		wantIDs   []string
	}{
		{"/api/alerts", http.StatusOK, DefaultAlertLimit, []string{"a2", "a1"}},
		{"/api/alerts?limit=1", http.StatusOK, 1, []string{"a2"}},
		{"/api/alerts?limit=0", http.StatusBadRequest, 0, nil},
		{"/api/alerts?limit=1001", http.StatusBadRequest, 0, nil},
		{"/api/alerts?limit=x", http.StatusBadRequest, 0, nil},
		{"/api/alerts?kind=quota", http.StatusBadRequest, 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.target, func(t *testing.T) {
			fa.limit = 0
			res := do(t, h, http.MethodGet, tt.target)
			checkResponse(t, res, tt.status, "application/json; charset=utf-8")
			raw := body(t, res)
			if tt.status != http.StatusOK {
				return
			}
			var got AlertsJSON
			if err := json.Unmarshal([]byte(raw), &got); err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, e := range got.Alerts {
				ids = append(ids, e.ID)
			}
			if diff := cmp.Diff(tt.wantIDs, ids); diff != "" || fa.limit != tt.wantLimit {
				t.Errorf("limit %d (want %d), ids (-want +got)\n%s", fa.limit, tt.wantLimit, diff)
			}
			if diff := cmp.Diff(fa.entries[:len(ids)], got.Alerts, cmpopts.EquateComparable(netip.Addr{})); diff != "" {
				t.Errorf("alerts (-want +got)\n%s", diff)
			}
			if got.Pending["hook"] != 1 || strings.ContainsAny(raw, "<>") {
				t.Errorf("pending %v; raw markup in %s", got.Pending, raw)
			}
		})
	}
	if res := do(t, h, http.MethodPost, "/api/alerts"); res.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /api/alerts: %d", res.StatusCode)
	}
}

func TestAPIAlertsUnavailable(t *testing.T) {
	h, _ := testServer(t, nil)
	checkResponse(t, do(t, h, http.MethodGet, "/api/alerts"), http.StatusServiceUnavailable, "application/json; charset=utf-8")
	fa := sampleAlerts()
	fa.err = errors.New("database /x: not writable")
	h, _ = testServer(t, func(o *Options) { o.Alerts = fa })
	checkResponse(t, do(t, h, http.MethodGet, "/api/alerts"), http.StatusInternalServerError, "application/json; charset=utf-8")
}

func TestAlertCollector(t *testing.T) {
	c := newAlertCollector(sampleAlerts())
	want := `
# HELP netmon_alerts_pending Alert deliveries waiting for their next attempt, by sink.
# TYPE netmon_alerts_pending gauge
netmon_alerts_pending{sink="hook"} 1
# HELP netmon_alerts_total Alert deliveries by alert kind, sink and outcome: delivered, retried (an attempt failed, another follows), failed (given up), folded (into a rate limit's summary).
# TYPE netmon_alerts_total counter
netmon_alerts_total{kind="ingest_failing",outcome="delivered",sink="hook"} 1
netmon_alerts_total{kind="new_device",outcome="retried",sink="hook"} 2
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want)); err != nil {
		t.Error(err)
	}
	if probs, err := testutil.CollectAndLint(c); err != nil || len(probs) != 0 {
		t.Errorf("lint: %v %v", probs, err)
	}
	// Served on /metrics when the server has alerts.
	h, _ := testServer(t, func(o *Options) { o.Alerts = sampleAlerts() })
	if b := body(t, do(t, h, http.MethodGet, "/metrics")); !strings.Contains(b, `netmon_alerts_total{kind="new_device",outcome="retried",sink="hook"} 2`) {
		t.Error("/metrics lacks netmon_alerts_total")
	}
}
