package main

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/tw"
	"github.com/spf13/cobra"

	"github.com/netmon-dev/netmon/pkg/config"
	"github.com/netmon-dev/netmon/pkg/conntrack"
	"github.com/netmon-dev/netmon/pkg/filter"
	"github.com/netmon-dev/netmon/pkg/flows"
	"github.com/netmon-dev/netmon/pkg/ingest"
	"github.com/netmon-dev/netmon/pkg/rates"
	"github.com/netmon-dev/netmon/pkg/web"
)

type printOutboundOptions struct {
	top    int
	output string
	// rate, when set, reads the table twice that far apart and shows
	// rate columns, sorted by rate.
	rate time.Duration
	// now and sleep are the clock (time.Now and a timer when nil).
	now   func() time.Time
	sleep func(context.Context, time.Duration) error
}

func newPrintOutboundCmd(load loader) *cobra.Command {
	var opts printOutboundOptions
	cmd := &cobra.Command{
		Use:   "print-outbound",
		Short: "Print the biggest outbound connections in the conntrack table now",
		Long: `Read the conntrack table once (or a replayed capture), keep the outbound
connections and print the top N by total bytes (uplink + downlink), ties
broken by flow key so the output is stable.

With --rate DURATION the table is read twice, that far apart, and the
connections are printed by rate: what each grew between the two reads
over the real time between them (bits per second, or bytes with
--rate-unit bytes; in JSON uplink_bps and downlink_bps, always bits). A
connection the first read did not list has no rate ("-", null).`,
		Example: `  netmon print-outbound --top 20
  netmon print-outbound --rate 2s --top 10
  netmon print-outbound --input-file fixtures/conntrack/router_extended.txt --output json`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := load(cmd)
			if err != nil {
				return err
			}
			if opts.top < 0 {
				return usageError{fmt.Errorf("--top must be >= 0 (0 = all), got %d", opts.top)}
			}
			if opts.output != "table" && opts.output != "json" {
				return usageError{fmt.Errorf("--output must be table or json, got %q", opts.output)}
			}
			if opts.rate < 0 {
				return usageError{fmt.Errorf("--rate must be a positive duration (like 2s), got %s", opts.rate)}
			}
			return runPrintOutbound(cmd.Context(), cfg, opts, newSource(cfg), cmd.OutOrStdout())
		},
	}
	cmd.Flags().IntVar(&opts.top, "top", 20, "how many connections to print (0 = all)")
	cmd.Flags().StringVarP(&opts.output, "output", "o", "table", "output format: table or json")
	cmd.Flags().DurationVar(&opts.rate, "rate", 0, "read the table twice this far apart and show rates, sorted by rate (like 2s)")
	cmd.Flags().String("rate-unit", config.Default().RateUnit, "show rates in bits or bytes per second (env NETMON_RATE_UNIT)")
	addSourceFlags(cmd.Flags())
	return cmd
}

// runPrintOutbound reads one snapshot from src and prints its top outbound
// connections to w.
func runPrintOutbound(ctx context.Context, cfg config.Config, opts printOutboundOptions, src ingest.Source, w io.Writer) error {
	prefixes, err := cfg.Prefixes()
	if err != nil {
		return err
	}
	f, err := filter.New(prefixes)
	if err != nil {
		return err
	}
	if opts.rate > 0 {
		return printRates(ctx, cfg, opts, f, src, w)
	}
	top := topFlows{n: opts.top}
	var stats conntrack.Stats
	for e, err := range src.List(ctx, &stats) {
		if err != nil {
			return err
		}
		if f.Outbound(e) {
			top.offer(e)
		}
	}
	flows, outbound := top.result(), top.seen
	if opts.output == "json" {
		return writeFlowsJSON(w, flows)
	}
	return writeFlowsTable(w, flows, stats, outbound)
}

// topFlows keeps the n flows that sort first by compareFlows (n = 0: all
// of them). With n > 0 it holds at most n entries, kept sorted, and a
// flow that does not beat the last one costs one comparison of totals:
// copying every outbound entry of a 100,000-line table (about 15 MB) and
// sorting them all took two thirds of print-outbound's CPU, half in the
// sort and much of the rest in the garbage collector.
type topFlows struct {
	n     int
	flows []conntrack.Entry
	seen  int // flows offered
}

