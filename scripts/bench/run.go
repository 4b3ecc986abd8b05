package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/netmon-dev/netmon/pkg/filter"
)

// Options configure a benchmark run.
type Options struct {
	Netmon string // netmon binary
	Repo   string // repository root
	Work   string // scratch directory ("" = a new temporary one)
	Out    string // markdown file written besides stdout ("" = none)
	Mode   string // "quick", "default" or "big"
	Shared string // shared captures directory, used by -mode big when present
	// LabNetns is the router namespace of a scripts/lab.sh lab whose
	// conntrack table the floor rows fill and read ("" = quote the floor).
	LabNetns string
}

// plan holds the sizes a mode implies.
type plan struct {
	runs       int           // runs of each one-shot command (median)
	coldRuns   int           // cold ingest runs per size
	parseCount int           // pairs of parser runs (median)
	parseShort int           // BenchmarkParse iterations of the short run of a pair
	parseLong  int           // and of the long one
	loopWindow time.Duration // ingest-loop measuring window
	workers    int           // concurrent HTTP clients
	small      int           // requests per worker for ?limit=200
	full       int           // requests per worker for the full list
	fullWkrs   int           // clients for the full list: 1, serve admits one at a time
}

// planFor returns the plan of a mode.
func planFor(mode string) (plan, error) {
	switch mode {
	case "quick":
		return plan{runs: 3, coldRuns: 1, parseCount: 1, parseShort: 2, parseLong: 7, loopWindow: 15 * time.Second, workers: 8, small: 40, full: 2, fullWkrs: 1}, nil
	case "default":
		return plan{runs: 5, coldRuns: 3, parseCount: 3, parseShort: 3, parseLong: 13, loopWindow: time.Minute, workers: 8, small: 150, full: 6, fullWkrs: 1}, nil
	case "big":
		return plan{runs: 9, coldRuns: 5, parseCount: 5, parseShort: 5, parseLong: 30, loopWindow: 2 * time.Minute, workers: 8, small: 400, full: 10, fullWkrs: 1}, nil
	}
	return plan{}, fmt.Errorf("mode %q: want quick, default or big", mode)
}

// env is what every section needs.
type env struct {
	Options
	plan
	measurer
	log    io.Writer
	filter *filter.Filter
	awk    string // top20.awk
}

// run measures everything and writes the table to out (and o.Out).
func run(ctx context.Context, o Options, out, log io.Writer) error {
	if o.Netmon == "" {
		return errors.New("-netmon: required")
	}
	p, err := planFor(o.Mode)
	if err != nil {
		return err
	}
	if o.Work == "" {
		dir, err := os.MkdirTemp("", "netmon-bench-")
		if err != nil {
			return fmt.Errorf("create work dir: %w", err)
		}
		defer os.RemoveAll(dir)
		o.Work = dir
	}
	timeBin, err := exec.LookPath("/usr/bin/time")
	if err != nil {
		return fmt.Errorf("GNU time (apt install time), for peak RSS: %w", err)
	}
	// netmon's default local_subnets, the one top20.awk hard-codes too.
	f, err := filter.New([]netip.Prefix{netip.MustParsePrefix("10.0.0.0/24")})
	if err != nil {
		return err
	}
	e := &env{Options: o, plan: p, measurer: measurer{Time: timeBin, Scratch: o.Work}, log: log, filter: f, awk: filepath.Join(o.Repo, "scripts", "bench", "top20.awk")}

	caps := map[int]string{}
	for _, n := range []int{10_000, 100_000} {
		path, err := e.gunzip(fmt.Sprintf("big_%d.txt.gz", n))
		if err != nil {
			return err
		}
		caps[n] = path
	}
	loadStart := loadAvg()
	var rows []Row
	section := func(name string, fn func() ([]Row, error)) error {
		fmt.Fprintf(log, "bench: %s\n", name)
		start := time.Now()
		rs, err := fn()
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		fmt.Fprintf(log, "bench: %s took %s\n", name, time.Since(start).Round(time.Second))
		rows = append(rows, rs...)
		return nil
	}
	if err := section("parser", func() ([]Row, error) { return e.parser(ctx, caps[100_000]) }); err != nil {
		return err
	}
	for _, n := range []int{10_000, 100_000} {
		if err := section(fmt.Sprintf("print-outbound %d", n), func() ([]Row, error) { return e.printOutbound(ctx, caps[n], n) }); err != nil {
			return err
		}
	}
	synth := map[int]string{}
	for _, n := range []int{10_000, 100_000} {
		path, st, err := e.synth(caps[100_000], n)
		if err != nil {
			return err
		}
		fmt.Fprintf(log, "bench: %d outbound flows: %d real lines of big_100000 (%d of its %d lines are outbound), %d with moved ports\n",
			n, st.Real, st.Outbound, st.Lines, st.Synthetic)
		synth[n] = path
	}
	dbs := map[int]string{}
	for _, n := range []int{10_000, 100_000} {
		if err := section(fmt.Sprintf("ingest-once %d", n), func() ([]Row, error) {
			rs, db, err := e.ingest(ctx, synth[n], n)
			dbs[n] = db
			return rs, err
		}); err != nil {
			return err
		}
	}
	if err := section("ingest-loop 10000", func() ([]Row, error) { return e.loop(ctx, synth[10_000], dbs[10_000]) }); err != nil {
		return err
	}
	if err := section("serve 100000", func() ([]Row, error) { return e.serve(ctx, dbs[100_000]) }); err != nil {
		return err
	}
	if o.LabNetns != "" {
		if err := section("conntrack floor in the lab", func() ([]Row, error) { return e.lab(ctx, o.LabNetns, synth[100_000]) }); err != nil {
			return err
		}
	} else {
		rows = append(rows, floorRow())
	}

	var md bytes.Buffer
	fmt.Fprintf(&md, "%s\n\n", machine(o.Mode, loadStart, loadAvg()))
	if err := writeTable(&md, rows); err != nil {
		return err
	}
	if _, err := out.Write(md.Bytes()); err != nil {
		return fmt.Errorf("write table: %w", err)
	}
	if o.Out != "" {
		if err := os.WriteFile(o.Out, md.Bytes(), 0o644); err != nil {
			return fmt.Errorf("write %s: %w", o.Out, err)
		}
	}
	return nil
}

