package web

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/netmon-dev/netmon/pkg/conntrack"
	"github.com/netmon-dev/netmon/pkg/rates"
	"github.com/netmon-dev/netmon/pkg/source"
	"github.com/netmon-dev/netmon/pkg/store"
)

// BenchmarkNow is /api/now as the dashboard polls it, over a real live
// state of 100,000 active flows from 100 devices, written by a real
// tracker through five minutes of cycles in which 2,000 flows grow: the
// first poll (five minutes of sparklines for 100 devices and the top
// 200 connections by rate or by bytes) and a following one (?since=).
// It reports the latency percentiles and the body's size, plain and
// gzipped.
func BenchmarkNow(b *testing.B) {
	ctx := context.Background()
	db, err := store.OpenLive(ctx, filepath.Join(b.TempDir(), "live.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	const n, devices, growing = 100_000, 100, 2_000
	es := make([]conntrack.Entry, n)
	for i := range es {
		src := netip.AddrFrom4([4]byte{10, 0, 0, byte(10 + i%devices)})
		dst := netip.AddrFrom4([4]byte{198, 51, byte(i / 250 % 4), byte(1 + i%250)})
		es[i] = conntrack.Entry{Proto: conntrack.ProtoTCP, State: "ESTABLISHED",
			Orig:  conntrack.Tuple{Src: src, Dst: dst, SrcPort: uint16(1024 + i%60000), DstPort: uint16(443 + i/60000), Packets: 1, Bytes: uint64(1000 + i)},
			Reply: conntrack.Tuple{Src: dst, Dst: src, Packets: 1, Bytes: uint64(5000 + i)}}
	}
	tr := rates.New(10 * time.Second)
	at := time.Now().Add(-5 * time.Minute)
	for c := range 300 {
		for i := range growing {
			j := uint64(i*7 + c*13)
			es[i*(n/growing)].Orig.Bytes += 1000 + j%997
			es[i*(n/growing)].Reply.Bytes += 100000 + j%99991
		}
		at = at.Add(time.Second)
		_, d, err := db.Reconcile(ctx, at, source.Slice(es).List(ctx, nil), time.Hour)
		if err != nil {
			b.Fatal(err)
		}
		tr.Add(at, d, nil)
		if err := db.WriteRates(ctx, tr.Changes()); err != nil {
			b.Fatal(err)
		}
	}
	h, err := New(Options{Store: db, Rates: db, Metrics: &fakeMetrics{}, Now: func() time.Time { return at }})
	if err != nil {
		b.Fatal(err)
	}
	get := func(target string) ([]byte, time.Duration) {
		rec := httptest.NewRecorder()
		start := time.Now()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, target, nil))
		took := time.Since(start)
		if rec.Code != http.StatusOK {
			b.Fatalf("%s: %d %s", target, rec.Code, rec.Body)
		}
		return rec.Body.Bytes(), took
	}
	first, _ := get("/api/now?limit=200&sort=rate")
	var probe struct {
		Ticks   []int64 `json:"ticks"`
		Devices []struct {
			SparkUp []int64 `json:"spark_up"`
		} `json:"devices"`
		Connections []RateJSON `json:"connections"`
	}
	if err := json.Unmarshal(first, &probe); err != nil {
		b.Fatal(err)
	}
	if len(probe.Devices) != devices || len(probe.Connections) != 200 || len(probe.Ticks) < 290 || probe.Connections[0].UplinkBps == nil {
		b.Fatalf("the state is not what the benchmark is about: %d devices, %d connections, %d ticks",
			len(probe.Devices), len(probe.Connections), len(probe.Ticks))
	}
	since := probe.Ticks[len(probe.Ticks)-3] // a poller two ticks behind
	for _, q := range []struct{ name, target string }{
		{"first/sort=rate", "/api/now?limit=200&sort=rate"},
		{"first/sort=bytes", "/api/now?limit=200"},
		{"poll/sort=rate", fmt.Sprintf("/api/now?limit=200&sort=rate&since=%d", since)},
	} {
		b.Run(q.name, func(b *testing.B) {
			var took []time.Duration
			var body []byte
			for b.Loop() {
				var d time.Duration
				body, d = get(q.target)
				took = append(took, d)
			}
			slices.Sort(took)
			pct := func(p float64) float64 {
				return float64(took[min(len(took)-1, int(p*float64(len(took))))].Microseconds()) / 1000
			}
			var z bytes.Buffer
			zw := gzip.NewWriter(&z)
			zw.Write(body)
			zw.Close()
			b.ReportMetric(pct(0.5), "p50-ms")
			b.ReportMetric(pct(0.99), "p99-ms")
			b.ReportMetric(float64(len(body)), "body-B")
			b.ReportMetric(float64(z.Len()), "gzip-B")
		})
	}
}
