package main

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

func TestWaitServer(t *testing.T) {
	var calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) < 3 {
			http.Error(w, "starting", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("X-Total-Count", "100000")
	}))
	defer srv.Close()
	n, err := waitServer(context.Background(), srv.Client(), srv.URL, 10*time.Second)
	if err != nil || n != 100000 {
		t.Errorf("= %d, %v; want 100000 after two 503s", n, err)
	}
	if _, err := waitServer(context.Background(), srv.Client(), "http://127.0.0.1:1/", 200*time.Millisecond); err == nil {
		t.Error("no error for a server that never answers")
	}
}

func TestFreeAddr(t *testing.T) {
	addr, err := freeAddr()
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listen on %s: %v", addr, err)
	}
	l.Close()
}

func TestServeRows(t *testing.T) {
	lat := func(ms ...int) []time.Duration {
		var out []time.Duration
		for _, m := range ms {
			out = append(out, time.Duration(m)*time.Millisecond)
		}
		return out
	}
	for _, tc := range []struct {
		name  string
		small LoadResult
		want  Verdict
	}{
		{"fast", LoadResult{Latencies: lat(1, 2, 3, 19), Wall: time.Second}, Pass},
		{"slow tail", LoadResult{Latencies: lat(1, 2, 3, 21), Wall: time.Second}, Miss},
		{"nothing answered", LoadResult{Wall: time.Second}, Miss},
	} {
		t.Run(tc.name, func(t *testing.T) {
			other := LoadResult{Latencies: lat(900), Wall: time.Second}
			rows := serveRows(tc.small, other, other, 8, 2, procSample{}, procSample{At: time.Unix(1, 0)}, procSample{At: time.Unix(2, 0)})
			if len(rows) != 3 || rows[0].Result != tc.want {
				t.Errorf("rows %+v, want first %s", rows, tc.want)
			}
		})
	}
}
