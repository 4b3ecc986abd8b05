package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
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
	cmds := [][]string{
		{e.Netmon, "print-outbound", "--top", "20", "--output", "json", "--input-file", capture},
		{"mawk", "-f", filepath.Join(e.Repo, "scripts", "bench", "top20.awk"), capture},
		{"cat", capture}, {"wc", "-l", capture},
	}
	var tops [2]bytes.Buffer
	for i := range tops {
		if _, err := measure(ctx, &tops[i], cmds[i]...); err != nil {
			return nil, err
		}
	}
	same := sameTotals(tops[0].Bytes(), tops[1].Bytes())
	med, err := medians(ctx, e.runs, cmds...)
	if err != nil {
		return nil, err
	}
	nm, mk, ct, wc := med[0], med[1], med[2], med[3]
	row := Row{
		What:     fmt.Sprintf("print-outbound --top 20 --output json, big_%d (%s lines), median of %d", lines, count(lines), e.runs),
		Netmon:   fmt.Sprintf("%s (CPU %s)", ms(nm.Wall), ms(nm.CPU)),
		Baseline: fmt.Sprintf("mawk %s (CPU %s); cat %s, wc -l %s", ms(mk.Wall), ms(mk.CPU), ms(ct.Wall), ms(wc.Wall)),
		Ratio: fmt.Sprintf("%s faster than mawk (CPU time: %s)",
			ratio(float64(mk.Wall), float64(nm.Wall)), ratio(float64(mk.CPU), float64(nm.CPU))),
		PeakRSS: fmt.Sprintf("%s (mawk %s)", size(nm.MaxRSS), size(mk.MaxRSS)),
	}
	if !same {
		row.Ratio += "; OUTPUTS DIFFER"
	}
	if lines >= 100_000 {
		row.Target = ">= 8x faster than mawk"
		row.Result = verdict(same && mk.Wall >= 8*nm.Wall)
	}
	return []Row{row}, nil
}

// sameTotals reports whether netmon's JSON and top20.awk's
// "total<TAB>key" lines list the same totals in the same order (keys may
// differ in ties and in how they are spelled).
func sameTotals(netmon, awk []byte) bool {
	var rows []struct {
		Total uint64 `json:"total_bytes"`
	}
	if json.Unmarshal(netmon, &rows) != nil {
		return false
	}
	var a, b []uint64
	for _, r := range rows {
		a = append(a, r.Total)
	}
	for l := range strings.Lines(string(awk)) {
		t, _, _ := strings.Cut(l, "\t")
		n, err := strconv.ParseUint(t, 10, 64)
		if err != nil {
			return false
		}
		b = append(b, n)
	}
	return len(a) > 0 && slices.Equal(a, b)
}

// stores are netmon's two files: the live state's directory (on a tmpfs)
// and the record (on disk).
type stores struct{ state, db string }

// args are the flags that name them.
func (s stores) args() []string { return []string{"--state-dir", s.state, "--db", s.db} }

// ingestRun is one measured ingest-once with the rows_written= of its
// summary, the size of the live state (live.db) and of the record (db +
// WAL) afterwards, and the live state's growth.
type ingestRun struct {
	Run
	Rows, LiveSize, RecordSize, Growth int64
}

