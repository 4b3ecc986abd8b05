package main

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const benchOutput = `goos: linux
goarch: amd64
pkg: github.com/netmon-dev/netmon/pkg/conntrack
cpu: AMD EPYC
BenchmarkParse 	      20	  64876321 ns/op	 311.27 MB/s	         0.0000300 allocs/line	   1541394 lines/s	   65872 B/op	       3 allocs/op
BenchmarkParse 	      24	  60000000 ns/op	 330.00 MB/s	         0.0000300 allocs/line	   1666666 lines/s	   65872 B/op	       3 allocs/op
BenchmarkParseLine/tcp-2   	 1000000	      512 ns/op	  41.34 MB/s	       0 B/op	       0 allocs/op
BenchmarkParse logs something here
PASS
ok  	github.com/netmon-dev/netmon/pkg/conntrack	3.311s
`

func TestParseBench(t *testing.T) {
	lines, err := parseBench(strings.NewReader(benchOutput))
	if err != nil {
		t.Fatal(err)
	}
	want := []BenchLine{
		{Name: "BenchmarkParse", N: 20, Metrics: map[string]float64{"ns/op": 64876321, "MB/s": 311.27, "allocs/line": 0.00003, "lines/s": 1541394, "B/op": 65872, "allocs/op": 3}},
		{Name: "BenchmarkParse", N: 24, Metrics: map[string]float64{"ns/op": 60000000, "MB/s": 330, "allocs/line": 0.00003, "lines/s": 1666666, "B/op": 65872, "allocs/op": 3}},
		{Name: "BenchmarkParseLine/tcp-2", N: 1000000, Metrics: map[string]float64{"ns/op": 512, "MB/s": 41.34, "B/op": 0, "allocs/op": 0}},
	}
	if diff := cmp.Diff(want, lines); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	for _, tc := range []struct {
		name, bench, unit string
		want              float64
		wantN             int
	}{
		{"median of two", "BenchmarkParse", "lines/s", (1541394 + 1666666) / 2, 2},
		{"other benchmark", "BenchmarkParseLine/tcp-2", "ns/op", 512, 1},
		{"missing unit", "BenchmarkParse", "rows/s", 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, n := medianMetric(lines, tc.bench, tc.unit)
			if got != tc.want || n != tc.wantN {
				t.Errorf("= %v, %d; want %v, %d", got, n, tc.want, tc.wantN)
			}
		})
	}
}

func TestParseBenchBadValue(t *testing.T) {
	if _, err := parseBench(strings.NewReader("BenchmarkX 	 10	 abc ns/op\n")); err == nil {
		t.Error("no error for a non-numeric value")
	}
}
