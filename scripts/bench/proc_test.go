package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestProcFields(t *testing.T) {
	const io = "rchar: 3152704\nwchar: 3145822\nwrite_bytes: 3149824\n"
	const status = "Name:\tnetmon (x)\nVmHWM:\t   38912 kB\nVmRSS:\t   36864 kB\nThreads:\t7\n"
	for _, tc := range []struct {
		name, in string
		keys     []string
		want     map[string]int64
	}{
		{"io", io, []string{"wchar", "write_bytes"}, map[string]int64{"rchar": 3152704, "wchar": 3145822, "write_bytes": 3149824}},
		{"status, kB in bytes, names skipped", status, []string{"VmHWM"}, map[string]int64{"VmHWM": 38912 << 10, "VmRSS": 36864 << 10, "Threads": 7}},
		{"missing key", io, []string{"VmRSS"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := procFields([]byte(tc.in), tc.keys...)
			if (err != nil) != (tc.want == nil) {
				t.Fatalf("err = %v", err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestStatCPU(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     time.Duration // -1: an error
	}{
		{"plain", "24480 (netmon) S 1 24480 24480 0 -1 4194560 5000 0 0 0 150 37 0 0 20 0 7 0 9000", 1870 * time.Millisecond},
		{"name with spaces and parentheses", "7 (a (b) c) R 1 7 7 0 -1 0 0 0 0 0 3 4 0 0 20 0 1 0 1", 70 * time.Millisecond},
		{"truncated", "7 (x) R 1 2 3", -1},
		{"no name", "7 x R 1 7 7 0 -1 0 0 0 0 0 3 4 0 0 20 0 1 0 1", -1},
		{"bad number", "7 (x) R 1 7 7 0 -1 0 0 0 0 0 a 4 0", -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := statCPU([]byte(tc.in))
			if err != nil {
				got = -1
			}
			if got != tc.want {
				t.Errorf("= %v, %v; want %v", got, err, tc.want)
			}
		})
	}
}

func TestMedianRun(t *testing.T) {
	got := medianRun([]Run{{Wall: 3, CPU: 9, MaxRSS: 1, WChar: 5}, {Wall: 1, CPU: 7, MaxRSS: 2, WChar: 5}, {Wall: 2, CPU: 8, MaxRSS: 9, WChar: 6}})
	if want := (Run{Wall: 2, CPU: 8, MaxRSS: 2, WChar: 5}); got != want {
		t.Errorf("= %+v, want %+v", got, want)
	}
	if got, want := median([]float64{4, 1, 3, 2}), 2.5; got != want {
		t.Errorf("median of an even count = %v, want %v", got, want)
	}
}

// TestMeasure runs real commands under GNU time: the bytes a child of
// the measured shell writes must be counted, and the peak RSS must be the
// command's, not that of this process (which first grows to 128 MiB).
func TestMeasure(t *testing.T) {
	if _, err := os.Stat("/usr/bin/time"); err != nil {
		t.Skip("no GNU time (apt install time)")
	}
	big := bytes.Repeat([]byte{1}, 128<<20)
	ctx := context.Background()
	out := filepath.Join(t.TempDir(), "out")
	r, err := measure(ctx, nil, "sh", "-c", "head -c 3000000 /dev/zero > "+out)
	if err != nil {
		t.Fatal(err)
	}
	if r.WChar < 3e6 || r.MaxRSS <= 0 || r.MaxRSS > 32<<20 || r.Wall <= 0 {
		t.Errorf("run %+v: want wchar >= 3 MB, a peak RSS of a shell, some wall time", r)
	}
	if _, err := measure(ctx, nil, "sh", "-c", "echo why >&2; exit 3"); err == nil {
		t.Error("no error for a failing command")
	}
	runtime.KeepAlive(big)
}