// ingest runs ingest-once cold into an empty live state and record, and
// then again over the same snapshot (a steady-state cycle: nothing
// changed), coldRuns times each into fresh ones, on a capture of n
// outbound flows. The live state is on the tmpfs, the record on disk, as
// on a router, so write_bytes are what reaches flash. It returns the rows
// and the last stores, now holding n active flows.
func (e *env) ingest(ctx context.Context, capture string, n int) ([]Row, stores, error) {
	var runs [2][]ingestRun // cold, steady
	var st stores
	for i := range e.coldRuns * 2 {
		st = stores{filepath.Join(e.State, fmt.Sprintf("ingest_%d_%d", n, i/2)), filepath.Join(e.Work, fmt.Sprintf("ingest_%d_%d.db", n, i/2))}
		live := filepath.Join(st.state, "live.db")
		before := dbSize(live)
		var out bytes.Buffer
		r, err := measure(ctx, &out, append([]string{e.Netmon, "ingest-once", "--input-file", capture}, st.args()...)...)
		if err != nil {
			return nil, st, err
		}
		sum := summary(out.String())
		if sum["outbound"] != int64(n) {
			return nil, st, fmt.Errorf("ingest-once saw %d outbound flows, want %d: %s", sum["outbound"], n, out.String())
		}
		runs[i%2] = append(runs[i%2], ingestRun{r, sum["rows_written"], dbSize(live), dbSize(st.db), dbSize(live) - before})
	}
	return ingestRows(runs[0], runs[1], n), st, nil
}

// ingestRows summarizes cold and steady runs over n outbound flows.
func ingestRows(cold, steady []ingestRun, n int) []Row {
	c, s := medianIngest(cold), medianIngest(steady)
	rowBytes := float64(c.LiveSize) / float64(max(c.Rows, 1))
	coldRow := Row{
		What: fmt.Sprintf("ingest-once cold, %s outbound flows into an empty live state (tmpfs) and record (disk), median of %d", count(n), len(cold)),
		Netmon: fmt.Sprintf("%s (CPU %s); %s rows; flash (write_bytes) %s, all writes (wchar) %s; live.db %s (%.0f B/row), record %s",
			ms(c.Wall), ms(c.CPU), count(c.Rows), size(c.WriteBytes), size(c.WChar), size(c.LiveSize), rowBytes, size(c.RecordSize)),
		PeakRSS: size(c.MaxRSS),
	}
	if n >= 100_000 {
		coldRow.Target = "< 2 s, peak RSS < 64 MiB"
		coldRow.Result = verdict(c.Wall < 2*time.Second && c.MaxRSS < 64<<20)
		coldRow.Ratio = fmt.Sprintf("%.2f of 2 s; %.2f of 64 MiB", c.Wall.Seconds()/2, float64(c.MaxRSS)/(64<<20))
	}
	perFlow := float64(s.WChar) / float64(n)
	steadyRow := Row{
		What: fmt.Sprintf("ingest-once steady (same snapshot again), %s active flows, median of %d", count(n), len(steady)),
		Netmon: fmt.Sprintf("%s (CPU %s); %s rows; flash (write_bytes) %s; all writes (wchar, to the live state) %s, %.2f B/flow; live.db growth %s",
			ms(s.Wall), ms(s.CPU), count(s.Rows), size(s.WriteBytes), size(s.WChar), perFlow, size(s.Growth)),
		Baseline: fmt.Sprintf("one live row = %.0f B (cold live.db size / rows)", rowBytes),
		Ratio:    fmt.Sprintf("%.4f of a row per flow", perFlow/rowBytes),
		PeakRSS:  size(s.MaxRSS),
	}
	if n <= 10_000 {
		steadyRow.Target = "< 0.1 row's bytes per flow"
		steadyRow.Result = verdict(perFlow < rowBytes/10)
	}
	return []Row{coldRow, steadyRow}
}

// medianIngest is medianRun plus the medians of the ingest figures.
func medianIngest(runs []ingestRun) ingestRun {
	var base []Run
	var rows, live, record, growth []int64
	for _, r := range runs {
		base, rows, growth = append(base, r.Run), append(rows, r.Rows), append(growth, r.Growth)
		live, record = append(live, r.LiveSize), append(record, r.RecordSize)
	}
	return ingestRun{medianRun(base), median(rows), median(live), median(record), median(growth)}
}

// dbSize is the size of db plus its WAL (0 for files that do not exist).
func dbSize(db string) int64 {
	var n int64
	for _, p := range []string{db, db + "-wal"} {
		if fi, err := os.Stat(p); err == nil {
			n += fi.Size()
		}
	}
	return n
}

