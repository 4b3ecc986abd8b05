package main

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestMedian(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []float64
		want float64
	}{
		{"none", nil, 0},
		{"one", []float64{3}, 3},
		{"odd", []float64{9, 1, 5}, 5},
		{"even", []float64{4, 1, 3, 2}, 2.5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := append([]float64(nil), tc.in...)
			if got := median(tc.in); got != tc.want {
				t.Errorf("median = %v, want %v", got, tc.want)
			}
			if diff := cmp.Diff(in, tc.in); diff != "" {
				t.Errorf("input modified (-before +after):\n%s", diff)
			}
		})
	}
}

func TestPercentile(t *testing.T) {
	var ds []time.Duration
	for i := 1; i <= 200; i++ {
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	for _, tc := range []struct {
		name string
		in   []time.Duration
		p    float64
		want time.Duration
	}{
		{"empty", nil, 99, 0},
		{"p50 of 200", ds, 50, 100 * time.Millisecond},
		{"p99 of 200", ds, 99, 198 * time.Millisecond},
		{"max", ds, 100, 200 * time.Millisecond},
		{"p99 of 3 is the max", ds[:3], 99, 3 * time.Millisecond},
		{"tiny p is the min", ds, 0.001, time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := percentile(tc.in, tc.p); got != tc.want {
				t.Errorf("percentile(%v) = %v, want %v", tc.p, got, tc.want)
			}
		})
	}
}

func TestMedianRun(t *testing.T) {
	runs := []Run{
		{Wall: 3 * time.Second, User: time.Second, MaxRSS: 10, IO: IO{WChar: 5, WriteBytes: 1}},
		{Wall: 1 * time.Second, User: 3 * time.Second, MaxRSS: 30, IO: IO{WChar: 1, WriteBytes: 3}},
		{Wall: 2 * time.Second, User: 2 * time.Second, MaxRSS: 20, IO: IO{WChar: 3, WriteBytes: 2}},
	}
	want := Run{Wall: 2 * time.Second, User: 2 * time.Second, MaxRSS: 20, IO: IO{WChar: 3, WriteBytes: 2}}
	if diff := cmp.Diff(want, medianRun(runs)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if got := medianCPU(runs); got != 2*time.Second {
		t.Errorf("medianCPU = %v, want 2s", got)
	}
}
