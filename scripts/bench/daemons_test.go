package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	hundred := make([]time.Duration, 100)
	for i := range hundred {
		hundred[i] = time.Duration(i + 1)
	}
	for _, tc := range []struct {
		name string
		lat  []time.Duration
		p    float64
		want time.Duration
	}{
		{"none", nil, 99, 0},
		{"one", []time.Duration{7}, 50, 7},
		{"p50 of 100", hundred, 50, 50},
		{"p99 of 100", hundred, 99, 99},
		{"max", hundred, 100, 100},
		{"p99 of 10 is the max", hundred[:10], 99, 10},
		{"p50 of 4 is the second", []time.Duration{1, 2, 3, 4}, 50, 2},
		{"tiny p is the min", hundred, 0.001, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := (LoadResult{Latencies: tc.lat}).P(tc.p); got != tc.want {
				t.Errorf("P(%v) = %v, want %v", tc.p, got, tc.want)
			}
		})
	}
}

// TestLoad runs both kinds of load against a server whose every third
// request fails: the paced one must keep its schedule (4 requests per
// worker 20 ms apart take at least 60 ms), and failures are counted, not
// timed.
func TestLoad(t *testing.T) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1)%3 == 0 {
			http.Error(w, "no", http.StatusInternalServerError)
			return
		}
		w.Write([]byte("hello"))
	}))
	defer srv.Close()
	for _, every := range []time.Duration{0, 20 * time.Millisecond} {
		n.Store(0)
		res := load(context.Background(), srv.Client(), srv.URL, 3, 4, every)
		if len(res.Latencies) != 8 || res.Errors != 4 || res.FirstErr == nil || res.Bytes != 5 {
			t.Errorf("every %v: %d latencies, %d errors (%v), %d bytes; want 8, 4, 5", every, len(res.Latencies), res.Errors, res.FirstErr, res.Bytes)
		}
		if every > 0 && res.Wall < 3*every {
			t.Errorf("paced load took %v, want >= %v", res.Wall, 3*every)
		}
	}
}
