package main

import (
	"context"
	"io"

	"github.com/spf13/cobra"

	"github.com/netmon-dev/netmon/pkg/config"
	"github.com/netmon-dev/netmon/pkg/ingest"
)

func newIngestLoopCmd(load loader) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "ingest-loop",
		Short: "Record outbound connections in the database every interval until stopped",
		Long: `Run an ingest cycle every --interval until SIGINT or SIGTERM. Cycles never
overlap: a slow cycle delays the next one. A failed cycle is logged and the
loop goes on; on a signal the running cycle commits or rolls back first.

With --input-file the file is read again every cycle, so editing it changes
the database live; a directory is replayed one file per cycle, in name
order, looping.

With --metrics-bind the process serves its own /metrics and /healthz
(Prometheus text: the ingest series, no login): bind it to loopback.
'serve --ingest=false' exports the same ingest series from the live state.`,
		Example: `  netmon ingest-loop --interval 1s
  CONNTRACK_INPUT_FILE=fixtures/replay netmon ingest-loop --db /tmp/netmon.db`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := load(cmd)
			if err != nil {
				return err
			}
			return runIngestLoop(cmd.Context(), cfg, newSource(cfg), cmd.ErrOrStderr())
		},
	}
	addSourceFlags(cmd.Flags())
	addStoreFlags(cmd.Flags())
	addStateFlags(cmd.Flags())
	addNameFlags(cmd.Flags())
	addLogFlags(cmd.Flags())
	addRateFlags(cmd.Flags())
	addMetricsFlags(cmd.Flags())
	cmd.Flags().Duration("interval", config.Default().Interval, "time between cycles")
	return cmd
}

// runIngestLoop runs cycles until ctx is cancelled, logging to logw.
func runIngestLoop(ctx context.Context, cfg config.Config, src ingest.Source, logw io.Writer) error {
	logger := newLogger(logw, cfg).With("component", "ingest")
	st, in, err := openIngester(ctx, cfg, src, logger)
	if err != nil {
		return err
	}
	defer st.Close()
	defer startAlerts(ctx, cfg, st, in, newLogger(logw, cfg).With("component", "alerts"))() // stops after the loop
	in.CommitNow = commitRequests(ctx)
	warnAccounting(cfg, logger)
	mctx, stopMetrics := context.WithCancel(ctx)
	metricsDone, err := startIngestMetrics(mctx, cfg, in, logger.With("component", "metrics"))
	if err != nil {
		stopMetrics()
		return err
	}
	defer func() {
		stopMetrics()
		metricsDone()
	}()
	if err := firstCycle(ctx, in); err != nil {
		return err
	}
	logger.Info("ingest loop started", "db", cfg.DBPath, "state_dir", stateDir(cfg), "interval", cfg.Interval,
		"commit_interval", cfg.CommitInterval, "source", sourceName(cfg), "metrics_bind", cfg.MetricsBind)
	nctx, stopNames := context.WithCancel(ctx)
	names := make(chan struct{})
	go func() {
		defer close(names)
		st.names.run(nctx)
	}()
	err = in.Loop(ctx, cfg.Interval, nil)
	stopNames()
	<-names
	logger.Info("ingest loop stopped")
	return err
}

func sourceName(cfg config.Config) string {
	if cfg.InputFile != "" {
		return cfg.InputFile
	}
	return cfg.ConntrackPath
}
