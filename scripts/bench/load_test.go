package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

func TestLoad(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := hits.Add(1)
		if r.URL.Path == "/flaky" && n%4 == 0 {
			http.Error(w, "no", http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("0123456789"))
	}))
	defer srv.Close()
	for _, tc := range []struct {
		name       string
		path       string
		workers    int
		perWorker  int
		every      time.Duration
		wantOK     int
		wantErrors int
		minWall    time.Duration
	}{
		{name: "all succeed", path: "/ok", workers: 4, perWorker: 5, wantOK: 20},
		{name: "every fourth fails", path: "/flaky", workers: 2, perWorker: 4, wantOK: 6, wantErrors: 2},
		// 3 requests per worker 40 ms apart: the last is due at 80 ms.
		{name: "paced", path: "/ok", workers: 2, perWorker: 3, every: 40 * time.Millisecond, wantOK: 6, minWall: 80 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hits.Store(0)
			res := load(context.Background(), srv.Client(), srv.URL+tc.path, tc.workers, tc.perWorker, tc.every)
			if len(res.Latencies) != tc.wantOK || res.Errors != tc.wantErrors {
				t.Fatalf("%d ok, %d errors; want %d, %d (first error %v)", len(res.Latencies), res.Errors, tc.wantOK, tc.wantErrors, res.FirstErr)
			}
			if (res.FirstErr != nil) != (tc.wantErrors > 0) {
				t.Errorf("FirstErr = %v", res.FirstErr)
			}
			if res.Wall < tc.minWall {
				t.Errorf("Wall = %v, want >= %v", res.Wall, tc.minWall)
			}
			if res.Bytes != 10 {
				t.Errorf("Bytes = %d, want 10", res.Bytes)
			}
			for i := 1; i < len(res.Latencies); i++ {
				if res.Latencies[i] < res.Latencies[i-1] {
					t.Fatal("latencies not sorted")
				}
			}
			if res.P(100) != res.Latencies[len(res.Latencies)-1] {
				t.Errorf("P(100) = %v, want the max", res.P(100))
			}
		})
	}
}

func TestLoadCancelled(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	res := load(ctx, srv.Client(), srv.URL, 3, 100, 0)
	if len(res.Latencies)+res.Errors != 0 {
		t.Errorf("%d requests after cancel, want 0", len(res.Latencies)+res.Errors)
	}
}

// TestLoadLateRequestsCountTheirDelay checks that a stalled server is not
// hidden: with one worker polling every 10 ms and a 60 ms stall on the
// first request, the second request, due at 10 ms but sent at 60 ms, is
// timed from 10 ms.
func TestLoadLateRequestsCountTheirDelay(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hits.Add(1) == 1 {
			time.Sleep(60 * time.Millisecond)
		}
	}))
	defer srv.Close()
	res := load(context.Background(), srv.Client(), srv.URL, 1, 2, 10*time.Millisecond)
	if len(res.Latencies) != 2 {
		t.Fatalf("%d answers, want 2 (%v)", len(res.Latencies), res.FirstErr)
	}
	if res.Latencies[0] < 45*time.Millisecond {
		t.Errorf("latencies %v: the delayed request should count at least the 50 ms it waited", res.Latencies)
	}
}
