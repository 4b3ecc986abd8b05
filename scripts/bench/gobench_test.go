package main

import (
	"strings"
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

const historyOutput = `goos: linux
pkg: github.com/netmon-dev/netmon/pkg/store
BenchmarkRecordYear/device-list-30d         	     210	   5400000 ns/op	        86.00 MiB-db
BenchmarkRecordYear/device-400-days         	     240	   4900000 ns/op
BenchmarkRecordYear/remote-list-30d         	      30	  40000000 ns/op
BenchmarkCommit                             	      30	  33000000 ns/op	    150000 wal-B/commit
PASS
`

func TestHistoryRows(t *testing.T) {
	type got struct{ Netmon, Ratio, Result string }
	slow := strings.Replace(historyOutput, "33000000 ns/op	    150000", "33000000 ns/op	   1200000", 1)
	for _, tc := range []struct {
		name, out string
		want      []got
		err       bool
	}{
		{"within the targets", historyOutput, []got{
			{"5.4 ms (remote host list for 30 days: 40.0 ms)", "0.27 of 20 ms", "PASS"},
			{"4.9 ms", "0.49 of 10 ms", "PASS"},
			{"33.0 ms; 150 kB written to the WAL", "0.66 of 50 ms; 0.15 of 1 MB", "PASS"},
		}, false},
		{"a commit writing too much", slow, []got{
			{"5.4 ms (remote host list for 30 days: 40.0 ms)", "0.27 of 20 ms", "PASS"},
			{"4.9 ms", "0.49 of 10 ms", "PASS"},
			{"33.0 ms; 1.2 MB written to the WAL", "0.66 of 50 ms; 1.20 of 1 MB", "MISS"},
		}, false},
		{"a benchmark missing", strings.Replace(historyOutput, "BenchmarkCommit ", "BenchmarkOther ", 1), nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rows, err := historyRows(tc.out)
			if (err != nil) != tc.err {
				t.Fatalf("err = %v, want error %v", err, tc.err)
			}
			var g []got
			for _, r := range rows {
				g = append(g, got{r.Netmon, r.Ratio, r.Result})
			}
			if diff := cmp.Diff(tc.want, g); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	rows, _ := historyRows(historyOutput)
	if want := "a year's record of 100 devices, 2,000 remote hosts a day (86 MiB)"; !strings.Contains(rows[0].What, want) {
		t.Errorf("row %q does not say %q", rows[0].What, want)
	}
}