// gunzip writes fixtures/conntrack/name, decompressed, into the work
// directory and returns its path.
func (e *env) gunzip(name string) (string, error) {
	src := filepath.Join(e.Repo, "fixtures", "conntrack", name)
	if e.Mode == "big" && e.Shared != "" {
		if _, err := os.Stat(filepath.Join(e.Shared, name)); err == nil {
			src = filepath.Join(e.Shared, name)
		}
	}
	in, err := os.Open(src)
	if err != nil {
		return "", fmt.Errorf("open capture: %w", err)
	}
	defer in.Close()
	zr, err := gzip.NewReader(in)
	if err != nil {
		return "", fmt.Errorf("gunzip %s: %w", name, err)
	}
	dst := filepath.Join(e.Work, strings.TrimSuffix(name, ".gz"))
	out, err := os.Create(dst)
	if err != nil {
		return "", fmt.Errorf("create capture: %w", err)
	}
	if _, err := io.Copy(out, zr); err != nil {
		out.Close()
		return "", fmt.Errorf("gunzip %s: %w", name, err)
	}
	if err := out.Close(); err != nil {
		return "", fmt.Errorf("write capture: %w", err)
	}
	return dst, nil
}

// synth writes a capture of n outbound flows built from the real capture
// at path (see synthesize) and returns its path.
func (e *env) synth(path string, n int) (string, SynthStats, error) {
	in, err := os.Open(path)
	if err != nil {
		return "", SynthStats{}, fmt.Errorf("open capture: %w", err)
	}
	defer in.Close()
	dst := filepath.Join(e.Work, fmt.Sprintf("outbound_%d.txt", n))
	out, err := os.Create(dst)
	if err != nil {
		return "", SynthStats{}, fmt.Errorf("create capture: %w", err)
	}
	st, err := synthesize(in, out, n, e.filter)
	if cerr := out.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("write capture: %w", cerr)
	}
	return dst, st, err
}

// machine describes the machine and the load the figures come from.
func machine(mode, loadStart, loadEnd string) string {
	model := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for l := range strings.SplitSeq(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
	}
	kernel := "unknown kernel"
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		kernel = strings.TrimSpace(string(b))
	}
	return fmt.Sprintf("Machine: %d CPUs (%s), Linux %s, %s; load average (1, 5, 15 min) %s at the start, %s at the end; mode %s; %s.",
		runtime.NumCPU(), model, kernel, runtime.Version(), loadStart, loadEnd, mode, time.Now().UTC().Format("2006-01-02 15:04 MST"))
}

// loadAvg returns the three load averages of /proc/loadavg, or "?".
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// floorRow quotes the conntrack floor from the lab captures' README when
// no lab is given (scripts/bench.sh --lab, as root, builds one).
func floorRow() Row {
	return Row{
		What:     "conntrack -L -o extended itself (floor, not measured here)",
		Netmon:   "3.3 µs/entry = 303k entries/s, 0.33 s per 100k",
		Baseline: "lab figure (captures README, medians of 7)",
	}
}
