package main

import (
	"strings"
	"testing"
	"time"
)

func TestParserRows(t *testing.T) {
	line := func(rate, nsop float64) BenchLine {
		return BenchLine{Name: "BenchmarkParse", N: 10, Metrics: map[string]float64{
			"lines/s": rate, "ns/op": nsop, "MB/s": rate * 200 / 1e6, "B/op": 65536, "allocs/line": 0.00003,
		}}
	}
	// 100,000 lines per op; 10 extra iterations = 1,000,000 lines.
	for _, tc := range []struct {
		name    string
		samples []parseSample
		want    Verdict
		wantErr bool
	}{
		{
			name: "fast on the CPU, slow on the wall clock",
			samples: []parseSample{
				{Lines: []BenchLine{line(1e6, 1e8)}, DCPU: 250 * time.Millisecond, DIter: 10},
				{Lines: []BenchLine{line(1e6, 1e8)}, DCPU: 300 * time.Millisecond, DIter: 10},
				{Lines: []BenchLine{line(1e6, 1e8)}, DCPU: 900 * time.Millisecond, DIter: 10},
			},
			want: Pass,
		},
		{
			name:    "slow",
			samples: []parseSample{{Lines: []BenchLine{line(1e6, 1e8)}, DCPU: 500 * time.Millisecond, DIter: 10}},
			want:    Miss,
		},
		{name: "no benchmark output", samples: []parseSample{{DCPU: time.Second, DIter: 10}}, wantErr: true},
		{name: "no CPU difference", samples: []parseSample{{Lines: []BenchLine{line(1e6, 1e8)}, DIter: 10}}, wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rows, err := parserRows(tc.samples, 100_000)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tc.wantErr)
			}
			if err != nil {
				return
			}
			if rows[0].Result != tc.want {
				t.Errorf("rate row %+v, want %s", rows[0], tc.want)
			}
			if rows[1].Result != Pass || !strings.Contains(rows[1].Netmon, "0.66 B/line") {
				t.Errorf("garbage row %+v, want PASS with 0.66 B/line", rows[1])
			}
		})
	}
}

func TestCountLines(t *testing.T) {
	n, err := countLines("../../fixtures/conntrack/small_mixed.txt")
	if err != nil || n != 29 {
		t.Errorf("= %d, %v; want 29 lines", n, err)
	}
	if _, err := countLines("../../fixtures/conntrack/nonexistent.txt"); err == nil {
		t.Error("no error for a missing file")
	}
}
