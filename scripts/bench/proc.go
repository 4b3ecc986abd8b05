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
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Run is one measured run of a command to its end.
type Run struct {
	Wall, CPU time.Duration // CPU is user+system, reaped children included
	MaxRSS    int64         // peak resident set size, from GNU time's %M
	// WChar counts every byte passed to write(2) and friends; WriteBytes
	// the bytes sent to the block layer (0 on tmpfs): /proc's write_bytes,
	// counted when a page is dirtied, less cancelled_write_bytes, the
	// dirty pages a truncation or deletion dropped before writeback.
	WChar, WriteBytes int64
}

// medianRun returns, field by field, the median of runs (so the wall time
// and the peak RSS may come from different runs).
func medianRun(runs []Run) Run {
	var cols [5][]int64
	for _, r := range runs {
		for i, v := range []int64{int64(r.Wall), int64(r.CPU), r.MaxRSS, r.WChar, r.WriteBytes} {
			cols[i] = append(cols[i], v)
		}
	}
	return Run{time.Duration(median(cols[0])), time.Duration(median(cols[1])), median(cols[2]), median(cols[3]), median(cols[4])}
}

// median returns the middle value of xs (the mean of the two middle ones
// for an even count), or 0 for none. xs is not modified.
func median[T int64 | float64](xs []T) T {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Sorted(slices.Values(xs))
	m := len(s) / 2
	if len(s)%2 == 0 {
		return (s[m-1] + s[m]) / 2
	}
	return s[m]
}

// measure runs argv under GNU time with stdout going to out (nil:
// /dev/null). The peak RSS is time's %M, not this process's wait4: Linux
// folds the RSS high-water mark of the memory a child had before exec
// into its ru_maxrss, and a Go parent's children start on the parent's
// memory (vfork), so each would report at least this program's peak; time
// forks from a small process. /proc/<pid>/io of time is read once it has
// exited but before it is reaped (waitid WNOWAIT): it then includes the
// I/O of the command time reaped, last writes and all. time prints %M to
// the stderr pipe, not to a file, so that it adds no write_bytes itself.
func measure(ctx context.Context, out io.Writer, argv ...string) (Run, error) {
	cmd := exec.CommandContext(ctx, "/usr/bin/time", append([]string{"-f", "%M"}, argv...)...)
	var stderr bytes.Buffer // the command's, then time's %M as the last line
	cmd.Stdout, cmd.Stderr = out, &stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return Run{}, fmt.Errorf("start time: %w", err)
	}
	var werr error = unix.EINTR
	for errors.Is(werr, unix.EINTR) {
		werr = unix.Waitid(unix.P_PID, cmd.Process.Pid, &unix.Siginfo{}, unix.WEXITED|unix.WNOWAIT, nil)
	}
	r := Run{Wall: time.Since(start)}
	pio, ioErr := readProc(cmd.Process.Pid, "io", ioKeys...)
	err := cmd.Wait()
	msg := strings.TrimSpace(stderr.String())
	if err != nil {
		return Run{}, fmt.Errorf("run %s: %w: %s", strings.Join(argv, " "), err, msg[max(0, len(msg)-4096):])
	}
	kb, err := strconv.ParseInt(msg[strings.LastIndexByte(msg, '\n')+1:], 10, 64)
	if err = errors.Join(werr, ioErr, err); err != nil {
		return Run{}, fmt.Errorf("measure %s: %w", argv[0], err)
	}
	r.CPU = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	r.MaxRSS, r.WChar, r.WriteBytes = kb<<10, pio["wchar"], writeBytes(pio)
	return r, nil
}

// medians runs each of cmds n times, interleaved run after run so that
// they share the machine's load, and returns the median run of each.
func medians(ctx context.Context, n int, cmds ...[]string) ([]Run, error) {
	runs := make([][]Run, len(cmds))
	for range n {
		for i, c := range cmds {
			r, err := measure(ctx, nil, c...)
			if err != nil {
				return nil, err
			}
			runs[i] = append(runs[i], r)
		}
	}
	out := make([]Run, len(cmds))
	for i := range runs {
		out[i] = medianRun(runs[i])
	}
	return out, nil
}

// ioKeys are the fields of /proc/<pid>/io a Run and a sample use.
var ioKeys = []string{"wchar", "write_bytes", "cancelled_write_bytes"}

// writeBytes is what reached (or will reach) the block layer: write_bytes
// less cancelled_write_bytes (see Run).
func writeBytes(io map[string]int64) int64 { return io["write_bytes"] - io["cancelled_write_bytes"] }

// readProc reads /proc/<pid>/name (io or status) and returns its
// "key: value" fields (see procFields).
func readProc(pid int, name string, keys ...string) (map[string]int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/%s", pid, name))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	return procFields(b, keys...)
}

// procFields parses the numeric "key: value [kB]" lines of /proc/<pid>/io
// and /proc/<pid>/status, kB converted to bytes; each of keys must be there.
func procFields(b []byte, keys ...string) (map[string]int64, error) {
	m := map[string]int64{}
	for l := range strings.Lines(string(b)) {
		k, v, _ := strings.Cut(l, ":")
		f := strings.Fields(v)
		if len(f) == 0 {
			continue
		}
		if n, err := strconv.ParseInt(f[0], 10, 64); err == nil {
			m[k] = n
			if len(f) > 1 && f[1] == "kB" {
				m[k] = n << 10
			}
		}
	}
	for _, k := range keys {
		if _, ok := m[k]; !ok {
			return nil, fmt.Errorf("parse proc file: no %s", k)
		}
	}
	return m, nil
}