// offer considers e (which is copied, not kept).
func (t *topFlows) offer(e *conntrack.Entry) {
	t.seen++
	if t.n <= 0 {
		t.flows = append(t.flows, *e)
		return
	}
	if len(t.flows) == t.n && compareFlows(e, &t.flows[t.n-1]) >= 0 {
		return
	}
	i, _ := slices.BinarySearchFunc(t.flows, e, func(a conntrack.Entry, b *conntrack.Entry) int {
		return compareFlows(&a, b)
	})
	if len(t.flows) < t.n {
		t.flows = append(t.flows, conntrack.Entry{})
	}
	copy(t.flows[i+1:], t.flows[i:len(t.flows)-1])
	t.flows[i] = *e
}

// result returns the kept flows in order.
func (t *topFlows) result() []conntrack.Entry {
	if t.n <= 0 {
		sortByTotal(t.flows)
	}
	return t.flows
}

// sortByTotal orders flows by total bytes, largest first, then by key.
func sortByTotal(flows []conntrack.Entry) {
	slices.SortFunc(flows, func(a, b conntrack.Entry) int { return compareFlows(&a, &b) })
}

// compareFlows orders by total bytes, largest first, then by key.
func compareFlows(a, b *conntrack.Entry) int {
	if c := cmp.Compare(b.TotalBytes(), a.TotalBytes()); c != 0 {
		return c
	}
	return compareKeys(conntrack.KeyOf(a), conntrack.KeyOf(b))
}

func compareKeys(a, b conntrack.FlowKey) int {
	if c := cmp.Compare(a.Proto.String(), b.Proto.String()); c != 0 {
		return c
	}
	if c := a.Src.Compare(b.Src); c != 0 {
		return c
	}
	if c := cmp.Compare(a.SrcPort, b.SrcPort); c != 0 {
		return c
	}
	if c := a.Dst.Compare(b.Dst); c != 0 {
		return c
	}
	return cmp.Compare(a.DstPort, b.DstPort)
}

