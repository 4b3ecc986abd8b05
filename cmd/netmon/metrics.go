package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"

	"github.com/spf13/pflag"

	"github.com/netmon-dev/netmon/pkg/config"
	"github.com/netmon-dev/netmon/pkg/ingest"
	"github.com/netmon-dev/netmon/pkg/store"
	"github.com/netmon-dev/netmon/pkg/web"
)

// addMetricsFlags adds ingest-loop's own metrics server's flag.
func addMetricsFlags(fs *pflag.FlagSet) {
	fs.String("metrics-bind", "", "serve this process's /metrics and /healthz here, WITHOUT login: bind loopback, e.g. 127.0.0.1:9101 (empty: off; serve's /metrics has the same ingest series)")
}

// webCounters translates the counters the live state keeps into what the
// web server exports.
func webCounters(s store.IngestStatus) web.IngestCounters {
	e := s.Events
	return web.IngestCounters{
		Cycles:       s.Cycles,
		FailedCycles: s.FailedCycles,
		Overruns:     s.Overruns,
		SkippedLines: s.SkippedLines,
		Durations:    web.Histogram{Bounds: s.Durations.Bounds, Counts: s.Durations.Counts, Count: s.Durations.Count, Sum: s.Durations.Sum},
		Commits:      s.Commits,
		CommitErrors: s.CommitErrors,
		LastCommit:   s.LastCommitAt,
		Events: web.EventCounters{Enabled: e.Enabled, Listening: e.Listening, Received: e.Received, Kept: e.Kept,
			Folded: e.Folded, Overruns: e.Overruns, Dropped: e.Dropped, Undecoded: e.Undecoded, Restarts: e.Restarts},
	}
}

// inProcessCounters are the counters of the ingest loop of this process.
func inProcessCounters(in *ingest.Ingester) web.Counters {
	return web.CountersFunc(func(context.Context) (web.IngestCounters, error) { return webCounters(in.Counters()), nil })
}

// liveCounters are the counters another process's ingest loop records in
// the live state.
func liveCounters(live *store.Live) web.Counters {
	return web.CountersFunc(func(ctx context.Context) (web.IngestCounters, error) {
		s, err := live.IngestStatus(ctx)
		return webCounters(s), err
	})
}

// startIngestMetrics serves the ingest loop's own /metrics and /healthz on
// cfg.MetricsBind (nothing when it is empty) until ctx is done; wait
// returns when the server has stopped. A non-loopback address is said
// once: the endpoint has no login.
func startIngestMetrics(ctx context.Context, cfg config.Config, in *ingest.Ingester, logger *slog.Logger) (wait func(), err error) {
	if cfg.MetricsBind == "" {
		return func() {}, nil
	}
	h, err := web.NewIngestMetrics(web.IngestMetricsOptions{
		Health:   web.HealthFunc(func() web.IngestStatus { return ingestStatus(in.Status()) }),
		Counters: inProcessCounters(in),
		Interval: cfg.Interval,
		Build:    currentBuild().web(),
		Logger:   logger,
	})
	if err != nil {
		return nil, err
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", cfg.MetricsBind)
	if err != nil {
		return nil, fmt.Errorf("metrics_bind: listen on %s: %w", cfg.MetricsBind, err)
	}
	if !isLoopback(ln.Addr()) {
		logger.Warn("ingest metrics are served without login on a non-loopback address: bind metrics_bind to 127.0.0.1",
			"metrics_bind", cfg.MetricsBind)
	}
	logger.Info("ingest metrics listening", "addr", ln.Addr().String())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := web.ServeListener(ctx, ln, h, logger); err != nil {
			logger.Error("ingest metrics server stopped", "err", err)
		}
	}()
	return func() { <-done }, nil
}

// isLoopback reports whether a listener's address is a loopback one.
func isLoopback(a net.Addr) bool {
	ap, err := netip.ParseAddrPort(a.String())
	return err == nil && ap.Addr().IsLoopback()
}
