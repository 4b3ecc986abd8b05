package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strconv"
	"strings"

	"github.com/dustin/go-humanize"
)

// conntrackEntry is how long `conntrack -L -o extended` takes per entry it
// prints (lab figure from the captures README, medians of 7 at 100,000 to
// 262,144 entries).
const conntrackEntry = 3.3e-6 // seconds

// benchMetrics returns, by unit ("ns/op", "B/op", "lines/s", ...), the
// values on the result lines of benchmark name (with its -cpu suffix, if
// any) in `go test -bench` output, in order. Other lines are skipped.
func benchMetrics(out, name string) map[string][]float64 {
	m := map[string][]float64{}
	for l := range strings.Lines(out) {
		f := strings.Fields(l)
		if len(f) < 4 || len(f)%2 != 0 || f[0] != name {
			continue
		}
		if _, err := strconv.Atoi(f[1]); err != nil {
			continue // a log line that starts with the name
		}
		for i := 2; i < len(f); i += 2 {
			if v, err := strconv.ParseFloat(f[i], 64); err == nil {
				m[f[i+1]] = append(m[f[i+1]], v)
			}
		}
	}
	return m
}

// parser runs BenchmarkParse (the real 100,000-line capture) on one core
// (-cpu 1), -count times. Its lines/cpu-s divides by the process's CPU
// time instead of the wall clock: on a shared, busy machine the wall
// clock says more about the neighbours than about the parser.
func (e *env) parser(ctx context.Context) ([]Row, error) {
	cmd := exec.CommandContext(ctx, "go", "test", "-run", "^$", "-bench", "^BenchmarkParse$", "-benchmem",
		"-cpu", "1", "-count", strconv.Itoa(e.count), "./pkg/conntrack")
	var out bytes.Buffer
	cmd.Dir, cmd.Stdout, cmd.Stderr = e.Repo, &out, &out
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("go test -bench: %w: %s", err, out.Bytes()[max(0, out.Len()-4096):])
	}
	return parserRows(benchMetrics(out.String(), "BenchmarkParse"))
}

// parserRows turns BenchmarkParse's metrics into rows.
func parserRows(m map[string][]float64) ([]Row, error) {
	runs, wall, nsop := len(m["lines/cpu-s"]), m["lines/s"], m["ns/op"]
	if runs == 0 || len(wall) != runs || len(nsop) != runs {
		return nil, fmt.Errorf("BenchmarkParse: %d lines/cpu-s, %d lines/s and %d ns/op figures", runs, len(wall), len(nsop))
	}
	perOps := make([]float64, runs) // lines per op: lines/s times s/op
	for i := range perOps {
		perOps[i] = wall[i] * nsop[i] / 1e9
	}
	med := func(unit string) float64 { return median(m[unit]) }
	cpuRate, wallRate, perOp, ctRate := med("lines/cpu-s"), med("lines/s"), median(perOps), 1/conntrackEntry
	return []Row{
		{
			What: fmt.Sprintf("parser, big_100000 (%s real lines), 1 core, median of %d", count(int64(perOp+0.5)), runs),
			Netmon: fmt.Sprintf("%s lines/CPU-s (%.0f MB/CPU-s); wall clock %s lines/s, %.0f MB/s",
				count(int64(cpuRate)), cpuRate*med("MB/s")/wallRate, count(int64(wallRate)), med("MB/s")),
			Baseline: fmt.Sprintf("conntrack prints %s/s", count(int64(ctRate))),
			Ratio:    ratio(cpuRate, ctRate) + " conntrack's rate",
			Target:   ">= 3,000,000 lines/s on one core",
			Result:   verdict(cpuRate >= 3e6),
		},
		{
			What:   "parser garbage per line",
			Netmon: fmt.Sprintf("%.5f allocs/line, %.2f B/line", med("allocs/line"), med("B/op")/max(perOp, 1)),
			Ratio:  fmt.Sprintf("%.0f B in %.0f allocs per whole 100k-line parse", med("B/op"), med("allocs/op")),
			Target: "0 allocs/line (< 0.001)",
			Result: verdict(med("allocs/line") < 0.001),
		},
	}, nil
}

// history runs pkg/store's BenchmarkRecordYear (a year's record for 100
// devices and 2,000 remote hosts a day) and BenchmarkCommit (five
// minutes of growth for 100 devices and 5,000 remote hosts onto it) on
// one core, -count times: issue 14's speed targets.
func (e *env) history(ctx context.Context) ([]Row, error) {
	cmd := exec.CommandContext(ctx, "go", "test", "-run", "^$", "-bench", "^(BenchmarkRecordYear|BenchmarkCommit)$",
		"-cpu", "1", "-count", strconv.Itoa(e.count), "./pkg/store")
	var out bytes.Buffer
	cmd.Dir, cmd.Stdout, cmd.Stderr = e.Repo, &out, &out
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("go test -bench: %w: %s", err, out.Bytes()[max(0, out.Len()-4096):])
	}
	return historyRows(out.String())
}

// historyRows turns the two benchmarks' output into rows.
func historyRows(out string) ([]Row, error) {
	list := benchMetrics(out, "BenchmarkRecordYear/device-list-30d")
	days := benchMetrics(out, "BenchmarkRecordYear/device-400-days")
	remotes := benchMetrics(out, "BenchmarkRecordYear/remote-list-30d")
	commit := benchMetrics(out, "BenchmarkCommit")
	for name, m := range map[string]map[string][]float64{"device-list-30d": list, "device-400-days": days, "remote-list-30d": remotes, "BenchmarkCommit": commit} {
		if len(m["ns/op"]) == 0 {
			return nil, fmt.Errorf("history: no %s figures in go test -bench output", name)
		}
	}
	if len(list["MiB-db"]) == 0 || len(commit["wal-B/commit"]) == 0 {
		return nil, errors.New("history: no MiB-db or wal-B/commit figures in go test -bench output")
	}
	ms := func(m map[string][]float64) float64 { return median(m["ns/op"]) / 1e6 }
	runs := len(list["ns/op"])
	year := fmt.Sprintf("a year's record of 100 devices, 2,000 remote hosts a day (%.0f MiB)", median(list["MiB-db"]))
	wal := median(commit["wal-B/commit"])
	return []Row{
		{
			What:   fmt.Sprintf("history: device list for 30 days, %s, 1 core, median of %d", year, runs),
			Netmon: fmt.Sprintf("%.1f ms (remote host list for 30 days: %.1f ms)", ms(list), ms(remotes)),
			Ratio:  fmt.Sprintf("%.2f of 20 ms", ms(list)/20),
			Target: "< 20 ms", Result: verdict(ms(list) < 20),
		},
		{
			What:   fmt.Sprintf("history: one device's 400 daily buckets, same record, median of %d", runs),
			Netmon: fmt.Sprintf("%.1f ms", ms(days)),
			Ratio:  fmt.Sprintf("%.2f of 10 ms", ms(days)/10),
			Target: "< 10 ms", Result: verdict(ms(days) < 10),
		},
		{
			What:   fmt.Sprintf("history: a commit of 5 minutes' growth, 100 devices and 5,000 remote hosts, onto that record, median of %d", len(commit["ns/op"])),
			Netmon: fmt.Sprintf("%.1f ms; %s written to the WAL", ms(commit), humanize.Bytes(uint64(wal))),
			Ratio:  fmt.Sprintf("%.2f of 50 ms; %.2f of 1 MB", ms(commit)/50, wal/1e6),
			Target: "< 50 ms, < 1 MB written", Result: verdict(ms(commit) < 50 && wal < 1e6),
		},
	}, nil
}
