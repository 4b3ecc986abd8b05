package web_test

import (
	"context"
	"errors"
	"fmt"
	"github.com/netmon-dev/netmon/pkg/source"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/netmon-dev/netmon/pkg/ingest"
	"github.com/netmon-dev/netmon/pkg/sysmetrics"
	"github.com/netmon-dev/netmon/pkg/web"
)

// BenchmarkLoad puts 100 concurrent clients on /connections.json?limit=200
// and / for 10 s over loopback while an ingest loop re-reads a
// 10,000-entry capture every second, with slowloris clients trickling
// headers meanwhile. It fails on any failed request, on a slow client
// still connected at the end and on a failed ingest cycle, and reports
// requests/s, p50/p99 latency and the peak heap. It is a benchmark, not a
// test, so that it never runs under the race detector, whose slowdown on
// a shared 2-core machine starves the server past its own timeouts; each
// iteration is one 10 s run (scripts/test.sh runs benchmarks with 1x).
//
//	go test ./pkg/web -run '^$' -bench Load -benchtime 1x
func BenchmarkLoad(b *testing.B) {
	for b.Loop() {
		loadRun(b)
	}
}

// loadRun is one BenchmarkLoad run.
func loadRun(b *testing.B) {
	const (
		clients  = 100
		slow     = 10
		duration = 10 * time.Second
	)
	db := openStore(b)
	in := &ingest.Ingester{
		Source: &source.File{Path: fixture("conntrack", "big_10000.txt.gz")},
		Filter: lanFilter(b),
		Store:  db,
		Logger: slog.New(slog.DiscardHandler),
	}
	if _, err := in.ReconcileSnapshot(context.Background()); err != nil {
		b.Fatalf("first cycle: %v", err)
	}
	runLoop(b, in, time.Second)

	url, _ := serveHTTP(b, web.Options{
		Store:   db,
		Metrics: sysmetrics.NewReader(sysmetrics.Options{Root: fixture("hosts", "router")}),
		Health:  ingestHealth(in),
	})

	var peakHeap atomic.Uint64
	stopSampling := make(chan struct{})
	var sampler sync.WaitGroup
	sampler.Go(func() {
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peakHeap.Load() {
				peakHeap.Store(ms.HeapInuse)
			}
			select {
			case <-stopSampling:
				return
			case <-time.After(100 * time.Millisecond):
			}
		}
	})

	// Slowloris: each sends a header line a byte at a time and never ends it.
	cut := make(chan error, slow)
	for range slow {
		go func() { cut <- slowloris(url[len("http://"):], duration+5*time.Second) }()
	}

	tr := &http.Transport{MaxIdleConnsPerHost: clients, MaxConnsPerHost: clients}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	var (
		mu        sync.Mutex
		latencies []time.Duration
		failures  []string
		wg        sync.WaitGroup
	)
	end := time.Now().Add(duration)
	for i := range clients {
		target := url + "/connections.json?limit=200"
		if i%4 == 0 {
			target = url + "/"
		}
		wg.Go(func() {
			var mine []time.Duration
			for time.Now().Before(end) {
				start := time.Now()
				err := fetch(client, target)
				mine = append(mine, time.Since(start))
				if err != nil {
					mu.Lock()
					if len(failures) < 10 {
						failures = append(failures, err.Error())
					}
					mu.Unlock()
				}
			}
			mu.Lock()
			latencies = append(latencies, mine...)
			mu.Unlock()
		})
	}
	wg.Wait()
	close(stopSampling)
	sampler.Wait()

	if len(failures) > 0 {
		b.Errorf("failed requests (first %d): %v", len(failures), failures)
	}
	slices.Sort(latencies)
	pct := func(p float64) time.Duration { return latencies[int(p*float64(len(latencies)-1))] }
	b.Logf("load: %d requests in %s from %d clients (%.0f req/s); latency p50 %s, p99 %s, max %s; peak heap in use %d MiB (server and clients); ingest cycles %d",
		len(latencies), duration, clients, float64(len(latencies))/duration.Seconds(),
		pct(0.50).Round(time.Microsecond), pct(0.99).Round(time.Microsecond), latencies[len(latencies)-1].Round(time.Microsecond),
		peakHeap.Load()>>20, in.Status().Cycles)
	b.ReportMetric(float64(len(latencies))/duration.Seconds(), "req/s")
	b.ReportMetric(float64(pct(0.50).Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(pct(0.99).Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(peakHeap.Load()>>20), "peak-heap-MiB")
	for range slow {
		if err := <-cut; err != nil {
			b.Errorf("slow client: %v", err)
		}
	}
	if st := in.Status(); st.Errors > 0 {
		b.Errorf("ingest failed %d cycles under load: %v", st.Errors, st.LastErr)
	}
}

// fetch GETs target and reads the whole answer, which must be a 200.
func fetch(c *http.Client, target string) error {
	res, err := c.Get(target)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if _, err := io.Copy(io.Discard, res.Body); err != nil {
		return fmt.Errorf("%s: read body: %w", target, err)
	}
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: status %d", target, res.StatusCode)
	}
	return nil
}

// slowloris trickles an endless header one byte every 200 ms and returns
// nil once the server hangs up, or an error if it is still connected
// after limit.
func slowloris(addr string, limit time.Duration) error {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		return fmt.Errorf("dial: %w", err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, "GET / HTTP/1.1\r\nHost: x\r\nX-Slow: "); err != nil {
		return nil
	}
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
		if _, err := conn.Write([]byte("a")); err != nil {
			return nil // cut off
		}
		conn.SetReadDeadline(time.Now().Add(time.Millisecond))
		if _, err := conn.Read(make([]byte, 1)); err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue // still connected, nothing said
			}
			return nil // EOF or reset: cut off
		}
		return nil // the server answered (408) and will close
	}
	return fmt.Errorf("still connected after %s", limit)
}
