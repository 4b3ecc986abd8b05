package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// printOutbound times `netmon print-outbound --top 20 --output json`
// against `mawk -f top20.awk`, with `cat` and `wc -l` as the I/O floor,
// interleaving the four commands run after run so that they see the same
// machine load. It first checks that netmon and mawk print the same top 20
// totals, so the race is between equal answers.
func (e *env) printOutbound(ctx context.Context, capture string, lines int) ([]Row, error) {
	netmon := []string{e.Netmon, "print-outbound", "--top", "20", "--output", "json", "--input-file", capture}
	mawk := []string{"mawk", "-f", e.awk, capture}
	same, err := e.sameTop(ctx, netmon, mawk)
	if err != nil {
		return nil, err
	}
	cmds := [][]string{netmon, mawk, {"cat", capture}, {"wc", "-l", capture}}
	runs := make([][]Run, len(cmds))
	for range e.runs {
		for i, c := range cmds {
			r, err := e.measure(ctx, "", c, nil)
			if err != nil {
				return nil, err
			}
			runs[i] = append(runs[i], r)
		}
	}
	med := make([]Run, len(cmds))
	for i := range runs {
		med[i] = medianRun(runs[i])
	}
	nm, mk, catR, wc := med[0], med[1], med[2], med[3]
	row := Row{
		What:   fmt.Sprintf("print-outbound --top 20 --output json, big_%d (%s lines), median of %d", lines, count(int64(lines)), e.runs),
		Netmon: fmt.Sprintf("%s (CPU %s)", ms(nm.Wall), ms(medianCPU(runs[0]))),
		Baseline: fmt.Sprintf("mawk %s (CPU %s); cat %s, wc -l %s",
			ms(mk.Wall), ms(medianCPU(runs[1])), ms(catR.Wall), ms(wc.Wall)),
		Ratio: fmt.Sprintf("%s faster than mawk (CPU time: %s)",
			ratio(float64(mk.Wall), float64(nm.Wall)), ratio(float64(medianCPU(runs[1])), float64(medianCPU(runs[0])))),
		PeakRSS: fmt.Sprintf("%s (mawk %s)", size(nm.MaxRSS), size(mk.MaxRSS)),
	}
	if !same {
		row.Ratio += "; OUTPUTS DIFFER"
	}
	if lines >= 100_000 {
		row.Target = ">= 8x faster than mawk"
		row.Result = verdict(same && float64(mk.Wall) >= 8*float64(nm.Wall))
	}
	return []Row{row}, nil
}

// medianCPU returns the median user+system time of runs.
func medianCPU(runs []Run) time.Duration {
	xs := make([]int64, len(runs))
	for i, r := range runs {
		xs[i] = int64(r.CPU())
	}
	return time.Duration(median(xs))
}

// sameTop runs both commands once and reports whether netmon's JSON and
// mawk's "total<TAB>key" lines list the same totals in the same order
// (keys may differ in ties and in how they are spelled).
func (e *env) sameTop(ctx context.Context, netmon, mawk []string) (bool, error) {
	var nOut, mOut bytes.Buffer
	if _, err := e.measure(ctx, "", netmon, &nOut); err != nil {
		return false, err
	}
	if _, err := e.measure(ctx, "", mawk, &mOut); err != nil {
		return false, err
	}
	a, err := netmonTotals(nOut.Bytes())
	if err != nil {
		return false, err
	}
	b, err := awkTotals(mOut.Bytes())
	if err != nil {
		return false, err
	}
	return len(a) > 0 && slices.Equal(a, b), nil
}

// netmonTotals returns total_bytes of every row of print-outbound's JSON.
func netmonTotals(b []byte) ([]uint64, error) {
	var rows []struct {
		Total uint64 `json:"total_bytes"`
	}
	if err := json.Unmarshal(b, &rows); err != nil {
		return nil, fmt.Errorf("decode print-outbound json: %w", err)
	}
	out := make([]uint64, len(rows))
	for i, r := range rows {
		out[i] = r.Total
	}
	return out, nil
}

// awkTotals returns the first column of top20.awk's output.
func awkTotals(b []byte) ([]uint64, error) {
	var out []uint64
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		t, _, _ := strings.Cut(sc.Text(), "\t")
		n, err := strconv.ParseUint(t, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("parse mawk output: %w", err)
		}
		out = append(out, n)
	}
	return out, sc.Err()
}
