package sysmetrics

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseMeminfo(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    Memory
		wantErr bool
	}{
		{
			name: "modern kernel",
			in:   "MemTotal:        1000 kB\nMemFree:          100 kB\nMemAvailable:     600 kB\nBuffers:  10 kB\nHugePages_Total:       0\n",
			want: Memory{TotalBytes: 1000 * 1024, AvailableBytes: 600 * 1024, UsedBytes: 400 * 1024},
		},
		{
			name: "old kernel without MemAvailable",
			in:   "MemTotal: 1000 kB\nMemFree: 100 kB\nBuffers: 50 kB\nCached: 250 kB\n",
			want: Memory{TotalBytes: 1000 * 1024, AvailableBytes: 400 * 1024, UsedBytes: 600 * 1024},
		},
		{
			name: "old kernel whose free sum exceeds total is capped",
			in:   "MemTotal: 100 kB\nMemFree: 90 kB\nCached: 90 kB\n",
			want: Memory{TotalBytes: 100 * 1024, AvailableBytes: 100 * 1024, UsedBytes: 0},
		},
		{name: "empty", in: "", wantErr: true},
		{name: "no MemTotal", in: "MemAvailable: 5 kB\n", wantErr: true},
		{name: "no available nor free", in: "MemTotal: 5 kB\n", wantErr: true},
		{name: "available over total", in: "MemTotal: 5 kB\nMemAvailable: 6 kB\n", wantErr: true},
		{name: "bad number", in: "MemTotal: 12x kB\nMemAvailable: 6 kB\n", wantErr: true},
		{name: "unknown unit", in: "MemTotal: 12 MB\nMemAvailable: 6 kB\n", wantErr: true},
		{name: "overflow", in: "MemTotal: 18446744073709551615 kB\nMemAvailable: 6 kB\n", wantErr: true},
		{name: "missing value", in: "MemTotal:\nMemAvailable: 6 kB\n", wantErr: true},
		{name: "garbage lines are skipped", in: "\x00\xff\nMemTotal: 2 kB\nnonsense\nMemAvailable: 1 kB\n", want: Memory{2048, 1024, 1024}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseMeminfo([]byte(tc.in))
			if (err != nil) != tc.wantErr {
				t.Fatalf("ParseMeminfo error = %v, wantErr %v", err, tc.wantErr)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("ParseMeminfo (-want +got):\n%s", diff)
			}
		})
	}
}
