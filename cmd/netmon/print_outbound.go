package main

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strings"
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
	// numeric (-n) prints bare addresses: no name columns, no reverse
	// DNS.
	numeric bool
	// names names the ends of the flows shown (nil: no names; the
	// command builds a namer from the name sources).
	names flowNamer
	// now and sleep are the clock (time.Now and a timer when nil).
	now   func() time.Time
	sleep func(context.Context, time.Duration) error
}

// flowNamer names the ends of the flows shown: it is asked once for all
// of them (so reverse DNS can be waited for once), then for each.
type flowNamer interface {
	prepare(ctx context.Context, ends [][2]netip.Addr)
	flow(src, dst netip.Addr) (dev, devName, dstName string)
}

func newPrintOutboundCmd(load loader) *cobra.Command {
	var opts printOutboundOptions
	cmd := &cobra.Command{
		Use:   "print-outbound",
		Short: "Print the biggest outbound connections in the conntrack table now",
		Long: `Read the conntrack table once (or a replayed capture), keep the outbound
connections and print the top N by total bytes (uplink + downlink), ties
broken by flow key so the output is stable.

Each connection's LAN end is named by its device (the neighbour table's
MAC, the DHCP leases, the devices: map of the configuration) and its
remote end by the name the client looked up (the dnsmasq query log,
--dns-log), else by reverse DNS (up to a second, for the rows shown;
resolve_remote_names: false or -n turns it off). -n prints bare
addresses, as conntrack -n and iftop -n do.

With --rate DURATION the table is read twice, that far apart, and the
connections are printed by rate: what each grew between the two reads
over the real time between them (bits per second, or bytes with
--rate-unit bytes; in JSON uplink_bps and downlink_bps, always bits). A
connection the first read did not list has no rate ("-", null).`,
		Example: `  netmon print-outbound --top 20
  netmon print-outbound -n
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
			if opts.numeric {
				cfg.ResolveRemoteNames = false
			}
			nm := newNamer(cmd.Context(), cfg, nil, newLogger(cmd.ErrOrStderr(), cfg).With("component", "names"))
			nm.once(cmd.Context())
			opts.names = nm
			return runPrintOutbound(cmd.Context(), cfg, opts, newSource(cfg), cmd.OutOrStdout())
		},
	}
	cmd.Flags().IntVar(&opts.top, "top", 20, "how many connections to print (0 = all)")
	cmd.Flags().StringVarP(&opts.output, "output", "o", "table", "output format: table or json")
	cmd.Flags().DurationVar(&opts.rate, "rate", 0, "read the table twice this far apart and show rates, sorted by rate (like 2s)")
	cmd.Flags().String("rate-unit", config.Default().RateUnit, "show rates in bits or bytes per second (env NETMON_RATE_UNIT)")
	cmd.Flags().BoolVarP(&opts.numeric, "numeric", "n", false, "bare addresses: no Device and Remote name columns, no reverse DNS")
	addSourceFlags(cmd.Flags())
	addNameFlags(cmd.Flags())
	return cmd
}

// runPrintOutbound reads one snapshot from src and prints its top outbound
// connections to w.
func runPrintOutbound(ctx context.Context, cfg config.Config, opts printOutboundOptions, src ingest.Source, w io.Writer) error {
	f, err := cfg.Filter()
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
	kept := top.result()
	rows := make([]shownFlow, len(kept))
	for i := range kept {
		rows[i].e = kept[i]
	}
	footer := countsLine(stats, top.seen)
	if len(rows) > 0 {
		footer += fmt.Sprintf("; showing %d", len(rows))
	}
	if len(rows) > 0 && stats.TrailerMismatch() {
		footer += fmt.Sprintf("\nwarning: conntrack reported %d entries but %d lines were read", stats.Reported, stats.Lines)
	}
	footer += accountingFooter(cfg)
	return printFlows(ctx, opts, rows, tableLayout{}, footer, w)
}

// printFlows names rows and prints them as opts.output says: a table has
// l's rate columns, and the name columns unless -n or without a namer.
func printFlows(ctx context.Context, opts printOutboundOptions, rows []shownFlow, l tableLayout, footer string, w io.Writer) error {
	l.names = !opts.numeric && opts.names != nil
	if opts.names != nil {
		ends := make([][2]netip.Addr, len(rows))
		for i := range rows {
			k := conntrack.KeyOf(&rows[i].e)
			ends[i] = [2]netip.Addr{k.Src, k.Dst}
		}
		opts.names.prepare(ctx, ends)
		for i := range rows {
			rows[i].dev, rows[i].devName, rows[i].dstName = opts.names.flow(ends[i][0], ends[i][1])
		}
	}
	if opts.output == "json" {
		return writeFlowsJSON(w, rows)
	}
	return writeFlowsTable(w, rows, l, footer)
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

func countsLine(s conntrack.Stats, outbound int) string {
	return fmt.Sprintf("%d entries read, %d outbound, %d malformed lines skipped", s.Entries, outbound, s.Skipped)
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
	mem := newMemCycles(src, f, opts.rate) // the window is the one interval
	var (
		kept  []conntrack.Entry
		stats conntrack.Stats
		t0    time.Time
	)
	read := func(keep bool) error {
		at := now()
		_, err := mem.read(ctx, at, &stats, func(e *conntrack.Entry) {
			if keep {
				kept = append(kept, *e)
			}
		})
		if err != nil {
			return err
		}
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
	rows := make([]shownFlow, len(kept))
	for i := range kept {
		r := mem.tr.Lookup(conntrack.KeyOf(&kept[i]))
		rows[i] = shownFlow{e: kept[i], r: &r}
	}
	slices.SortFunc(rows, func(a, b shownFlow) int {
		return cmp.Or(rates.CompareReadings(*a.r, *b.r), compareFlows(&a.e, &b.e))
	})
	outbound := len(rows)
	if opts.top > 0 && len(rows) > opts.top {
		rows = rows[:opts.top]
	}
	footer := countsLine(stats, outbound)
	if len(rows) > 0 {
		footer += fmt.Sprintf("; showing %d; rates over %s", len(rows), mem.tr.At().Sub(t0).Round(time.Millisecond))
	}
	footer += accountingFooter(cfg)
	return printFlows(ctx, opts, rows, tableLayout{rates: true, unit: rateUnit(cfg)}, footer, w)
}

// memCycles reads the table into memory only: each read is a cycle of a
// flows.Table over the outbound flows, its growth added to a
// rates.Tracker, nothing stored. print-outbound --rate and top (without a
// netmon process writing the live state) read the table this way.
type memCycles struct {
	src    ingest.Source
	filter *filter.Filter
	tab    *flows.Table
	tr     *rates.Tracker
}

// newMemCycles reads src's outbound flows (by f) with rates over window.
func newMemCycles(src ingest.Source, f *filter.Filter, window time.Duration) memCycles {
	return memCycles{src: src, filter: f, tab: flows.New(), tr: rates.New(window)}
}

// read reads src once as the cycle at at: each is given every outbound
// entry once the cycle holds it (to keep one, copy it) and stats counts
// the read. On an error the cycle is aborted and the table is as it was;
// otherwise read returns the committed cycle's changes.
func (m *memCycles) read(ctx context.Context, at time.Time, stats *conntrack.Stats, each func(*conntrack.Entry)) (*flows.Delta, error) {
	cyc := m.tab.Begin()
	for e, err := range m.src.List(ctx, stats) {
		if err != nil {
			cyc.Abort()
			return nil, err
		}
		if !m.filter.Outbound(e) {
			continue
		}
		if err := cyc.Add(e); err != nil {
			cyc.Abort()
			return nil, err
		}
		each(e)
	}
	d := cyc.Diff()
	m.tr.Add(at, d, nil)
	cyc.Commit()
	return d, nil
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

// shownFlow is a row print-outbound prints: the entry, its rate (with
// --rate) and the names of its ends.
type shownFlow struct {
	e                     conntrack.Entry
	r                     *rates.Reading // nil without --rate
	dev, devName, dstName string
}

// outboundJSON is a row of print-outbound --output json: the flow, its
// device and names, and with --rate its rates.
type outboundJSON struct {
	web.FlowJSON
	*web.RateJSON
}

func writeFlowsJSON(w io.Writer, rows []shownFlow) error {
	out := make([]outboundJSON, 0, len(rows))
	for i := range rows {
		f := &rows[i]
		row := outboundJSON{FlowJSON: web.NewFlowJSON(conntrack.KeyOf(&f.e), f.e.State, f.e.Status, f.e.Counters()).WithNames(f.dev, f.devName, f.dstName)}
		if f.r != nil {
			rj := web.NewRateJSON(*f.r)
			row.RateJSON = &rj
		}
		out = append(out, row)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// tableLayout says which columns the table has.
type tableLayout struct {
	names bool       // Device and Remote name columns (not with -n)
	rates bool       // rate columns (--rate), instead of Flags
	unit  rates.Unit // of the rate columns
}

func writeFlowsTable(w io.Writer, rows []shownFlow, l tableLayout, footer string) error {
	if len(rows) == 0 {
		// The counts go in the sentence; the warning lines after it.
		counts, warnings, _ := strings.Cut(footer, "\n")
		if warnings != "" {
			warnings += "\n"
		}
		_, err := fmt.Fprintf(w, "No outbound connections right now (%s).\n%s", counts, warnings)
		return err
	}
	var head []string
	var align []tw.Align
	col := func(name string, a tw.Align) { head, align = append(head, name), append(align, a) }
	col("Proto", tw.AlignLeft)
	if l.names {
		col("Device", tw.AlignLeft)
	}
	col("Source", tw.AlignLeft)
	col("Destination", tw.AlignLeft)
	if l.names {
		col("Remote name", tw.AlignLeft)
	}
	col("State", tw.AlignLeft)
	if l.rates {
		col("Up rate", tw.AlignRight)
		col("Down rate", tw.AlignRight)
	} else {
		col("Flags", tw.AlignLeft)
	}
	col("Up", tw.AlignRight)
	col("Down", tw.AlignRight)
	col("Total", tw.AlignRight)
	t := tablewriter.NewTable(w, tablewriter.WithHeader(head),
		tablewriter.WithRowAlignmentConfig(tw.CellAlignment{PerColumn: align}))
	for i := range rows {
		f := &rows[i]
		src, dst := conntrack.KeyOf(&f.e).Endpoints()
		cells := []string{f.e.Proto.String()}
		if l.names {
			cells = append(cells, deviceCell(f.dev, f.devName))
		}
		cells = append(cells, src, dst)
		if l.names {
			cells = append(cells, f.dstName)
		}
		cells = append(cells, f.e.State)
		if l.rates {
			up, down := l.unit.FormatReading(*f.r)
			cells = append(cells, up, down)
		} else {
			cells = append(cells, f.e.Status.String())
		}
		cells = append(cells, humanize.IBytes(f.e.Orig.Bytes), humanize.IBytes(f.e.Reply.Bytes), humanize.IBytes(f.e.TotalBytes()))
		if err := t.Append(cells); err != nil {
			return err
		}
	}
	if err := t.Render(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "%s\n", footer)
	return err
}

// deviceCell is how the Device column shows a device: its name, else its
// MAC, else nothing (the Source column has the address).
func deviceCell(dev, name string) string {
	switch {
	case name != "":
		return name
	case strings.HasPrefix(dev, "ip:"):
		return ""
	}
	return dev
}
