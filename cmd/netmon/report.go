package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"os"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/tw"
	"github.com/spf13/cobra"

	"github.com/netmon-dev/netmon/pkg/config"
	"github.com/netmon-dev/netmon/pkg/history"
	"github.com/netmon-dev/netmon/pkg/store"
	"github.com/netmon-dev/netmon/pkg/web"
)

type reportOptions struct {
	period, from, to string
	by               string
	output           string
}

func newReportCmd(load loader) *cobra.Command {
	var opts reportOptions
	cmd := &cobra.Command{
		Use:   "report [devices | remotes | device ID | remote ADDR]",
		Short: "Show how much each device or remote host used over a period, from the database",
		Long: `Report the traffic the durable record holds (the database at db_path),
as of its last commit (see commit_interval and 'netmon commit'):

  devices        every device's traffic over the period (the default)
  remotes        every remote host's traffic over the days of the period
  device ID      one device: its buckets (--by) and its remote hosts
  remote ADDR    one remote host: its days and the devices that talked to it

The period is --period (` + history.Periods + `; default today)
or --from and --to (RFC 3339, or a local date YYYY-MM-DD that --to
includes whole). Days and months follow the router's time zone; a billing
month starts on billing_day.`,
		Example: `  netmon report
  netmon report devices --period billing
  netmon report device aa:bb:cc:dd:ee:ff --period 7d --by day
  netmon report remotes --from 2026-11-01 --to 2026-11-30 --output csv`,
		Args: func(cmd *cobra.Command, args []string) error {
			switch {
			case len(args) == 0:
			case (args[0] == "devices" || args[0] == "remotes") && len(args) == 1:
			case (args[0] == "device" || args[0] == "remote") && len(args) == 2:
			default:
				return usageError{fmt.Errorf("want devices, remotes, device ID or remote ADDR, got %q", args)}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := load(cmd)
			if err != nil {
				return err
			}
			switch opts.output {
			case "table", "json", "csv":
			default:
				return usageError{fmt.Errorf("--output must be table, json or csv, got %q", opts.output)}
			}
			if opts.by != "" {
				if _, err := history.ParseRes(opts.by); err != nil {
					return usageError{fmt.Errorf("--by: %w", err)}
				}
			}
			return runReport(cmd.Context(), cfg, opts, args, time.Now(), cmd.OutOrStdout())
		},
	}
	cmd.Flags().StringVar(&opts.period, "period", "", "period: "+history.Periods+" (default today)")
	cmd.Flags().StringVar(&opts.from, "from", "", "start of the span (RFC 3339 or YYYY-MM-DD), instead of --period")
	cmd.Flags().StringVar(&opts.to, "to", "", "end of the span (RFC 3339, or YYYY-MM-DD included whole; default now)")
	cmd.Flags().StringVar(&opts.by, "by", "", "bucket size of one device's history: 5m, hour, day or month (default hour up to 2 days, else day)")
	cmd.Flags().StringVarP(&opts.output, "output", "o", "table", "output format: table, json or csv")
	addStoreFlags(cmd.Flags())
	return cmd
}

// runReport prints one report from the record at cfg.DBPath.
func runReport(ctx context.Context, cfg config.Config, opts reportOptions, args []string, now time.Time, w io.Writer) error {
	cal := calendar(cfg)
	sp, err := web.ParseSpan(cal, now, opts.period, opts.from, opts.to)
	if err != nil {
		return usageError{err}
	}
	st, err := openRecordOnly(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	keep := retention(cfg).Device
	what := "devices"
	if len(args) > 0 {
		what = args[0]
	}
	switch what {
	case "devices":
		ts, err := st.DeviceTotals(ctx, keep.Tiles(cal, sp, now))
		if err != nil {
			return err
		}
		return writeReport(w, opts.output, web.NewTotalsJSON(ts, false), nil)
	case "remotes":
		ts, err := st.RemoteTotals(ctx, cal.Days(sp))
		if err != nil {
			return err
		}
		return writeReport(w, opts.output, web.NewTotalsJSON(ts, true), nil)
	case "device":
		res := history.Hour
		if opts.by != "" {
			res, _ = history.ParseRes(opts.by)
		} else if sp.To.Sub(sp.From) > 48*time.Hour {
			res = history.Day
		}
		pts, err := st.DeviceHistory(ctx, args[1], res, sp)
		if err != nil {
			return err
		}
		rem, err := st.DeviceRemotes(ctx, args[1], cal.Days(sp))
		if err != nil {
			return err
		}
		return writeReport(w, opts.output, web.NewPointsJSON(pts, cal.Loc), web.NewTotalsJSON(rem, true))
	default: // remote
		addr, err := netip.ParseAddr(args[1])
		if err != nil {
			return usageError{fmt.Errorf("remote: %q is not an IP address", args[1])}
		}
		pts, err := st.RemoteHistory(ctx, addr, cal.Days(sp))
		if err != nil {
			return err
		}
		devs, err := st.RemoteDevices(ctx, addr, cal.Days(sp))
		if err != nil {
			return err
		}
		return writeReport(w, opts.output, web.NewPointsJSON(pts, cal.Loc), web.NewTotalsJSON(devs, false))
	}
}

// openRecordOnly opens the record for reading; it must exist.
func openRecordOnly(ctx context.Context, cfg config.Config) (*store.Record, error) {
	if _, err := os.Stat(cfg.DBPath); err != nil {
		return nil, fmt.Errorf("db_path: %w (nothing was recorded there yet: check --db)", err)
	}
	return store.OpenRecord(ctx, cfg.DBPath)
}

// writeReport prints rows (and, for one device or remote host, the rows
// of its other side) as a table, JSON or CSV. JSON of one thing is an
// object {"buckets": rows, "peers": more}.
func writeReport(w io.Writer, output string, rows, more []web.TotalJSON) error {
	switch output {
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		if more == nil {
			return enc.Encode(rows)
		}
		return enc.Encode(struct {
			Buckets []web.TotalJSON `json:"buckets"`
			Peers   []web.TotalJSON `json:"peers"`
		}{rows, more})
	case "csv":
		if err := web.WriteTotalsCSV(csv.NewWriter(w), rows); err != nil || more == nil {
			return err
		}
		if _, err := fmt.Fprintln(w); err != nil {
			return err
		}
		return web.WriteTotalsCSV(csv.NewWriter(w), more)
	}
	if err := totalsTable(w, rows); err != nil || more == nil {
		return err
	}
	return totalsTable(w, more)
}

// totalsTable prints rows as a table with human sizes.
func totalsTable(w io.Writer, rows []web.TotalJSON) error {
	if len(rows) == 0 {
		_, err := fmt.Fprintln(w, "No traffic recorded in the period.")
		return err
	}
	first := "Device"
	switch {
	case rows[0].Start != "":
		first = "Start"
	case rows[0].Remote != nil:
		first = "Remote"
	}
	t := tablewriter.NewTable(w,
		tablewriter.WithHeader([]string{first, "Name", "Up", "Down", "Total", "Connections"}),
		tablewriter.WithRowAlignmentConfig(tw.CellAlignment{PerColumn: []tw.Align{
			tw.AlignLeft, tw.AlignLeft, tw.AlignRight, tw.AlignRight, tw.AlignRight, tw.AlignRight,
		}}),
	)
	for _, r := range rows {
		key := r.Start
		switch {
		case r.Device != nil:
			key = *r.Device
		case r.Remote != nil && *r.Remote == "":
			key = "(other)"
		case r.Remote != nil:
			key = *r.Remote
		}
		if err := t.Append([]string{key, r.Name, humanize.IBytes(r.UplinkBytes), humanize.IBytes(r.DownlinkBytes),
			humanize.IBytes(r.TotalBytes), humanize.Comma(int64(r.Connections))}); err != nil {
			return err
		}
	}
	return t.Render()
}
