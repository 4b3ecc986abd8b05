package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/spf13/cobra"

	"github.com/netmon-dev/netmon/pkg/config"
	"github.com/netmon-dev/netmon/pkg/filter"
	"github.com/netmon-dev/netmon/pkg/ingest"
	"github.com/netmon-dev/netmon/pkg/store"
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
	return cmd
}

// runIngestOnce runs one cycle from src into the configured database and
// prints its summary to w.
func runIngestOnce(ctx context.Context, cfg config.Config, src ingest.Source, w io.Writer) error {
	db, in, err := openIngester(ctx, cfg, src, slog.New(slog.DiscardHandler))
	if err != nil {
		return err
	}
	defer db.Close()
	sum, err := in.ReconcileSnapshot(ctx)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(w, sum.String())
	return err
}

// openIngester opens the database and builds the ingester the commands
// share.
func openIngester(ctx context.Context, cfg config.Config, src ingest.Source, logger *slog.Logger) (*store.DB, *ingest.Ingester, error) {
	prefixes, err := cfg.Prefixes()
	if err != nil {
		return nil, nil, err
	}
	f, err := filter.New(prefixes)
	if err != nil {
		return nil, nil, err
	}
	db, err := store.Open(ctx, cfg.DBPath)
	if err != nil {
		return nil, nil, err
	}
	in := &ingest.Ingester{
		Source:    src,
		Filter:    f,
		Store:     db,
		Now:       time.Now,
		Retention: cfg.Retention,
		Logger:    logger,

		PollCPUBudget: cfg.PollCPUBudget,
	}
	var note string
	if in.Events, note = newEvents(cfg); note != "" {
		logger.Info(note)
	}
	return db, in, nil
}
