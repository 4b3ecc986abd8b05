package web

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestIngestMetrics serves the ingest process's own /metrics and /healthz:
// the ingest series and build info, lint-clean, and nothing of the
// database, the devices or the system.
func TestIngestMetrics(t *testing.T) {
	health := HealthFunc(func() IngestStatus { return IngestStatus{LastOK: now.Add(-time.Second), Cycles: 120, Errors: 3} })
	h, err := NewIngestMetrics(IngestMetricsOptions{Health: health, Counters: withCountersSource(sampleCounters()),
		Now: clock, Build: BuildInfo{Version: "1.2.3", Revision: "0123abc", GoVersion: "go1.26.8"}})
	if err != nil {
		t.Fatal(err)
	}
	text := lintedMetrics(t, h)
	for _, tc := range []struct {
		series string
		want   bool
	}{
		{"netmon_ingest_cycles_total 120", true},
		{`netmon_ingest_cycle_duration_seconds_bucket{le="+Inf"} 120`, true},
		{"netmon_ingest_healthy 1", true},
		{"netmon_events_received_total 5000", true},
		{`netmon_build_info{goversion="go1.26.8",revision="0123abc",version="1.2.3"} 1`, true},
		{"go_goroutines ", true},
		{"netmon_device_", false},
		{"netmon_remote_hosts", false},
		{"netmon_system_", false},
	} {
		if got := strings.Contains(text, tc.series); got != tc.want {
			t.Errorf("/metrics has %q: %v, want %v", tc.series, got, tc.want)
		}
	}
	if res := do(t, h, http.MethodGet, "/healthz"); res.StatusCode != http.StatusOK {
		t.Errorf("GET /healthz: %d", res.StatusCode)
	}
	if res := do(t, h, http.MethodGet, "/connections.json"); res.StatusCode != http.StatusNotFound {
		t.Errorf("GET /connections.json: %d, want 404", res.StatusCode)
	}
	if _, err := NewIngestMetrics(IngestMetricsOptions{Health: health}); err == nil {
		t.Error("no counters: want an error")
	}
}

func withCountersSource(c IngestCounters) Counters {
	var o Options
	withCounters(c)(&o)
	return o.Counters
}
