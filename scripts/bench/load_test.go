package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
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
		wantOK     int
		wantErrors int
	}{
		{name: "all succeed", path: "/ok", workers: 4, perWorker: 5, wantOK: 20},
		{name: "every fourth fails", path: "/flaky", workers: 2, perWorker: 4, wantOK: 6, wantErrors: 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hits.Store(0)
			res := load(context.Background(), srv.Client(), srv.URL+tc.path, tc.workers, tc.perWorker)
			if len(res.Latencies) != tc.wantOK || res.Errors != tc.wantErrors {
				t.Fatalf("%d ok, %d errors; want %d, %d (first error %v)", len(res.Latencies), res.Errors, tc.wantOK, tc.wantErrors, res.FirstErr)
			}
			if (res.FirstErr != nil) != (tc.wantErrors > 0) {
				t.Errorf("FirstErr = %v", res.FirstErr)
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
	res := load(ctx, srv.Client(), srv.URL, 3, 100)
	if len(res.Latencies)+res.Errors != 0 {
		t.Errorf("%d requests after cancel, want 0", len(res.Latencies)+res.Errors)
	}
}
