package web

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/netmon-dev/netmon/pkg/sysmetrics"
)

// TestMetricsJSONFixtureHosts serves /metrics.json over the real
// sysmetrics.Reader on the fixture trees and compares with golden files.
func TestMetricsJSONFixtureHosts(t *testing.T) {
	for _, host := range []string{"router", "minimal", "acct-off"} {
		t.Run(host, func(t *testing.T) {
			r := sysmetrics.NewReader(sysmetrics.Options{Root: filepath.Join("..", "..", "fixtures", "hosts", host), Now: clock})
			h, _ := testServer(t, func(o *Options) { o.Metrics = r })
			res := do(t, h, http.MethodGet, "/metrics.json")
			checkResponse(t, res, http.StatusOK, "application/json; charset=utf-8")
			golden(t, "metrics-"+host+".golden.json", body(t, res))
		})
	}
}

func TestMetricsJSON(t *testing.T) {
	h, _ := testServer(t, nil)
	res := do(t, h, http.MethodGet, "/metrics.json")
	checkResponse(t, res, http.StatusOK, "application/json; charset=utf-8")
	var got metricsJSON
	if err := json.NewDecoder(res.Body).Decode(&got); err != nil {
		t.Fatalf("decode: %v", err)
	}
	want := metricsJSON{Snapshot: sampleSnapshot(), Ingest: ingestJSON{Healthy: true, LastCycleAt: "2026-11-25T17:29:59.000Z", Cycles: 42}}
	if diff := cmp.Diff(want, got, cmp.AllowUnexported(ingestJSON{})); diff != "" {
		t.Errorf("metrics.json (-want +got):\n%s", diff)
	}
}

// TestMetricsJSONRates reads twice through the real reader with a moving
// clock: the second reading carries rates.
func TestMetricsJSONRates(t *testing.T) {
	c := now
	r := sysmetrics.NewReader(sysmetrics.Options{Root: filepath.Join("..", "..", "fixtures", "hosts", "router"), Now: func() time.Time { return c }})
	h, _ := testServer(t, func(o *Options) { o.Metrics = r })
	for i, wantRate := range []bool{false, true} {
		var got metricsJSON
		if err := json.NewDecoder(do(t, h, http.MethodGet, "/metrics.json").Body).Decode(&got); err != nil {
			t.Fatal(err)
		}
		if hasRate := got.Interfaces[0].RxRate != nil; hasRate != wantRate {
			t.Errorf("reading %d: has rate %v, want %v", i, hasRate, wantRate)
		}
		c = c.Add(2 * time.Second)
	}
}

func TestMetricsJSONReadError(t *testing.T) {
	h, _ := testServer(t, func(o *Options) { o.Metrics = &fakeMetrics{err: errors.New("read loadavg: gone")} })
	checkResponse(t, do(t, h, http.MethodGet, "/metrics.json"), http.StatusInternalServerError, "application/json; charset=utf-8")
}

func TestMetricsJSONCanceledRequest(t *testing.T) {
	r := sysmetrics.NewReader(sysmetrics.Options{Root: filepath.Join("..", "..", "fixtures", "hosts", "router")})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := r.Read(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("reader ignored the canceled context: %v", err)
	}
}
