package main

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// BenchLine is one result line of `go test -bench`: the benchmark name
// (with its -cpu suffix, if any) and value by unit ("ns/op", "B/op",
// "lines/s", ...).
type BenchLine struct {
	Name    string
	N       int64
	Metrics map[string]float64
}

// parseBench returns the result lines of `go test -bench` output, in
// order, skipping every other line (goos:, PASS, ok ...).
func parseBench(r io.Reader) ([]BenchLine, error) {
	var out []BenchLine
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") || len(f)%2 != 0 {
			continue
		}
		n, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			continue // a log line that starts with a benchmark's name
		}
		bl := BenchLine{Name: f[0], N: n, Metrics: map[string]float64{}}
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				return nil, fmt.Errorf("parse bench %s %s: %w", f[0], f[i+1], err)
			}
			bl.Metrics[f[i+1]] = v
		}
		out = append(out, bl)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read bench output: %w", err)
	}
	return out, nil
}

// medianMetric returns the median of unit over the lines named name, and
// how many lines had it.
func medianMetric(lines []BenchLine, name, unit string) (float64, int) {
	var xs []float64
	for _, l := range lines {
		if v, ok := l.Metrics[unit]; ok && l.Name == name {
			xs = append(xs, v)
		}
	}
	return median(xs), len(xs)
}
