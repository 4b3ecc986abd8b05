package main

import (
	"context"
	"testing"
	"time"
)

// TestDaemon runs a shell that logs two cycle lines and burns a little
// CPU, then waits to be interrupted.
func TestDaemon(t *testing.T) {
	script := `trap 'exit 0' INT
echo 'level=INFO msg="ingest cycle" entries=1' >&2
echo 'level=INFO msg="ingest loop started"' >&2
echo 'level=INFO msg="ingest cycle" entries=1' >&2
while :; do sleep 0.05; done`
	d, err := startDaemon([]string{"sh", "-c", script})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.waitCycles(context.Background(), 2, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if got := d.Cycles(); got != 2 {
		t.Errorf("cycles = %d, want 2 (the other line is not a cycle)", got)
	}
	s, err := d.sample()
	if err != nil {
		t.Fatal(err)
	}
	if s.RSS <= 0 || s.HWM < s.RSS {
		t.Errorf("RSS %d, HWM %d: want 0 < RSS <= HWM", s.RSS, s.HWM)
	}
	if err := d.stop(); err != nil {
		t.Fatal(err)
	}
}

func TestDaemonExitsEarly(t *testing.T) {
	d, err := startDaemon([]string{"sh", "-c", "echo bad config >&2; exit 2"})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.waitCycles(context.Background(), 1, 10*time.Second); err == nil {
		t.Error("no error when the child exits before a cycle")
	}
	if err := d.stop(); err == nil {
		t.Error("stop: no error for exit status 2")
	}
}

func TestCPUShare(t *testing.T) {
	t0 := time.Unix(1000, 0)
	for _, tc := range []struct {
		name string
		a, b procSample
		want float64
	}{
		{"idle", procSample{At: t0, Ticks: 50}, procSample{At: t0.Add(10 * time.Second), Ticks: 50}, 0},
		{"2% of a core", procSample{At: t0, Ticks: 50}, procSample{At: t0.Add(60 * time.Second), Ticks: 170}, 0.02},
		{"two full cores", procSample{At: t0}, procSample{At: t0.Add(time.Second), Ticks: 200}, 2},
		{"no time passed", procSample{At: t0}, procSample{At: t0, Ticks: 5}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := cpuShare(tc.a, tc.b); got < tc.want-1e-9 || got > tc.want+1e-9 {
				t.Errorf("cpuShare = %v, want %v", got, tc.want)
			}
		})
	}
}
