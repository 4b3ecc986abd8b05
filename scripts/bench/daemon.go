package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// daemon is a long-running child (ingest-loop, serve) sampled through
// /proc while it runs.
type daemon struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when stderr hits EOF (the child exited)

	mu     sync.Mutex
	cycles int        // "ingest cycle" log lines seen
	tail   tailBuffer // end of stderr, to explain a failure
}

// startDaemon starts argv with stderr watched for ingest cycle log lines.
func startDaemon(argv []string) (*daemon, error) {
	d := &daemon{cmd: exec.Command(argv[0], argv[1:]...), done: make(chan struct{})}
	pr, err := d.cmd.StderrPipe()
	if err != nil {
		return nil, fmt.Errorf("stderr pipe: %w", err)
	}
	if err := d.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", argv[0], err)
	}
	go d.watch(pr)
	return d, nil
}

// watch counts cycle lines until EOF.
func (d *daemon) watch(r io.Reader) {
	defer close(d.done)
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		d.mu.Lock()
		if strings.Contains(line, `msg="ingest cycle"`) {
			d.cycles++
		}
		d.tail.Write([]byte(line + "\n"))
		d.mu.Unlock()
	}
}

// Cycles returns how many ingest cycles the child has logged.
func (d *daemon) Cycles() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.cycles
}

// waitCycles waits until the child has logged n cycles.
func (d *daemon) waitCycles(ctx context.Context, n int, timeout time.Duration) error {
	deadline := time.After(timeout)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for d.Cycles() < n {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-d.done:
			return fmt.Errorf("exited before %d cycles: %s", n, d.stderr())
		case <-deadline:
			return fmt.Errorf("no %d cycles within %s: %s", n, timeout, d.stderr())
		case <-tick.C:
		}
	}
	return nil
}

func (d *daemon) stderr() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return strings.TrimSpace(d.tail.String())
}

// procSample is one look at the running child.
type procSample struct {
	At     time.Time
	Ticks  uint64 // utime+stime
	IO     IO
	Cycles int
	RSS    int64 // VmRSS
	HWM    int64 // VmHWM, the peak RSS so far
}

// sample reads /proc/<pid>/{stat,io,status}.
func (d *daemon) sample() (procSample, error) {
	pid := d.cmd.Process.Pid
	s := procSample{At: time.Now(), Cycles: d.Cycles()}
	read := func(name string) ([]byte, error) {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/%s", pid, name))
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", name, err)
		}
		return b, nil
	}
	b, err := read("stat")
	if err != nil {
		return s, err
	}
	if s.Ticks, err = parseStatCPU(b); err != nil {
		return s, err
	}
	if b, err = read("io"); err != nil {
		return s, err
	}
	if s.IO, err = parseIO(b); err != nil {
		return s, err
	}
	if b, err = read("status"); err != nil {
		return s, err
	}
	if s.RSS, err = parseStatusKB(b, "VmRSS"); err != nil {
		return s, err
	}
	s.HWM, err = parseStatusKB(b, "VmHWM")
	return s, err
}

// stop sends SIGINT, waits up to 10 s for a clean exit, then kills.
func (d *daemon) stop() error {
	if err := d.cmd.Process.Signal(syscall.SIGINT); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("interrupt: %w", err)
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

// cpuShare is the CPU the child used between a and b as a fraction of one core.
func cpuShare(a, b procSample) float64 {
	wall := b.At.Sub(a.At).Seconds()
	if wall <= 0 {
		return 0
	}
	return float64(b.Ticks-a.Ticks) / clockTicks / wall
}
