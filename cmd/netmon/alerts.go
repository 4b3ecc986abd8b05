package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/olekukonko/tablewriter"
	"github.com/spf13/cobra"

	"github.com/netmon-dev/netmon/pkg/alert"
	"github.com/netmon-dev/netmon/pkg/alert/sink"
	"github.com/netmon-dev/netmon/pkg/config"
)

type alertsOptions struct {
	output string
	limit  int
}

func newAlertsCmd(load loader) *cobra.Command {
	var opts alertsOptions
	cmd := &cobra.Command{
		Use:   "alerts",
		Short: "List the recent alerts and where each was delivered",
		Long: `List the newest alerts of the durable record (db_path), newest first,
with their delivery to each sink: delivered (when), pending (attempts, next
try, last error), failed (given up) or folded (into a rate limit's
summary). The netmon process that ingests raises and delivers them; see
the alerts section of configs/netmon.yaml.

  netmon alerts test SINK   sends a test alert through one sink now`,
		Example: `  netmon alerts
  netmon alerts --output json --limit 500
  netmon alerts test phone`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := load(cmd)
			if err != nil {
				return err
			}
			if opts.output != "table" && opts.output != "json" {
				return usageError{fmt.Errorf("--output must be table or json, got %q", opts.output)}
			}
			if opts.limit < 1 || opts.limit > maxAlertList {
				return usageError{fmt.Errorf("--limit must be from 1 to %d, got %d", maxAlertList, opts.limit)}
			}
			return runAlerts(cmd.Context(), cfg, opts, cmd.OutOrStdout())
		},
	}
	cmd.Flags().StringVarP(&opts.output, "output", "o", "table", "output format: table or json")
	cmd.Flags().IntVar(&opts.limit, "limit", 50, "how many alerts, newest first")
	addStoreFlags(cmd.Flags())
	cmd.AddCommand(newAlertsTestCmd(load))
	return cmd
}

// maxAlertList bounds --limit (the outbox keeps at most 10,000 alerts).
const maxAlertList = 10000

func newAlertsTestCmd(load loader) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "test SINK",
		Short: "Send a test alert through one sink now",
		Long: `Send a test alert (kind "test", a new random id) through the sink named
SINK in the alerts section, now, with its timeout, and say whether it
arrived. It does not go through the outbox: nothing is recorded.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageError{fmt.Errorf("want the name of one sink, got %q", args)}
			}
			return nil
		},
		ValidArgsFunction: func(cmd *cobra.Command, _ []string, _ string) ([]string, cobra.ShellCompDirective) {
			cfg, err := load(cmd)
			if err != nil {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			var names []string
			for _, s := range cfg.Alerts.Sinks {
				names = append(names, s.Name)
			}
			return names, cobra.ShellCompDirectiveNoFileComp
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := load(cmd)
			if err != nil {
				return err
			}
			return runAlertsTest(cmd.Context(), cfg, args[0], time.Now(), cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	addLogFlags(cmd.Flags())
	return cmd
}

// runAlerts prints the newest alerts of the record.
func runAlerts(ctx context.Context, cfg config.Config, opts alertsOptions, w io.Writer) error {
	rec, err := openRecordOnly(ctx, cfg)
	if err != nil {
		return err
	}
	defer rec.Close()
	entries, err := rec.RecentAlerts(ctx, opts.limit)
	if err != nil {
		return err
	}
	if opts.output == "json" {
		if entries == nil {
			entries = []alert.Entry{} // [], not null
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(entries)
	}
	if len(entries) == 0 {
		_, err := fmt.Fprintln(w, "No alerts recorded.")
		return err
	}
	t := tablewriter.NewTable(w, tablewriter.WithHeader([]string{"Time", "Kind", "Title", "Delivery"}))
	for _, e := range entries {
		if err := t.Append([]string{e.At.Local().Format(time.DateTime), string(e.Kind), sink.Clean(e.Title, 100), deliveryText(e.Deliveries)}); err != nil {
			return err
		}
	}
	return t.Render()
}

// deliveryText says where an alert is at each sink, one sink a line.
func deliveryText(ds []alert.Delivery) string {
	if len(ds) == 0 {
		return "(recorded only: no sink)"
	}
	lines := make([]string, 0, len(ds))
	for _, d := range ds {
		s := d.Sink + ": " + string(d.State)
		switch d.State {
		case alert.Delivered:
			s += " " + d.SentAt.Local().Format(time.TimeOnly)
		case alert.Pending:
			if d.Attempts > 0 {
				s += fmt.Sprintf(" (%d attempts, next %s)", d.Attempts, d.NextAt.Local().Format(time.TimeOnly))
			}
		case alert.FoldedIn:
			s += " into " + shortID(d.FoldedInto)
		}
		if d.Error != "" && d.State != alert.Delivered {
			s += ": " + sink.Clean(d.Error, 60)
		}
		lines = append(lines, s)
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}

func shortID(id string) string { return id[:min(len(id), 8)] }

// runAlertsTest sends a test alert through the sink named name.
func runAlertsTest(ctx context.Context, cfg config.Config, name string, now time.Time, w, logw io.Writer) error {
	sinks, err := alertSinks(cfg, newLogger(logw, cfg).With("component", "alerts"))
	if err != nil {
		return err
	}
	i := slices.IndexFunc(sinks, func(s alert.SinkConfig) bool { return s.Name == name })
	if i < 0 {
		var names []string
		for _, s := range sinks {
			names = append(names, s.Name)
		}
		return usageError{fmt.Errorf("alerts test: no sink %q in the configuration (sinks: %s)", name, strings.Join(names, ", "))}
	}
	sink.UserAgent = "netmon/" + version
	a := alert.Alert{
		ID:       alert.NewTestID(),
		Kind:     alert.Test,
		Severity: alert.Info,
		At:       now,
		Title:    "netmon test alert",
		Message:  fmt.Sprintf("A test of the alert sink %q, sent by `netmon alerts test` at %s.", name, now.Format(time.RFC3339)),
	}
	start := time.Now()
	if err := alert.SendNow(ctx, sinks[i], a); err != nil {
		return fmt.Errorf("alerts test: %w", err)
	}
	_, err = fmt.Fprintf(w, "sent test alert %s through %s in %s\n", a.ID, name, time.Since(start).Round(time.Millisecond))
	return err
}
