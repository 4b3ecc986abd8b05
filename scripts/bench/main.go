// Command bench prints the markdown table of README.md's Performance
// section. In-process figures (the parser) come from `go test -bench
// -benchmem`; this program measures only what go test cannot: netmon's
// commands as whole processes beside the baselines a user would reach for
// (mawk, cat, the real conntrack), their peak RSS and the bytes they
// write, the CPU of a running daemon over a window, a server under
// loopback load, and the flash writes per day of the home profile
// (budget.go, home.go). scripts/bench.sh builds netmon and runs it:
//
//	go run ./scripts/bench -netmon /tmp/netmon -work DISK-DIR -state TMPFS-DIR [-mode quick|default|big]
//		[-lab-netns NS] [-netmon-before OLD-NETMON] [-commit-intervals 5m,10m] [-only SECTION]
//
// Every absolute figure drifts with the load of a shared machine; each
// comes with a baseline or a CPU time measured in the same run.
package main

import (
	"bytes"
	"cmp"
	"compress/gzip"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/dustin/go-humanize"

	"github.com/netmon-dev/netmon/pkg/filter"
)

func main() {
	var o Options
	flag.StringVar(&o.Netmon, "netmon", "", "netmon binary to measure (required)")
	flag.StringVar(&o.Repo, "repo", ".", "repository root (for go test and fixtures/)")
	flag.StringVar(&o.Work, "work", "", "scratch directory for captures and databases (required)")
	flag.StringVar(&o.Out, "out", "bench-results.md", "file the markdown table is written to as well")
	flag.StringVar(&o.Mode, "mode", "default", "quick (CI smoke, under a minute), default (about 18 minutes, 16 of them the flash budget) or big (more runs, longer windows, the budget over an hour)")
	flag.StringVar(&o.LabNetns, "lab-netns", "", "router namespace of a scripts/lab.sh lab: fill its conntrack table and time conntrack -L itself (root)")
	flag.StringVar(&o.State, "state", "", "a directory on a tmpfs for the live state (required): write_bytes there are 0, as on a router's /run")
	flag.StringVar(&o.Before, "netmon-before", "", "netmon built from d4cbfe9, before the live state left the database: its flash writes go beside the budget rows")
	flag.StringVar(&o.CommitIntervals, "commit-intervals", "", "commit intervals of the busy budget rows, comma separated (default: the mode's)")
	flag.StringVar(&o.Only, "only", "", "run only the sections whose name starts with this (parser, history, print-outbound, ingest-once, ingest-loop, serve, conntrack, budget)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// Options configure a benchmark run.
type Options struct {
	Netmon, Repo, Work, Out, Mode string
	// LabNetns is the router namespace of a scripts/lab.sh lab whose
	// conntrack table the floor rows fill and read ("" = quote the floor).
	LabNetns string
	// State is a directory on a tmpfs for live state and the budget's
	// generated table; Work must be on disk.
	State string
	// Before is netmon built from before the split (d4cbfe9), "" to
	// leave it out.
	Before string
	// CommitIntervals overrides the plan's busy commit intervals ("10m,15m").
	CommitIntervals string
	// Only runs the sections whose name starts with it.
	Only string
}

// plan holds the sizes a mode implies.
type plan struct {
	runs     int           // runs of each one-shot command (median)
	coldRuns int           // cold+steady ingest pairs per size, each into a fresh db
	count    int           // go test -count of BenchmarkParse (median)
	window   time.Duration // ingest-loop measuring window
	polls    int           // requests per client for ?limit=200
	full     int           // requests for the full list
	// commitIntervals of the busy budget rows; smoke: the first is a
	// short one that makes the rows a smoke run, not the figure.
	commitIntervals []time.Duration
	smoke           bool
	budgetTarget    time.Duration // budget windows cover about this (whole commit intervals)
	dayWarm         bool          // the record starts with a day of the profile
	beforeWindow    time.Duration // the version before the split: its window
}

var plans = map[string]plan{
	"quick": {runs: 3, coldRuns: 1, count: 1, window: 15 * time.Second, polls: 40, full: 2,
		commitIntervals: []time.Duration{5 * time.Second}, smoke: true, budgetTarget: 10 * time.Second, dayWarm: true, beforeWindow: 15 * time.Second},
	"default": {runs: 5, coldRuns: 3, count: 3, window: time.Minute, polls: 150, full: 6,
		commitIntervals: []time.Duration{defaultCommit}, budgetTarget: 20 * time.Minute, dayWarm: true, beforeWindow: 3 * time.Minute},
	"big": {runs: 9, coldRuns: 5, count: 5, window: 2 * time.Minute, polls: 400, full: 10,
		commitIntervals: []time.Duration{5 * time.Minute, defaultCommit, time.Hour}, budgetTarget: time.Hour, dayWarm: true, beforeWindow: 10 * time.Minute},
}

// env is what every section needs.
type env struct {
	Options
	plan
}

// run measures everything and writes the table to out (and o.Out).
func run(ctx context.Context, o Options, out, log io.Writer) error {
	p, ok := plans[o.Mode]
	if !ok {
		return fmt.Errorf("-mode %q: want quick, default or big", o.Mode)
	}
	if o.Netmon == "" || o.Work == "" || o.State == "" {
		return errors.New("-netmon, -work and -state: required")
	}
	if o.CommitIntervals != "" {
		p.commitIntervals, p.smoke = nil, false
		for s := range strings.SplitSeq(o.CommitIntervals, ",") {
			d, err := time.ParseDuration(s)
			if err != nil || d < time.Second {
				return fmt.Errorf("-commit-intervals %q: want durations of at least 1s, comma separated", o.CommitIntervals)
			}
			p.commitIntervals = append(p.commitIntervals, d)
		}
	}
	if _, err := exec.LookPath("/usr/bin/time"); err != nil {
		return fmt.Errorf("find GNU time (apt install time), for peak RSS: %w", err)
	}
	e := &env{Options: o, plan: p}
	// netmon's default local_subnets, the one top20.awk hard-codes too.
	f, err := filter.New([]netip.Prefix{netip.MustParsePrefix("10.0.0.0/24")})
	if err != nil {
		return err
	}
	caps, flows, dbs := map[int]string{}, map[int]string{}, map[int]stores{}
	for _, n := range []int{10_000, 100_000} {
		caps[n] = filepath.Join(o.Work, fmt.Sprintf("big_%d.txt", n))
		if err := convert(filepath.Join(o.Repo, "fixtures", "conntrack", fmt.Sprintf("big_%d.txt.gz", n)), caps[n], gunzip); err != nil {
			return err
		}
	}
	for _, n := range []int{10_000, 100_000} {
		flows[n] = filepath.Join(o.Work, fmt.Sprintf("outbound_%d.txt", n))
		real, moved, err := synthesize(caps[100_000], flows[n], n, f)
		if err != nil {
			return err
		}
		fmt.Fprintf(log, "bench: %d outbound flows: %d real lines of big_100000, %d with moved ports\n", n, real, moved)
	}
	loadStart := loadAvg()
	var rows []Row
	for _, s := range []struct {
		name string
		fn   func() ([]Row, error)
	}{
		{"parser", func() ([]Row, error) { return e.parser(ctx) }},
		{"history", func() ([]Row, error) { return e.history(ctx) }},
		{"print-outbound 10000", func() ([]Row, error) { return e.printOutbound(ctx, caps[10_000], 10_000) }},
		{"print-outbound 100000", func() ([]Row, error) { return e.printOutbound(ctx, caps[100_000], 100_000) }},
		{"ingest-once 10000", func() (rs []Row, err error) { rs, dbs[10_000], err = e.ingest(ctx, flows[10_000], 10_000); return }},
		{"ingest-once 100000", func() (rs []Row, err error) { rs, dbs[100_000], err = e.ingest(ctx, flows[100_000], 100_000); return }},
		{"ingest-loop 10000", func() ([]Row, error) { return e.loop(ctx, flows[10_000], dbs[10_000]) }},
		{"serve 100000", func() ([]Row, error) { return e.serve(ctx, dbs[100_000]) }},
		{"conntrack floor", func() ([]Row, error) { return e.lab(ctx, flows[100_000]) }},
		{"ingest-loop in the lab", func() ([]Row, error) { return e.labLoop(ctx) }},
		{"budget", func() ([]Row, error) { return e.budget(ctx) }},
	} {
		if !strings.HasPrefix(s.name, o.Only) {
			continue
		}
		start := time.Now()
		rs, err := s.fn()
		if err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
		fmt.Fprintf(log, "bench: %s took %s\n", s.name, time.Since(start).Round(time.Second))
		rows = append(rows, rs...)
	}
	var md bytes.Buffer
	fmt.Fprintf(&md, "%s\n\n", machine(o.Mode, loadStart, loadAvg()))
	writeTable(&md, rows)
	if _, err := out.Write(md.Bytes()); err != nil {
		return fmt.Errorf("write table: %w", err)
	}
	if o.Out == "" {
		return nil
	}
	return os.WriteFile(o.Out, md.Bytes(), 0o644)
}

// gunzip is a convert function that decompresses.
func gunzip(r io.Reader, w io.Writer) error {
	zr, err := gzip.NewReader(r)
	if err == nil {
		_, err = io.Copy(w, zr)
	}
	return err
}

// machine describes the machine and the load the figures come from.
func machine(mode, loadStart, loadEnd string) string {
	model, kernel := "unknown CPU", "unknown kernel"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for l := range strings.Lines(string(b)) {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		kernel = strings.TrimSpace(string(b))
	}
	return fmt.Sprintf("Machine: %d CPUs (%s), Linux %s, %s; load average (1, 5, 15 min) %s at the start, %s at the end; mode %s; %s.",
		runtime.NumCPU(), model, kernel, runtime.Version(), loadStart, loadEnd, mode, time.Now().UTC().Format("2006-01-02 15:04 MST"))
}

// loadAvg returns the three load averages of /proc/loadavg, or "?".
func loadAvg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(b)); len(f) >= 3 {
		return strings.Join(f[:3], " ")
	}
	return "?"
}

