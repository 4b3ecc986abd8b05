package main

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

const benchOutput = `goos: linux
pkg: github.com/netmon-dev/netmon/pkg/conntrack
BenchmarkParse 	      40	  24893734 ns/op	 812.45 MB/s	         0.0000300 allocs/line	   4017000 lines/cpu-s	   4017075 lines/s	   65872 B/op	       3 allocs/op
BenchmarkParse logs something here
BenchmarkParse 	      42	  25000000 ns/op	 808.00 MB/s	         0.0000300 allocs/line	   3999000 lines/cpu-s	   4000000 lines/s	   65872 B/op	       3 allocs/op
BenchmarkParseLine/tcp-2   	 1000000	      512 ns/op	  41.34 MB/s	       0 B/op	       0 allocs/op
PASS
ok  	github.com/netmon-dev/netmon/pkg/conntrack	3.311s
`

func TestBenchMetrics(t *testing.T) {
	for _, tc := range []struct {
		name, bench string
		want        map[string][]float64
	}{
		{"two runs", "BenchmarkParse", map[string][]float64{
			"ns/op": {24893734, 25e6}, "MB/s": {812.45, 808}, "allocs/line": {0.00003, 0.00003}, "lines/cpu-s": {4017000, 3999000},
			"lines/s": {4017075, 4e6}, "B/op": {65872, 65872}, "allocs/op": {3, 3},
		}},
		{"a sub-benchmark with its -cpu suffix", "BenchmarkParseLine/tcp-2", map[string][]float64{
			"ns/op": {512}, "MB/s": {41.34}, "B/op": {0}, "allocs/op": {0},
		}},
		{"not there", "BenchmarkNone", map[string][]float64{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, benchMetrics(benchOutput, tc.bench)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestParserRows(t *testing.T) {
	rows, err := parserRows(benchMetrics(benchOutput, "BenchmarkParse"))
	if err != nil {
		t.Fatal(err)
	}
	want := []Row{
		{
			What:     "parser, big_100000 (100,000 real lines), 1 core, median of 2",
			Netmon:   "4,008,000 lines/CPU-s (810 MB/CPU-s); wall clock 4,008,537 lines/s, 810 MB/s",
			Baseline: "conntrack prints 303,030/s", Ratio: "13x conntrack's rate",
			Target: ">= 3,000,000 lines/s on one core", Result: "PASS",
		},
		{
			What: "parser garbage per line", Netmon: "0.00003 allocs/line, 0.66 B/line",
			Ratio:  "65872 B in 3 allocs per whole 100k-line parse",
			Target: "0 allocs/line (< 0.001)", Result: "PASS",
		},
	}
	if diff := cmp.Diff(want, rows); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if _, err := parserRows(benchMetrics(benchOutput, "BenchmarkNone")); err == nil {
		t.Error("no error for a benchmark missing from the output")
	}
}
