package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseIO(t *testing.T) {
	for _, tc := range []struct {
		name    string
		in      string
		want    IO
		wantErr bool
	}{
		{
			name: "real file",
			in:   "rchar: 3152704\nwchar: 3145822\nsyscr: 13\nsyscw: 6\nread_bytes: 90112\nwrite_bytes: 3149824\ncancelled_write_bytes: 0\n",
			want: IO{WChar: 3145822, WriteBytes: 3149824},
		},
		{name: "missing write_bytes", in: "rchar: 1\nwchar: 2\n", wantErr: true},
		{name: "not a number", in: "wchar: x\nwrite_bytes: 1\n", wantErr: true},
		{name: "empty", in: "", wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseIO([]byte(tc.in))
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tc.wantErr)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseStatCPU(t *testing.T) {
	for _, tc := range []struct {
		name    string
		in      string
		want    uint64
		wantErr bool
	}{
		{
			name: "plain",
			in:   "24480 (netmon) S 1 24480 24480 0 -1 4194560 5000 0 0 0 150 37 0 0 20 0 7 0 9000 1000000 4000 18446744073709551615",
			want: 187,
		},
		{
			name: "command with spaces and parentheses",
			in:   "7 (a (b) c) R 1 7 7 0 -1 0 0 0 0 0 3 4 0 0 20 0 1 0 1 1 1",
			want: 7,
		},
		{name: "truncated", in: "7 (x) R 1 2 3", wantErr: true},
		{name: "no command", in: "7 x R", wantErr: true},
		{name: "bad number", in: "7 (x) R 1 7 7 0 -1 0 0 0 0 0 a 4 0", wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseStatCPU([]byte(tc.in))
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tc.wantErr)
			}
			if got != tc.want {
				t.Errorf("ticks = %d, want %d", got, tc.want)
			}
		})
	}
}

func TestParseStatusKB(t *testing.T) {
	const status = "Name:\tnetmon\nVmHWM:\t   38912 kB\nVmRSS:\t   36864 kB\nThreads:\t7\n"
	for _, tc := range []struct {
		name, in, key string
		want          int64
		wantErr       bool
	}{
		{name: "rss", in: status, key: "VmRSS", want: 36864 << 10},
		{name: "hwm", in: status, key: "VmHWM", want: 38912 << 10},
		{name: "missing", in: status, key: "VmSwap", wantErr: true},
		{name: "not kB", in: "Threads:\t7\n", key: "Threads", wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseStatusKB([]byte(tc.in), tc.key)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tc.wantErr)
			}
			if got != tc.want {
				t.Errorf("= %d, want %d", got, tc.want)
			}
		})
	}
}

// gnuTime returns a measurer, or skips the test without GNU time.
func gnuTime(t *testing.T) measurer {
	t.Helper()
	bin, err := exec.LookPath("/usr/bin/time")
	if err != nil {
		t.Skip("no /usr/bin/time (apt install time)")
	}
	return measurer{Time: bin, Scratch: t.TempDir()}
}

// TestMeasure runs real children and checks that the bytes they write
// and the memory they touch are seen, including writes made just before
// exiting, and that this process's own memory does not leak into the
// child's peak RSS.
func TestMeasure(t *testing.T) {
	m := gnuTime(t)
	dir := t.TempDir()
	ctx := context.Background()

	ballast := make([]byte, 96<<20)
	for i := range ballast {
		ballast[i] = 1
	}
	r, err := m.measure(ctx, dir, []string{"dd", "if=/dev/zero", "of=out", "bs=100000", "count=3", "status=none"}, nil)
	runtime.KeepAlive(ballast)
	if err != nil {
		t.Fatal(err)
	}
	if r.IO.WChar < 300000 {
		t.Errorf("wchar = %d, want >= 300000", r.IO.WChar)
	}
	if fi, err := os.Stat(filepath.Join(dir, "out")); err != nil || fi.Size() != 300000 {
		t.Errorf("dd output: %v, %v", fi, err)
	}
	if r.Wall <= 0 || r.MaxRSS <= 0 || r.MaxRSS > 32<<20 {
		t.Errorf("wall %v, maxrss %d: want both > 0 and dd well under the 96 MiB this test holds", r.Wall, r.MaxRSS)
	}

	// 40 MB held by the child itself (a shell variable) must show.
	r, err = m.measure(ctx, dir, []string{"sh", "-c", `x=$(head -c 40000000 /dev/zero | tr '\0' a); echo ${#x}`}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.MaxRSS < 38<<20 {
		t.Errorf("maxrss %d: the child's own 40 MB do not show", r.MaxRSS)
	}

	var out bytes.Buffer
	if _, err := m.measure(ctx, "", []string{"echo", "hello"}, &out); err != nil {
		t.Fatal(err)
	}
	if out.String() != "hello\n" {
		t.Errorf("stdout = %q", out.String())
	}

	if _, err := m.measure(ctx, "", []string{"sh", "-c", "echo boom >&2; exit 3"}, nil); err == nil {
		t.Error("failing command: no error")
	}
	if _, err := m.measure(ctx, "", nil, nil); err == nil {
		t.Error("empty command: no error")
	}
	if _, err := (measurer{}).measure(ctx, "", []string{"true"}, nil); err == nil {
		t.Error("no time binary: no error")
	}
}

func TestParseTimeRSS(t *testing.T) {
	for _, tc := range []struct {
		name    string
		in      string
		want    int64
		wantErr bool
	}{
		{name: "plain", in: "2696\n", want: 2696},
		{name: "after a failure line", in: "Command exited with non-zero status 3\n1800\n", want: 1800},
		{name: "empty", in: "", wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseTimeRSS([]byte(tc.in))
			if (err != nil) != tc.wantErr || got != tc.want {
				t.Errorf("= %d, %v; want %d, error %v", got, err, tc.want, tc.wantErr)
			}
		})
	}
}

func TestTailBuffer(t *testing.T) {
	var tb tailBuffer
	tb.Write(bytes.Repeat([]byte("a"), 5000))
	tb.Write([]byte("end"))
	if got := tb.String(); len(got) != 4096 || got[len(got)-3:] != "end" {
		t.Errorf("kept %d bytes ending %q, want 4096 ending \"end\"", len(got), got[len(got)-3:])
	}
}
