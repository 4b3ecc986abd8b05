package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// ingestRun is one measured ingest-once with what it reported and what it
// did to the database files.
type ingestRun struct {
	Run
	Rows     int64 // rows_written from its summary
	Outbound int64 // outbound from its summary
	Growth   int64 // growth of db + WAL file sizes
	DBSize   int64 // db + WAL size afterwards
}

// ingest runs ingest-once cold into an empty database and then again over
// the same snapshot (a steady-state cycle: nothing changed), coldRuns
// times each into fresh databases, on a capture of n outbound flows. It
// returns the rows and the last database, now holding n active flows.
func (e *env) ingest(ctx context.Context, capture string, n int) ([]Row, string, error) {
	var cold, steady []ingestRun
	var db string
	for i := range e.coldRuns {
		db = filepath.Join(e.Work, fmt.Sprintf("ingest_%d_%d.db", n, i))
		c, err := e.ingestOnce(ctx, db, capture)
		if err != nil {
			return nil, "", err
		}
		s, err := e.ingestOnce(ctx, db, capture)
		if err != nil {
			return nil, "", err
		}
		if c.Outbound != int64(n) || s.Outbound != int64(n) {
			return nil, "", fmt.Errorf("ingest-once saw %d and %d outbound flows, want %d", c.Outbound, s.Outbound, n)
		}
		cold, steady = append(cold, c), append(steady, s)
	}
	return ingestRows(cold, steady, n), db, nil
}

// ingestRows summarizes cold and steady runs over n outbound flows.
func ingestRows(cold, steady []ingestRun, n int) []Row {
	mc, ms_ := medianIngest(cold), medianIngest(steady)
	rowBytes := float64(mc.DBSize) / float64(max(mc.Rows, 1))
	coldRow := Row{
		What: fmt.Sprintf("ingest-once cold, %s outbound flows into an empty db, median of %d", count(int64(n)), len(cold)),
		Netmon: fmt.Sprintf("%s (CPU %s); %s rows; wchar %s, write_bytes %s; db %s (%.0f B/row)",
			ms(mc.Wall), ms(mc.CPU()), count(mc.Rows), size(int64(mc.IO.WChar)), size(int64(mc.IO.WriteBytes)), size(mc.DBSize), rowBytes),
		PeakRSS: size(mc.MaxRSS),
	}
	if n >= 100_000 {
		coldRow.Target = "< 2 s, peak RSS < 64 MiB"
		coldRow.Result = verdict(mc.Wall < 2*time.Second && mc.MaxRSS < 64<<20)
		coldRow.Ratio = fmt.Sprintf("%.2f of 2 s; %.2f of 64 MiB", mc.Wall.Seconds()/2, float64(mc.MaxRSS)/(64<<20))
	}
	perFlow := float64(ms_.IO.WChar) / float64(n)
	steadyRow := Row{
		What: fmt.Sprintf("ingest-once steady (same snapshot again), %s active flows, median of %d", count(int64(n)), len(steady)),
		Netmon: fmt.Sprintf("%s (CPU %s); %s rows; wchar %s, write_bytes %s; db+WAL growth %s; %.2f B/flow",
			ms(ms_.Wall), ms(ms_.CPU()), count(ms_.Rows), size(int64(ms_.IO.WChar)), size(int64(ms_.IO.WriteBytes)), size(ms_.Growth), perFlow),
		Baseline: fmt.Sprintf("one row = %.0f B (cold db size / rows)", rowBytes),
		Ratio:    fmt.Sprintf("%.4f of a row per flow", perFlow/rowBytes),
		PeakRSS:  size(ms_.MaxRSS),
	}
	if n <= 10_000 {
		steadyRow.Target = "< 0.1 row's bytes per flow"
		steadyRow.Result = verdict(perFlow < rowBytes/10)
	}
	return []Row{coldRow, steadyRow}
}

// medianIngest is medianRun plus the medians of the ingest figures.
func medianIngest(runs []ingestRun) ingestRun {
	base := make([]Run, len(runs))
	var rows, outb, growth, dbs []int64
	for i, r := range runs {
		base[i] = r.Run
		rows, outb = append(rows, r.Rows), append(outb, r.Outbound)
		growth, dbs = append(growth, r.Growth), append(dbs, r.DBSize)
	}
	m := ingestRun{Run: medianRun(base), Rows: median(rows), Outbound: median(outb), Growth: median(growth), DBSize: median(dbs)}
	m.User, m.Sys = medianCPU(base), 0 // CPU() of the result is the median CPU
	return m
}

// ingestOnce runs one ingest-once over capture into db.
func (e *env) ingestOnce(ctx context.Context, db, capture string) (ingestRun, error) {
	before := dbSize(db)
	var out bytes.Buffer
	r, err := e.measure(ctx, "", []string{e.Netmon, "ingest-once", "--db", db, "--input-file", capture}, &out)
	if err != nil {
		return ingestRun{}, err
	}
	sum, err := parseSummary(out.String())
	if err != nil {
		return ingestRun{}, err
	}
	after := dbSize(db)
	return ingestRun{Run: r, Rows: sum["rows_written"], Outbound: sum["outbound"], Growth: after - before, DBSize: after}, nil
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

// parseSummary reads the integer key=value fields of ingest-once's summary
// line ("entries=10000 outbound=9290 ... rows_written=9364 took=541ms").
func parseSummary(s string) (map[string]int64, error) {
	out := map[string]int64{}
	for f := range strings.FieldsSeq(s) {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			continue
		}
		if n, err := strconv.ParseInt(v, 10, 64); err == nil {
			out[k] = n
		}
	}
	if _, ok := out["rows_written"]; !ok {
		return nil, errors.New("ingest-once summary has no rows_written=")
	}
	if _, ok := out["outbound"]; !ok {
		return nil, errors.New("ingest-once summary has no outbound=")
	}
	return out, nil
}
