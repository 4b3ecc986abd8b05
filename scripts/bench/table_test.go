package main

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestWriteTable(t *testing.T) {
	var b strings.Builder
	err := writeTable(&b, []Row{
		{What: "a|b", Netmon: "1 ms", Target: "< 2 ms", Result: Pass},
		{What: "c", Baseline: "mawk 9 ms", Ratio: "9x", PeakRSS: "3 MiB", Result: Miss},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := `| what | netmon | baseline (same run) | ratio | peak RSS | target | result |
|---|---|---|---|---|---|---|
| a\|b | 1 ms |   |   |   | < 2 ms | PASS |
| c |   | mawk 9 ms | 9x | 3 MiB |   | MISS |
`
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestFormat(t *testing.T) {
	for _, tc := range []struct{ name, got, want string }{
		{"ms large", ms(1234567 * time.Microsecond), "1235 ms"},
		{"ms mid", ms(12345 * time.Microsecond), "12.3 ms"},
		{"ms small", ms(1234 * time.Microsecond), "1.23 ms"},
		{"size", size(3 << 20), "3.0 MiB"},
		{"negative size", size(-2048), "-2.0 KiB"},
		{"count", count(1234567), "1,234,567"},
		{"ratio big", ratio(95, 5), "19x"},
		{"ratio small", ratio(9, 4), "2.2x"},
		{"ratio by zero", ratio(1, 0), "n/a"},
		{"verdict true", string(verdict(true)), "PASS"},
		{"verdict false", string(verdict(false)), "MISS"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.got != tc.want {
				t.Errorf("got %q, want %q", tc.got, tc.want)
			}
		})
	}
}