// statCPU returns utime+stime of /proc/<pid>/stat, fields 14 and 15,
// counted after the last ')' since the command name may hold spaces and
// parentheses. Their unit is USER_HZ, 100 on every architecture Linux runs
// netmon on; a pure-Go program cannot ask sysconf for it.
func statCPU(b []byte) (time.Duration, error) {
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	if !bytes.Contains(b, []byte(")")) || len(f) < 13 {
		return 0, errors.New("parse stat: want 13 fields after the command name")
	}
	u, err1 := strconv.ParseUint(f[11], 10, 64)
	s, err2 := strconv.ParseUint(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, fmt.Errorf("parse stat: %w", err)
	}
	return time.Duration(u+s) * 10 * time.Millisecond, nil
}

// daemon is a long-running child (ingest-loop, serve) sampled through
// /proc while it runs; its stderr is watched for ingest cycle log lines.
type daemon struct {
	cmd  *exec.Cmd
	done chan struct{} // closed at EOF of stderr: the child exited

	mu      sync.Mutex
	cycles  int              // `msg="ingest cycle"` lines seen
	failed  int              // `msg="ingest cycle failed"` lines seen
	last    map[string]int64 // the integer fields of the last cycle line
	skipped int64            // the most skipped= any cycle line reported
	tail    []byte           // end of stderr, to explain a failure
}

// procSample is one look at a running daemon: its counters so far.
type procSample struct {
	At                time.Time
	CPU               time.Duration // utime+stime
	WChar, WriteBytes int64         // as in Run
	RSS, HWM          int64         // VmRSS and VmHWM (the peak)
	Cycles            int
}

// cpuShare is the CPU used from a to b as a fraction of one core.
func cpuShare(a, b procSample) float64 {
	return (b.CPU - a.CPU).Seconds() / b.At.Sub(a.At).Seconds()
}

// startDaemon starts argv.
func startDaemon(argv ...string) (*daemon, error) {
	d := &daemon{cmd: exec.Command(argv[0], argv[1:]...), done: make(chan struct{})}
	pr, err := d.cmd.StderrPipe()
	if err == nil {
		err = d.cmd.Start()
	}
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", argv[0], err)
	}
	go func() {
		defer close(d.done)
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			d.mu.Lock()
			switch l := sc.Text(); {
			case strings.Contains(l, `msg="ingest cycle"`):
				d.cycles++
				d.last = summary(l)
				d.skipped = max(d.skipped, d.last["skipped"])
			case strings.Contains(l, `msg="ingest cycle failed"`):
				d.failed++
			}
			d.tail = append(d.tail[max(0, len(d.tail)-4096):], sc.Text()+"\n"...)
			d.mu.Unlock()
		}
	}()
	return d, nil
}

// sample reads /proc/<pid>/{stat,io,status}.
func (d *daemon) sample() (procSample, error) {
	d.mu.Lock()
	s := procSample{At: time.Now(), Cycles: d.cycles}
	d.mu.Unlock()
	pid := d.cmd.Process.Pid
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err == nil {
		s.CPU, err = statCPU(b)
	}
	pio, err2 := readProc(pid, "io", ioKeys...)
	st, err3 := readProc(pid, "status", "VmRSS", "VmHWM")
	if err := errors.Join(err, err2, err3); err != nil {
		return s, fmt.Errorf("sample %s: %w", d.cmd.Path, err)
	}
	s.WChar, s.WriteBytes, s.RSS, s.HWM = pio["wchar"], writeBytes(pio), st["VmRSS"], st["VmHWM"]
	return s, nil
}

// window waits up to 30 s until the daemon has logged warm ingest cycles,
// then samples it at the start and at the end of a window of length w.
func (d *daemon) window(ctx context.Context, warm int, w time.Duration) (a, b procSample, err error) {
	for start := time.Now(); a.Cycles < warm; {
		select {
		case <-d.done:
			return a, b, fmt.Errorf("exited before %d cycles: %s", warm, d.stderr())
		default:
		}
		if time.Since(start) > 30*time.Second {
			return a, b, fmt.Errorf("no %d cycles within 30s: %s", warm, d.stderr())
		}
		if err = sleep(ctx, 50*time.Millisecond); err == nil {
			a, err = d.sample()
		}
		if err != nil {
			return a, b, err
		}
	}
	if err = sleep(ctx, w); err == nil {
		b, err = d.sample()
	}
	return a, b, err
}

// sleep waits for d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

// stderr returns the end of the daemon's stderr.
func (d *daemon) stderr() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return strings.TrimSpace(string(d.tail))
}

// stop sends SIGINT, waits up to 10 s for a clean exit, then kills.
func (d *daemon) stop() error {
	if err := d.cmd.Process.Signal(syscall.SIGINT); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("interrupt %s: %w", d.cmd.Path, err)
	}
	select {
	case <-d.done:
	case <-time.After(10 * time.Second):
		d.cmd.Process.Kill()
	}
	if err := d.cmd.Wait(); err != nil {
		return fmt.Errorf("%s: %w: %s", d.cmd.Path, err, d.stderr())
	}
	return nil
}
