package main

import (
	"strings"
	"testing"
	"time"
)

func TestLoopRows(t *testing.T) {
	t0 := time.Unix(1000, 0)
	for _, tc := range []struct {
		name       string
		a, b       procSample
		want       Verdict
		wantInCell string
	}{
		{
			name:       "1% of a core",
			a:          procSample{At: t0, Ticks: 100, Cycles: 2, IO: IO{WChar: 1000}},
			b:          procSample{At: t0.Add(60 * time.Second), Ticks: 160, Cycles: 62, IO: IO{WChar: 1000 + 60*4096}, RSS: 30 << 20, HWM: 31 << 20},
			want:       Pass,
			wantInCell: "1.00% of one core; 60 cycles; wchar 4.0 KiB/cycle",
		},
		{
			name:       "busy",
			a:          procSample{At: t0, Cycles: 2},
			b:          procSample{At: t0.Add(10 * time.Second), Ticks: 100, Cycles: 12},
			want:       Miss,
			wantInCell: "10.00% of one core",
		},
		{
			name:       "no cycle in the window",
			a:          procSample{At: t0, Cycles: 2},
			b:          procSample{At: t0.Add(10 * time.Second), Cycles: 2},
			want:       Miss,
			wantInCell: "0 cycles",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rows := loopRows(tc.a, tc.b)
			if rows[0].Result != tc.want || !strings.Contains(rows[0].Netmon, tc.wantInCell) {
				t.Errorf("row %+v, want %s containing %q", rows[0], tc.want, tc.wantInCell)
			}
		})
	}
}