func writeFlowsJSON(w io.Writer, flows []conntrack.Entry) error {
	out := make([]web.FlowJSON, 0, len(flows))
	for i := range flows {
		e := &flows[i]
		out = append(out, web.NewFlowJSON(conntrack.KeyOf(e), e.State, e.Status, e.Counters()))
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

func writeFlowsTable(w io.Writer, flows []conntrack.Entry, stats conntrack.Stats, outbound int) error {
	if len(flows) == 0 {
		_, err := fmt.Fprintf(w, "No outbound connections right now (%s).\n", countsLine(stats, 0))
		return err
	}
	t := tablewriter.NewTable(w,
		tablewriter.WithHeader([]string{"Proto", "Source", "Destination", "State", "Flags", "Up", "Down", "Total"}),
		tablewriter.WithRowAlignmentConfig(tw.CellAlignment{PerColumn: []tw.Align{
			tw.AlignLeft, tw.AlignLeft, tw.AlignLeft, tw.AlignLeft, tw.AlignLeft,
			tw.AlignRight, tw.AlignRight, tw.AlignRight,
		}}),
	)
	for i := range flows {
		e := &flows[i]
		src, dst := conntrack.KeyOf(e).Endpoints()
		if err := t.Append([]string{
			e.Proto.String(), src, dst, e.State, e.Status.String(),
			humanize.IBytes(e.Orig.Bytes), humanize.IBytes(e.Reply.Bytes), humanize.IBytes(e.TotalBytes()),
		}); err != nil {
			return err
		}
	}
	if err := t.Render(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "%s; showing %d\n", countsLine(stats, outbound), len(flows))
	if err == nil && stats.TrailerMismatch() {
		_, err = fmt.Fprintf(w, "warning: conntrack reported %d entries but %d lines were read\n", stats.Reported, stats.Lines)
	}
	return err
}

func countsLine(s conntrack.Stats, outbound int) string {
	return fmt.Sprintf("%d entries read, %d outbound, %d malformed lines skipped", s.Entries, outbound, s.Skipped)
}

// ratedFlow is an entry of the second read with its rate.
type ratedFlow struct {
	e conntrack.Entry
	r rates.Reading
}

// printRates reads src twice, opts.rate apart (through a flows.Table and
// a rates.Tracker, nothing stored), and prints the top outbound
// connections of the second read by rate.
func printRates(ctx context.Context, cfg config.Config, opts printOutboundOptions, f *filter.Filter, src ingest.Source, w io.Writer) error {
	now, sleep := opts.now, opts.sleep
	if now == nil {
		now = time.Now
	}
	if sleep == nil {
		sleep = sleepCtx
	}
	tab := flows.New()
	tr := rates.New(opts.rate) // the window is the one interval
	var (
		kept  []conntrack.Entry
		stats conntrack.Stats
		t0    time.Time
	)
	read := func(keep bool) error {
		at := now()
		cyc := tab.Begin()
		for e, err := range src.List(ctx, &stats) {
			if err != nil {
				cyc.Abort()
				return err
			}
			if !f.Outbound(e) {
				continue
			}
			if err := cyc.Add(e); err != nil {
				cyc.Abort()
				return err
			}
			if keep {
				kept = append(kept, *e)
			}
		}
		tr.Add(at, cyc.Diff(), nil)
		cyc.Commit()
		if !keep {
			t0 = at
		}
		return nil
	}
	if err := read(false); err != nil {
		return err
	}
	if err := sleep(ctx, opts.rate); err != nil {
		return err
	}
	if err := read(true); err != nil {
		return err
	}
	rows := make([]ratedFlow, len(kept))
	for i := range kept {
		rows[i] = ratedFlow{e: kept[i], r: tr.Lookup(conntrack.KeyOf(&kept[i]))}
	}
	slices.SortFunc(rows, func(a, b ratedFlow) int {
		return cmp.Or(rates.CompareReadings(a.r, b.r), compareFlows(&a.e, &b.e))
	})
	outbound := len(rows)
	if opts.top > 0 && len(rows) > opts.top {
		rows = rows[:opts.top]
	}
	if opts.output == "json" {
		return writeRatesJSON(w, rows)
	}
	return writeRatesTable(w, rows, stats, outbound, tr.At().Sub(t0), rateUnit(cfg))
}

// sleepCtx waits d or until ctx is done.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// ratedFlowJSON is a row of print-outbound --rate --output json.
type ratedFlowJSON struct {
	web.FlowJSON
	web.RateJSON
}

func writeRatesJSON(w io.Writer, rows []ratedFlow) error {
	out := make([]ratedFlowJSON, 0, len(rows))
	for i := range rows {
		e := &rows[i].e
		out = append(out, ratedFlowJSON{web.NewFlowJSON(conntrack.KeyOf(e), e.State, e.Status, e.Counters()), web.NewRateJSON(rows[i].r)})
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

func writeRatesTable(w io.Writer, rows []ratedFlow, stats conntrack.Stats, outbound int, took time.Duration, unit rates.Unit) error {
	if len(rows) == 0 {
		_, err := fmt.Fprintf(w, "No outbound connections right now (%s).\n", countsLine(stats, 0))
		return err
	}
	t := tablewriter.NewTable(w,
		tablewriter.WithHeader([]string{"Proto", "Source", "Destination", "State", "Up rate", "Down rate", "Up", "Down", "Total"}),
		tablewriter.WithRowAlignmentConfig(tw.CellAlignment{PerColumn: []tw.Align{
			tw.AlignLeft, tw.AlignLeft, tw.AlignLeft, tw.AlignLeft,
			tw.AlignRight, tw.AlignRight, tw.AlignRight, tw.AlignRight, tw.AlignRight,
		}}),
	)
	for i := range rows {
		e := &rows[i].e
		src, dst := conntrack.KeyOf(e).Endpoints()
		up, down := unit.FormatReading(rows[i].r)
		if err := t.Append([]string{
			e.Proto.String(), src, dst, e.State, up, down,
			humanize.IBytes(e.Orig.Bytes), humanize.IBytes(e.Reply.Bytes), humanize.IBytes(e.TotalBytes()),
		}); err != nil {
			return err
		}
	}
	if err := t.Render(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "%s; showing %d; rates over %s\n", countsLine(stats, outbound), len(rows), took.Round(time.Millisecond))
	return err
}