// summary reads the integer key=value fields of ingest-once's summary
// line ("entries=10000 outbound=9290 ... rows_written=9364 took=541ms").
func summary(s string) map[string]int64 {
	out := map[string]int64{}
	for f := range strings.FieldsSeq(s) {
		k, v, _ := strings.Cut(f, "=")
		if n, err := strconv.ParseInt(v, 10, 64); err == nil {
			out[k] = n
		}
	}
	return out
}

// lab fills the kernel conntrack table of the lab's router namespace
// (scripts/lab.sh) with the TCP/UDP flows of capture and times `conntrack
// -L -o extended` itself, the floor every text reader pays, against
// netmon print-outbound reading that same live table through conntrack.
// The floor writes to /dev/null; under netmon conntrack writes into a
// pipe, which costs both sides CPU that the floor does not pay. Without a
// lab it quotes the floor from the captures' README.
func (e *env) lab(ctx context.Context, capture string) ([]Row, error) {
	ns := e.LabNetns
	if ns == "" {
		return []Row{{
			What:     "conntrack -L -o extended itself (floor, not measured here)",
			Netmon:   "3.3 µs/entry = 303k entries/s, 0.33 s per 100k",
			Baseline: "lab figure (captures README, medians of 7)",
		}}, nil
	}
	load := filepath.Join(e.Work, "conntrack-load.txt")
	n, err := writeLoadFile(capture, load)
	if err != nil {
		return nil, err
	}
	inNS := func(args ...string) *exec.Cmd {
		return exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", ns}, args...)...)
	}
	// Empty the table first: a second run would insert existing tuples.
	for _, c := range [][]string{{"conntrack", "-F"}, {"conntrack", "-R", load}} {
		if out, err := inNS(c...).CombinedOutput(); err != nil {
			return nil, fmt.Errorf("%s: %w: %s", strings.Join(c, " "), err, out)
		}
	}
	out, err := inNS("conntrack", "-C").Output()
	entries, cerr := strconv.Atoi(strings.TrimSpace(string(out)))
	if err != nil || cerr != nil || entries < n {
		return nil, fmt.Errorf("lab table holds %q entries after loading %d: %v", out, n, err)
	}
	med, err := medians(ctx, e.runs,
		[]string{"ip", "netns", "exec", ns, "conntrack", "-L", "-o", "extended"},
		[]string{"ip", "netns", "exec", ns, e.Netmon, "print-outbound", "--top", "20", "--output", "json"})
	if err != nil {
		return nil, err
	}
	ct, nm := med[0], med[1]
	msf := func(d time.Duration) float64 { return d.Seconds() * 1e3 }
	return []Row{
		{
			What:    fmt.Sprintf("conntrack -L -o extended itself, live lab table of %s entries (floor), median of %d", count(entries), e.runs),
			Netmon:  fmt.Sprintf("%.0f ms (CPU %.0f ms), %.2f µs/entry", msf(ct.Wall), msf(ct.CPU), ct.Wall.Seconds()/float64(entries)*1e6),
			PeakRSS: size(ct.MaxRSS),
		},
		{
			What:     "print-outbound --top 20 --output json on that live table (netmon runs conntrack)",
			Netmon:   fmt.Sprintf("%.0f ms (CPU %.0f ms, conntrack's included)", msf(nm.Wall), msf(nm.CPU)),
			Baseline: fmt.Sprintf("conntrack alone %.0f ms", msf(ct.Wall)),
			Ratio: fmt.Sprintf("netmon adds %.0f ms wall (%.0f%%), %.0f ms CPU (%.0f%%)",
				msf(nm.Wall-ct.Wall), 100*float64(nm.Wall-ct.Wall)/float64(ct.Wall),
				msf(nm.CPU-ct.CPU), 100*float64(nm.CPU-ct.CPU)/float64(ct.CPU)),
			PeakRSS: size(nm.MaxRSS),
		},
	}, nil
}
