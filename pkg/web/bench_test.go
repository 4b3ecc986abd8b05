package web_test

import (
	"context"
	"fmt"
	"github.com/netmon-dev/netmon/pkg/conntrack"
	"github.com/netmon-dev/netmon/pkg/source"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/netmon-dev/netmon/pkg/store"
	"github.com/netmon-dev/netmon/pkg/sysmetrics"
	"github.com/netmon-dev/netmon/pkg/web"
)

// benchFlows returns n distinct outbound flows from 250 LAN hosts to 4000
// remote hosts with varied counters, so that ordering by total bytes
// has work to do.
func benchFlows(n int) []conntrack.Entry {
	flows := make([]conntrack.Entry, n)
	protos := []string{"tcp", "udp", "tcp", "udp", "icmp"}
	for i := range flows {
		src := netip.AddrFrom4([4]byte{10, 0, 0, byte(1 + i%250)})
		r := i % 4000
		dst := netip.AddrFrom4([4]byte{198, 18, byte(r / 250), byte(1 + r%250)})
		up := uint64(60 + (i*7919)%50000)
		flows[i] = outbound(protos[i%len(protos)], src.String(), uint16(1024+i/250), dst.String(), uint16(1+i%1000),
			"ESTABLISHED", "ASSURED", up/60, up, up/30, up*3)
	}
	return flows
}

// discardWriter is a ResponseWriter that counts the body and keeps none
// of it, like a socket: the benchmark then measures the server, not a
// recorder's buffer.
type discardWriter struct {
	header http.Header
	status int
	n      int
}

func (w *discardWriter) Header() http.Header { return w.header }
func (w *discardWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
}
func (w *discardWriter) Write(p []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	w.n += len(p)
	return len(p), nil
}

// benchGet is a benchmark's loop over GET target: every response goes to
// a discardWriter and must be a 200 whose header check (when not nil)
// accepts; the last one's size is reported as bytes/response.
func benchGet(b *testing.B, h http.Handler, target string, check func(http.Header) error) {
	var size int
	for b.Loop() {
		w := &discardWriter{header: http.Header{}}
		h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, target, nil))
		if w.status != http.StatusOK {
			b.Fatalf("status %d", w.status)
		}
		if check != nil {
			if err := check(w.header); err != nil {
				b.Fatal(err)
			}
		}
		size = w.n
	}
	b.ReportMetric(float64(size), "bytes/response")
}

// BenchmarkConnectionsJSON serves /connections.json from a real store
// holding 100,000 active connections: the full list and the dashboard's
// ?limit=200 (target: under 20 ms per request).
func BenchmarkConnectionsJSON(b *testing.B) {
	const n = 100_000
	ctx := context.Background()
	db, err := store.OpenLive(ctx, filepath.Join(b.TempDir(), "netmon.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	if _, _, err := db.Reconcile(ctx, time.Now(), source.Slice(benchFlows(n)).List(ctx, nil), 0); err != nil {
		b.Fatal(err)
	}
	h, err := web.New(web.Options{
		Store:   db,
		Metrics: sysmetrics.NewReader(sysmetrics.Options{Root: filepath.Join("..", "..", "fixtures", "hosts", "router")}),
	})
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name, target string
		rows         int
	}{
		{"limit=200", "/connections.json?limit=200", 200},
		{"all", "/connections.json", n},
		{"dashboard", "/", 200},
	} {
		b.Run(bc.name, func(b *testing.B) {
			benchGet(b, h, bc.target, func(hd http.Header) error {
				if got := hd.Get("X-Total-Count"); bc.name != "dashboard" && got != strconv.Itoa(n) {
					return fmt.Errorf("X-Total-Count = %q", got)
				}
				return nil
			})
		})
	}
}
