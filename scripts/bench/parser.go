package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

// conntrackEntry is how long `conntrack -L -o extended` takes per entry it
// prints (lab figure from the captures README, medians of 7 at 100,000 to
// 262,144 entries).
const conntrackEntry = 3.3e-6 // seconds

// parseSample is one pair of BenchmarkParse runs of the test binary, one
// with few and one with many iterations.
type parseSample struct {
	Lines []BenchLine   // go test's own result lines of both runs
	DCPU  time.Duration // CPU time of the long run minus that of the short one
	DIter int           // iterations of the long run minus those of the short one
}

// parser runs BenchmarkParse (the real 100,000-line capture) on one core
// (-test.cpu 1). go test reports wall-clock rates, which on a shared,
// loaded machine say more about the neighbours than about the parser; so
// each sample is a pair of runs of the same test binary, with few and
// with many iterations, and the difference of their CPU times (rusage)
// divided by the difference of lines parsed is the parser's cost per line
// on one core, with the process start, fixture loading and calibration
// run cancelled out. capture is the benchmark's input, gunzipped, to count
// its lines.
func (e *env) parser(ctx context.Context, capture string) ([]Row, error) {
	perOp, err := countLines(capture)
	if err != nil {
		return nil, err
	}
	bin := filepath.Join(e.Work, "conntrack.test")
	build := exec.CommandContext(ctx, "go", "test", "-c", "-o", bin, "./pkg/conntrack")
	build.Dir = e.Repo
	if out, err := build.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("go test -c: %w: %s", err, out)
	}
	var samples []parseSample
	for range e.parseCount {
		s := parseSample{DIter: e.parseLong - e.parseShort}
		var cpu [2]time.Duration
		for i, n := range []int{e.parseShort, e.parseLong} {
			var out bytes.Buffer
			r, err := e.measure(ctx, filepath.Join(e.Repo, "pkg", "conntrack"), []string{bin,
				"-test.run", "^$", "-test.bench", "^BenchmarkParse$", "-test.benchmem",
				"-test.benchtime", fmt.Sprintf("%dx", n), "-test.cpu", "1"}, &out)
			if err != nil {
				return nil, err
			}
			lines, err := parseBench(&out)
			if err != nil {
				return nil, err
			}
			s.Lines = append(s.Lines, lines...)
			cpu[i] = r.CPU()
		}
		s.DCPU = cpu[1] - cpu[0]
		samples = append(samples, s)
	}
	return parserRows(samples, perOp)
}

// parserRows turns BenchmarkParse samples over a capture of perOp lines
// into rows.
func parserRows(samples []parseSample, perOp int) ([]Row, error) {
	const name = "BenchmarkParse"
	var lines []BenchLine
	for _, s := range samples {
		lines = append(lines, s.Lines...)
	}
	wallRate, n := medianMetric(lines, name, "lines/s")
	if n == 0 {
		return nil, fmt.Errorf("no %s lines/s in the benchmark output", name)
	}
	mbs, _ := medianMetric(lines, name, "MB/s")
	bop, _ := medianMetric(lines, name, "B/op")
	allocs, _ := medianMetric(lines, name, "allocs/line")
	var rates []float64
	for _, s := range samples {
		if s.DCPU > 0 {
			rates = append(rates, float64(s.DIter*perOp)/s.DCPU.Seconds())
		}
	}
	if len(rates) == 0 {
		return nil, fmt.Errorf("%s: no sample where the long run took more CPU than the short one", name)
	}
	cpuRate := median(rates)
	bytesPerLine := bop / float64(max(perOp, 1))
	conntrackRate := 1 / conntrackEntry
	return []Row{
		{
			What: fmt.Sprintf("parser, big_100000 (%s real lines), 1 core, median of %d", count(int64(perOp)), len(rates)),
			Netmon: fmt.Sprintf("%s lines/CPU-s (%.0f MB/CPU-s); wall clock %s lines/s, %.0f MB/s",
				count(int64(cpuRate)), cpuRate*mbs/wallRate, count(int64(wallRate)), mbs),
			Baseline: fmt.Sprintf("conntrack prints %s/s", count(int64(conntrackRate))),
			Ratio:    ratio(cpuRate, conntrackRate) + " conntrack's rate",
			Target:   ">= 3,000,000 lines/s on one core",
			Result:   verdict(cpuRate >= 3e6),
		},
		{
			What:   "parser garbage per line",
			Netmon: fmt.Sprintf("%.5f allocs/line, %.2f B/line", allocs, bytesPerLine),
			Ratio:  fmt.Sprintf("%.0f B in %.0f allocs per whole 100k-line parse", bop, allocs*float64(perOp)),
			Target: "0 allocs/line (< 0.001)",
			Result: verdict(allocs < 0.001),
		},
	}, nil
}

// countLines counts the newlines of a file without holding it in memory:
// this program runs beside what it measures and should stay small.
func countLines(path string) (int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, fmt.Errorf("open capture: %w", err)
	}
	defer f.Close()
	buf := make([]byte, 64<<10)
	n := 0
	for {
		k, err := f.Read(buf)
		n += bytes.Count(buf[:k], []byte{'\n'})
		if errors.Is(err, io.EOF) {
			return n, nil
		}
		if err != nil {
			return n, fmt.Errorf("read capture: %w", err)
		}
	}
}
