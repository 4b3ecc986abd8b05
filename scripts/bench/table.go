package main

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/dustin/go-humanize"
)

// Verdict is how a measured figure compares with its target.
type Verdict string

// Verdicts; a row without a target has none.
const (
	Pass Verdict = "PASS"
	Miss Verdict = "MISS"
)

// verdict returns Pass when ok, else Miss.
func verdict(ok bool) Verdict {
	if ok {
		return Pass
	}
	return Miss
}

// Row is one line of the results table.
type Row struct {
	What     string // stage and input
	Netmon   string // netmon's figures
	Baseline string // the baseline measured in the same run, if any
	Ratio    string // how netmon compares with the baseline or target
	PeakRSS  string
	Target   string
	Result   Verdict
}

// writeTable writes rows as a markdown table.
func writeTable(w io.Writer, rows []Row) error {
	cell := func(s string) string {
		if s == "" {
			return " "
		}
		return strings.ReplaceAll(s, "|", `\|`)
	}
	var b strings.Builder
	b.WriteString("| what | netmon | baseline (same run) | ratio | peak RSS | target | result |\n")
	b.WriteString("|---|---|---|---|---|---|---|\n")
	for _, r := range rows {
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s |\n",
			cell(r.What), cell(r.Netmon), cell(r.Baseline), cell(r.Ratio), cell(r.PeakRSS), cell(r.Target), cell(string(r.Result)))
	}
	_, err := io.WriteString(w, b.String())
	if err != nil {
		return fmt.Errorf("write table: %w", err)
	}
	return nil
}

// ms formats d in milliseconds with 3 significant figures.
func ms(d time.Duration) string {
	v := float64(d) / float64(time.Millisecond)
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f ms", v)
	case v >= 10:
		return fmt.Sprintf("%.1f ms", v)
	default:
		return fmt.Sprintf("%.2f ms", v)
	}
}

// size formats a byte count in binary units ("1.6 MiB").
func size(n int64) string {
	if n < 0 {
		return "-" + humanize.IBytes(uint64(-n))
	}
	return humanize.IBytes(uint64(n))
}

// count formats n with thousands separators.
func count(n int64) string { return humanize.Comma(n) }

// ratio formats a/b as "8.3x", or "n/a" when b is 0.
func ratio(a, b float64) string {
	if b == 0 {
		return "n/a"
	}
	r := a / b
	if r >= 10 {
		return fmt.Sprintf("%.0fx", r)
	}
	return fmt.Sprintf("%.1fx", r)
}