// Row is one line of the results table; a row without a target has no
// Result.
type Row struct {
	What, Netmon, Baseline, Ratio, PeakRSS, Target, Result string
}

// verdict returns the Result of a row with a target.
func verdict(ok bool) string {
	if ok {
		return "PASS"
	}
	return "MISS"
}

// writeTable writes rows as a markdown table.
func writeTable(w *bytes.Buffer, rows []Row) {
	w.WriteString("| what | netmon | baseline (same run) | ratio | peak RSS | target | result |\n|---|---|---|---|---|---|---|\n")
	for _, r := range rows {
		for _, c := range []string{r.What, r.Netmon, r.Baseline, r.Ratio, r.PeakRSS, r.Target, r.Result} {
			w.WriteString("| " + cmp.Or(strings.ReplaceAll(c, "|", `\|`), " ") + " ")
		}
		w.WriteString("|\n")
	}
}

// ms formats d in milliseconds with 3 significant figures.
func ms(d time.Duration) string {
	v := float64(d) / float64(time.Millisecond)
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f ms", v)
	case v >= 10:
		return fmt.Sprintf("%.1f ms", v)
	}
	return fmt.Sprintf("%.2f ms", v)
}

// size formats a byte count in binary units ("1.6 MiB").
func size(n int64) string {
	if n < 0 {
		return "-" + humanize.IBytes(uint64(-n))
	}
	return humanize.IBytes(uint64(n))
}

// count formats n with thousands separators.
func count[T int | int64](n T) string { return humanize.Comma(int64(n)) }

// ratio formats a/b as "8.3x", or "n/a" when b is 0.
func ratio(a, b float64) string {
	switch r := a / b; {
	case b == 0:
		return "n/a"
	case r >= 10:
		return fmt.Sprintf("%.0fx", r)
	default:
		return fmt.Sprintf("%.1fx", r)
	}
}
