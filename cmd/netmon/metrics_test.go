package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil/promlint"

	"github.com/netmon-dev/netmon/pkg/source"
	"github.com/netmon-dev/netmon/pkg/store"
	"github.com/netmon-dev/netmon/pkg/sysmetrics"
	"github.com/netmon-dev/netmon/pkg/web"
)

// TestIngestMetricsTwoProcesses runs ingest-loop with --metrics-bind over
// the demo replay and scrapes both ways an operator can: the loop's own
// /metrics, and a web server that reads the live state as `serve
// --ingest=false` does. Both export the ingest counters, lint-clean.
func TestIngestMetricsTwoProcesses(t *testing.T) {
	cfg := testConfig(t)
	cfg.Interval = 100 * time.Millisecond
	cfg.MetricsBind = "127.0.0.1:0"
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var logs syncBuffer
	done := make(chan error, 1)
	go func() { done <- runIngestLoop(ctx, cfg, &source.File{Path: fixture("replay")}, &logs) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("loop: %v", err)
		}
	}()

	addr := regexp.MustCompile(`msg="ingest metrics listening".* addr=(\S+)`)
	deadline := time.Now().Add(30 * time.Second)
	for strings.Count(logs.String(), "ingest summary")+strings.Count(logs.String(), "first ingest cycle") < 1 || addr.FindStringSubmatch(logs.String()) == nil {
		if time.Now().After(deadline) {
			t.Fatalf("no cycle or no metrics server in 30s:\n%s", logs.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	// Wait for the second cycle: the first one's counters ride the second.
	db, err := store.OpenLive(ctx, livePath(cfg))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for {
		s, err := db.IngestStatus(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if s.Durations.Count >= 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no counters in the live state: %+v", s)
		}
		time.Sleep(10 * time.Millisecond)
	}

	res, err := http.Get("http://" + addr.FindStringSubmatch(logs.String())[1] + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	own := readAll(t, res.Body)
	lintClean(t, "ingest-loop", own)

	h, err := web.New(web.Options{Store: db, Metrics: sysmetrics.NewReader(sysmetrics.Options{Root: cfg.FSRoot}),
		Counters: liveCounters(db), Devices: db, Interval: cfg.Interval})
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	reader := rec.Body.String()
	lintClean(t, "reader", reader)

	for _, tc := range []struct {
		scrape, text, want string
	}{
		{"ingest-loop", own, `netmon_ingest_cycles_total [1-9]`},
		{"ingest-loop", own, `netmon_ingest_cycle_duration_seconds_count [1-9]`},
		{"ingest-loop", own, `netmon_build_info\{`},
		{"reader", reader, `netmon_ingest_cycles_total [1-9]`},
		{"reader", reader, `netmon_ingest_cycle_duration_seconds_bucket\{le="30"\} [1-9]`},
		{"reader", reader, `netmon_ingest_skipped_lines_total \d`},
		{"reader", reader, `netmon_device_uplink_bytes_total\{device="(ip:|[0-9a-f]{2}:)`},
		{"reader", reader, `netmon_device_info\{device=`},
	} {
		if !regexp.MustCompile(`(?m)^` + tc.want).MatchString(tc.text) {
			t.Errorf("%s /metrics has no line matching %s", tc.scrape, tc.want)
		}
	}
	if strings.Contains(own, "netmon_device_") {
		t.Error("ingest-loop's /metrics exports device series: it has no login")
	}
}

func readAll(t *testing.T, r io.ReadCloser) string {
	t.Helper()
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func lintClean(t *testing.T, name, text string) {
	t.Helper()
	problems, err := promlint.New(strings.NewReader(text)).Lint()
	if err != nil {
		t.Fatalf("%s: lint: %v", name, err)
	}
	for _, p := range problems {
		t.Errorf("%s: promlint: %s: %s", name, p.Metric, p.Text)
	}
}
