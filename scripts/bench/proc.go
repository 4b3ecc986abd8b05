package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// clockTicks is USER_HZ, the unit of utime/stime in /proc/<pid>/stat. It is
// 100 on every architecture Linux runs netmon on (the kernel converts from
// its internal HZ), and a pure-Go program cannot ask sysconf for it.
const clockTicks = 100

// IO is the part of /proc/<pid>/io the benchmarks read.
type IO struct {
	// WChar counts every byte the process passed to write(2) and friends,
	// whatever the file system did with it.
	WChar uint64
	// WriteBytes counts bytes the process caused to be sent to the block
	// layer (0 on tmpfs).
	WriteBytes uint64
}

// Sub returns the growth from earlier to io.
func (io IO) Sub(earlier IO) IO {
	return IO{WChar: io.WChar - earlier.WChar, WriteBytes: io.WriteBytes - earlier.WriteBytes}
}

// parseIO reads the "key: value" lines of /proc/<pid>/io.
func parseIO(b []byte) (IO, error) {
	var out IO
	seen := 0
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		var dst *uint64
		switch k {
		case "wchar":
			dst = &out.WChar
		case "write_bytes":
			dst = &out.WriteBytes
		default:
			continue
		}
		n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
		if err != nil {
			return IO{}, fmt.Errorf("parse io %s: %w", k, err)
		}
		*dst = n
		seen++
	}
	if seen != 2 {
		return IO{}, errors.New("parse io: wchar or write_bytes missing")
	}
	return out, nil
}

// parseStatCPU returns utime+stime of /proc/<pid>/stat in clock ticks. The
// command name (field 2) may hold spaces and parentheses, so fields are
// counted after the last ')'.
func parseStatCPU(b []byte) (uint64, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, errors.New("parse stat: no ')' after the command name")
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state); utime and stime are fields 14 and 15.
	if len(f) < 13 {
		return 0, fmt.Errorf("parse stat: %d fields after the command name, want at least 13", len(f))
	}
	var sum uint64
	for _, s := range f[11:13] {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("parse stat: %w", err)
		}
		sum += n
	}
	return sum, nil
}

// parseStatusKB returns the value of a "Key:   123 kB" line of
// /proc/<pid>/status in bytes.
func parseStatusKB(b []byte, key string) (int64, error) {
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok || k != key {
			continue
		}
		num, unit, _ := strings.Cut(strings.TrimSpace(v), " ")
		if unit != "kB" {
			return 0, fmt.Errorf("parse status %s: unit %q, want kB", key, unit)
		}
		n, err := strconv.ParseInt(num, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("parse status %s: %w", key, err)
		}
		return n * 1024, nil
	}
	return 0, fmt.Errorf("parse status: no %s line", key)
}

// Run is one measured run of a child process to its end.
type Run struct {
	Wall      time.Duration
	User, Sys time.Duration
	// MaxRSS is the peak resident set size, as GNU time reports it.
	MaxRSS int64
	// IO is /proc/<pid>/io read after the process exited, before it was reaped.
	IO IO
}

// CPU is user plus system time.
func (r Run) CPU() time.Duration { return r.User + r.Sys }

// measurer runs commands to completion and measures them.
//
// The peak RSS comes from GNU time (/usr/bin/time, Debian package time)
// wrapped around the command, not from this process's wait4: Linux folds
// the RSS high-water mark of the memory a child had before exec into the
// child's ru_maxrss, and a Go parent's children start on the parent's
// memory (vfork), so every child would report at least this program's own
// peak (measured: dd "using" 105 MB under a 105 MB parent; 2.6 MB under
// time, which forks from a small process).
type measurer struct {
	// Time is the GNU time binary.
	Time string
	// Scratch is a directory for time's output file.
	Scratch string
}

// measure runs argv in dir ("" = the current directory) to completion
// with stdout going to out (nil: /dev/null). It reads /proc/<pid>/io of
// the exited but not yet reaped time process (waitid with WNOWAIT), which
// includes the I/O of the command it reaped, so the last writes are
// counted; CPU time comes from wait4's rusage, which includes reaped
// children too.
func (m measurer) measure(ctx context.Context, dir string, argv []string, out io.Writer) (Run, error) {
	if len(argv) == 0 {
		return Run{}, errors.New("measure: empty command")
	}
	if m.Time == "" {
		return Run{}, errors.New("measure: no GNU time binary")
	}
	rssFile, err := os.CreateTemp(m.Scratch, "maxrss-")
	if err != nil {
		return Run{}, fmt.Errorf("create time output: %w", err)
	}
	rssFile.Close()
	defer os.Remove(rssFile.Name())
	full := append([]string{m.Time, "-f", "%M", "-o", rssFile.Name()}, argv...)
	cmd := exec.CommandContext(ctx, full[0], full[1:]...)
	cmd.Dir = dir
	if out == nil {
		null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
		if err != nil {
			return Run{}, fmt.Errorf("open %s: %w", os.DevNull, err)
		}
		defer null.Close()
		cmd.Stdout = null
	} else {
		cmd.Stdout = out
	}
	var stderr tailBuffer
	cmd.Stderr = &stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return Run{}, fmt.Errorf("start %s: %w", m.Time, err)
	}
	pid := cmd.Process.Pid
	var info unix.Siginfo
	var werr error
	for {
		werr = unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
		if !errors.Is(werr, unix.EINTR) {
			break
		}
	}
	wall := time.Since(start)
	var pio IO
	var ioErr error
	if werr == nil {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/io", pid))
		if err == nil {
			pio, ioErr = parseIO(b)
		} else {
			ioErr = fmt.Errorf("read io: %w", err)
		}
	}
	if err := cmd.Wait(); err != nil {
		return Run{}, fmt.Errorf("run %s: %w: %s", strings.Join(argv, " "), err, strings.TrimSpace(stderr.String()))
	}
	if werr != nil {
		return Run{}, fmt.Errorf("waitid: %w", werr)
	}
	if ioErr != nil {
		return Run{}, ioErr
	}
	ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		return Run{}, errors.New("no rusage for the child")
	}
	b, err := os.ReadFile(rssFile.Name())
	if err != nil {
		return Run{}, fmt.Errorf("read time output: %w", err)
	}
	kb, err := parseTimeRSS(b)
	if err != nil {
		return Run{}, err
	}
	return Run{
		Wall:   wall,
		User:   time.Duration(ru.Utime.Nano()),
		Sys:    time.Duration(ru.Stime.Nano()),
		MaxRSS: kb * 1024,
		IO:     pio,
	}, nil
}

// parseTimeRSS reads the kilobytes GNU time -f %M wrote: the last line
// (a failed command adds a "Command exited with non-zero status" line
// before it).
func parseTimeRSS(b []byte) (int64, error) {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	n, err := strconv.ParseInt(strings.TrimSpace(lines[len(lines)-1]), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("parse time output %q: %w", b, err)
	}
	return n, nil
}

// tailBuffer keeps the last 4 KiB written to it: enough of a child's stderr
// to explain a failure, bounded however chatty the child is.
type tailBuffer struct{ b []byte }

// Write implements io.Writer.
func (t *tailBuffer) Write(p []byte) (int, error) {
	const keep = 4 << 10
	t.b = append(t.b, p...)
	if len(t.b) > keep {
		t.b = append(t.b[:0], t.b[len(t.b)-keep:]...)
	}
	return len(p), nil
}

// String returns what was kept.
func (t *tailBuffer) String() string { return string(t.b) }
