package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// labLoopSizes are the live tables the lab loop rows run against.
var labLoopSizes = []int{10_000, 100_000, 200_000}

// labLoop runs `netmon ingest-loop` at its default settings (1 s interval,
// DESTROY events, poll_cpu_budget 0.1) inside the lab's router namespace
// against a live table of n entries loaded with conntrack -R, and measures
// over a window the CPU of netmon plus the conntrack runs it waited for
// (/proc/PID/stat utime+stime+cutime+cstime), the interval the budget led
// to, and netmon's RSS. The target is the budget: polling, conntrack
// included, under 10% of one core at any table size; and at 200,000
// entries netmon under 64 MiB.
func (e *env) labLoop(ctx context.Context) ([]Row, error) {
	ns := e.LabNetns
	if ns == "" {
		return nil, nil
	}
	var rows []Row
	for _, n := range labLoopSizes {
		r, err := e.labLoopOne(ctx, ns, n)
		if err != nil {
			return nil, fmt.Errorf("%d entries: %w", n, err)
		}
		rows = append(rows, r)
	}
	return rows, nil
}

func (e *env) labLoopOne(ctx context.Context, ns string, n int) (Row, error) {
	load := filepath.Join(e.Work, fmt.Sprintf("lab-load-%d.txt", n))
	if err := writeSyntheticLoad(load, n); err != nil {
		return Row{}, err
	}
	inNS := func(args ...string) *exec.Cmd {
		return exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", ns}, args...)...)
	}
	for _, c := range [][]string{{"conntrack", "-F"}, {"conntrack", "-R", load}} {
		if out, err := inNS(c...).CombinedOutput(); err != nil {
			return Row{}, fmt.Errorf("%s: %w: %s", strings.Join(c, " "), err, out)
		}
	}
	db := filepath.Join(e.Work, fmt.Sprintf("lab-loop-%d.db", n))
	state := filepath.Join(e.State, fmt.Sprintf("lab-loop-%d", n))
	os.Remove(db)
	os.RemoveAll(state)
	// The defaults but the log level (the window counts the cycles'
	// DEBUG lines) and a state directory of its own (not the machine's
	// /run/netmon).
	d, err := startDaemon("ip", "netns", "exec", ns, "env", "NETMON_LOCAL_SUBNETS=10.0.0.0/24",
		e.Netmon, "ingest-loop", "--db", db, "--state-dir", state, "--log-level", "debug")
	if err != nil {
		return Row{}, err
	}
	// Two cycles warm (the first inserts every row), then the window:
	// at least a minute, for several cycles at a stretched interval.
	a, b, ca, cb, err := windowWithChildren(ctx, d, max(e.window, time.Minute))
	stderr := d.stderr()
	if stopErr := d.stop(); err == nil {
		err = stopErr
	}
	if err != nil {
		return Row{}, fmt.Errorf("ingest-loop: %w", err)
	}
	share := ((b.CPU - a.CPU) + (cb - ca)).Seconds() / b.At.Sub(a.At).Seconds()
	cycles := b.Cycles - a.Cycles
	interval := lastInterval(stderr)
	ok := share < 0.10 && cycles > 0
	target := "< 10% of one core (poll_cpu_budget)"
	ratio := fmt.Sprintf("%.2f of the 10%% budget", share/0.10)
	if n == 200_000 {
		// Issue 16's figure is the running process's RSS at 200k (it
		// was about 80 MB); the peak column is the first cycle's, which
		// inserts every flow at once and is reported, not judged.
		ok = ok && b.RSS < 64<<20
		target += ", RSS < 64 MiB"
		ratio += fmt.Sprintf("; RSS %.2f of 64 MiB", float64(b.RSS)/(64<<20))
	}
	return Row{
		What: fmt.Sprintf("ingest-loop at the defaults in the lab, %s live entries (conntrack -R), %s window", count(n), b.At.Sub(a.At).Round(time.Second)),
		Netmon: fmt.Sprintf("%.2f%% of one core, conntrack's runs included (netmon alone %.2f%%); %d cycles, interval %s; RSS %s at the end",
			100*share, 100*cpuShare(a, b), cycles, interval, size(b.RSS)),
		Ratio:   ratio,
		PeakRSS: size(b.HWM),
		Target:  target,
		Result:  verdict(ok),
	}, nil
}

// writeSyntheticLoad writes n distinct outbound entries as conntrack -R
// input: from 50 LAN hosts to 20 WAN hosts, 70% UDP and 30% TCP
// ESTABLISHED, with a 600 s timeout. Inserted entries carry no counters.
func writeSyntheticLoad(path string, n int) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	w := bufio.NewWriter(f)
	for i := range n {
		src, rest := 5+i%50, i/50
		dst, port := 80+(rest/60000)%20, 1024+rest%60000
		proto, state := "udp", ""
		if i%10 < 3 {
			proto, state = "tcp", " --state ESTABLISHED"
		}
		fmt.Fprintf(w, "-I -s 10.0.0.%d -d 203.0.113.%d -p %s --sport %d --dport 443%s -t 600\n", src, dst, proto, port, state)
	}
	if err := errors.Join(w.Flush(), f.Close()); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// childCPU is the CPU of the children pid has waited for (cutime+cstime).
func childCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	return statChildCPU(b)
}

// windowWithChildren is daemon.window with the CPU of the children the
// daemon waited for (the conntrack runs) at both ends.
func windowWithChildren(ctx context.Context, d *daemon, w time.Duration) (a, b procSample, ca, cb time.Duration, err error) {
	for start := time.Now(); a.Cycles < 2; {
		if time.Since(start) > time.Minute {
			return a, b, 0, 0, fmt.Errorf("no 2 cycles within a minute: %s", d.stderr())
		}
		if err = sleep(ctx, 50*time.Millisecond); err == nil {
			a, err = d.sample()
		}
		if err != nil {
			return a, b, 0, 0, err
		}
	}
	if ca, err = childCPU(d.cmd.Process.Pid); err != nil {
		return a, b, 0, 0, err
	}
	if err = sleep(ctx, w); err == nil {
		b, err = d.sample()
	}
	if err == nil {
		cb, err = childCPU(d.cmd.Process.Pid)
	}
	return a, b, ca, cb, err
}

// statChildCPU reads cutime and cstime from a /proc/PID/stat line.
func statChildCPU(b []byte) (time.Duration, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, errors.New("parse stat: no command name")
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 15 {
		return 0, errors.New("parse stat: want 15 fields after the command name")
	}
	u, err1 := strconv.ParseUint(f[13], 10, 64)
	s, err2 := strconv.ParseUint(f[14], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, fmt.Errorf("parse stat: %w", err)
	}
	return time.Duration(u+s) * 10 * time.Millisecond, nil
}

var intervalLine = regexp.MustCompile(`poll interval changed.* interval=(\S+)`)

// lastInterval is the interval the loop's log last set, or "1s".
func lastInterval(log string) string {
	iv := "1s"
	for _, m := range intervalLine.FindAllStringSubmatch(log, -1) {
		iv = m[1]
	}
	return iv
}
