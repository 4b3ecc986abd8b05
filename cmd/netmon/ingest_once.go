package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"

	"github.com/spf13/cobra"

	"github.com/netmon-dev/netmon/pkg/config"
	"github.com/netmon-dev/netmon/pkg/ingest"
)

func newIngestOnceCmd(load loader) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "ingest-once",
		Short: "Read the conntrack table once and record its outbound connections in the database",
		Long: `Run one ingest cycle: read the conntrack table (or a replayed capture), keep
the outbound connections and reconcile them into the SQLite database in one
transaction: new connections are inserted, changed ones updated, vanished
ones marked closed, old history pruned. Prints a one-line summary.

A failed conntrack run leaves the database untouched.`,
		Example: `  netmon ingest-once --db /var/lib/netmon/netmon.db
  netmon ingest-once --input-file fixtures/conntrack/router_extended.txt --db /tmp/netmon.db`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := load(cmd)
			if err != nil {
				return err
			}
			return runIngestOnce(cmd.Context(), cfg, newSource(cfg), cmd.OutOrStdout())
		},
	}
	addSourceFlags(cmd.Flags())
	addStoreFlags(cmd.Flags())
	addStateFlags(cmd.Flags())
	addNameFlags(cmd.Flags())
	return cmd
}

// runIngestOnce runs one cycle from src into the live state, commits its
// growth to the record, and prints the cycle's summary to w.
func runIngestOnce(ctx context.Context, cfg config.Config, src ingest.Source, w io.Writer) error {
	st, in, err := openIngester(ctx, cfg, src, slog.New(slog.DiscardHandler))
	if err != nil {
		return err
	}
	defer st.Close()
	sum, err := in.ReconcileSnapshot(ctx)
	if err != nil {
		return err
	}
	if err := in.Commit(ctx); err != nil {
		return err
	}
	_, err = fmt.Fprintln(w, sum.String())
	return err
}
