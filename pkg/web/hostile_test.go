package web_test

import (
	"context"
	"github.com/netmon-dev/netmon/pkg/source"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/netmon-dev/netmon/pkg/ingest"
	"github.com/netmon-dev/netmon/pkg/sysmetrics"
	"github.com/netmon-dev/netmon/pkg/web"
)

// TestHostileReplay feeds fixtures/replay-hostile (state words holding
// HTML) through the real parser, filter, ingest and store, then checks
// that no page or JSON answer carries the markup raw.
func TestHostileReplay(t *testing.T) {
	db := openStore(t)
	in := &ingest.Ingester{
		Source: &source.File{Path: fixture("replay-hostile", "00.txt")},
		Filter: lanFilter(t),
		Store:  db,
	}
	sum, err := in.ReconcileSnapshot(context.Background())
	if err != nil {
		t.Fatalf("ingest: %v", err)
	}
	// Every line is accounted for: parsed, or skipped with a reason.
	if sum.Outbound == 0 || sum.Entries+sum.Skipped != 30 {
		t.Fatalf("summary %+v: want 30 lines parsed or skipped, some outbound", sum)
	}
	t.Logf("hostile replay: %d entries, %d skipped (%v)", sum.Entries, sum.Skipped, sum.ParseErrors)
	h, err := web.New(web.Options{
		Store:   db,
		Metrics: sysmetrics.NewReader(sysmetrics.Options{Root: fixture("hosts", "minimal")}),
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, target := range []string{"/", "/connections.json", "/connections.json?limit=5", "/metrics.json", "/metrics", "/healthz"} {
		t.Run(target, func(t *testing.T) {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, target, nil))
			b, _ := io.ReadAll(rec.Result().Body)
			for _, bad := range []string{"<img", "<script>window", "<b>bold"} {
				if strings.Contains(string(b), bad) {
					t.Errorf("%s carries %q raw", target, bad)
				}
			}
		})
	}
}
