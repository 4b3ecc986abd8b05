package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"sync"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/netmon-dev/netmon/pkg/config"
	"github.com/netmon-dev/netmon/pkg/ingest"
	"github.com/netmon-dev/netmon/pkg/sysmetrics"
	"github.com/netmon-dev/netmon/pkg/web"
)

// addServeFlags adds the dashboard's flags.
func addServeFlags(fs *pflag.FlagSet) {
	def := config.Default()
	fs.String("bind", def.Bind, "listen address; use the router's LAN address (login: netmon passwd)")
	fs.Bool("ingest", def.Ingest, "run the ingest loop in this process (false: another process runs ingest-loop)")
	fs.Duration("new-host-window", def.NewHostWindow, "a remote host first seen within this window is marked \"new\" on the dashboard (else \"seen before\")")
	fs.Int("top-rows", def.TopRows, "connections shown on the dashboard")
	fs.StringSlice("interfaces", def.MonitorInterfaces, "interfaces shown as tiles, comma separated (env NETMON_INTERFACES; default: the default route's and the LAN's)")
}

// serveHooks lets tests learn the listen address (bind to port 0).
type serveHooks struct {
	listening func(net.Addr)
}

func newServeCmd(load loader, info buildInfo) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve the live dashboard, JSON endpoints and Prometheus metrics",
		Long: `Serve the dashboard on --bind: the active outbound connections, largest
first, updated every second, with the router's load, memory, interface and
conntrack-table tiles. Endpoints:

  GET /                   dashboard
  GET /connections.json   active connections (?limit=N, ?sort=rate|bytes)
  GET /api/now            rates now: router, devices, remote hosts
  GET /metrics.json       system figures
  GET /metrics            Prometheus text format
  GET /healthz            200 while ingest is recent, else 503

By default the ingest loop runs in the same process; with --ingest=false
the dashboard reads a database that a separate 'netmon ingest-loop' fills.

Only requests whose Host header names this server (the bound address,
localhost, allowed_hosts) are answered, only from allow_from when set.
The login is off until 'netmon passwd' sets a password; bind to the LAN
address, never the WAN.`,
		Example: `  netmon serve --bind 10.0.0.1:8080
  netmon serve --input-file fixtures/replay --db /tmp/netmon-demo.db
  netmon serve --ingest=false --bind 10.0.0.1:8080 --db /var/lib/netmon/netmon.db`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := load(cmd)
			if err != nil {
				return err
			}
			return runServe(cmd.Context(), cfg, newSource(cfg), cmd.ErrOrStderr(), serveHooks{})
		},
	}
	addSourceFlags(cmd.Flags())
	addStoreFlags(cmd.Flags())
	addStateFlags(cmd.Flags())
	addNameFlags(cmd.Flags())
	addLogFlags(cmd.Flags())
	addServeFlags(cmd.Flags())
	addRateFlags(cmd.Flags())
	cmd.Flags().Duration("interval", config.Default().Interval, "time between ingest cycles")
	return cmd
}

// runServe serves the dashboard until ctx is done, running the ingest
// loop beside it when cfg.Ingest is set.
func runServe(ctx context.Context, cfg config.Config, src ingest.Source, logw io.Writer, hooks serveHooks) error {
	logger := newLogger(logw, cfg)
	access, err := webAccess(cfg, logger.With("component", "web"))
	if err != nil {
		return err
	}

	var (
		st *stores
		in *ingest.Ingester
	)
	if cfg.Ingest {
		st, in, err = openIngester(ctx, cfg, src, logger.With("component", "ingest"))
		if err == nil {
			in.CommitNow = commitRequests(ctx)
			warnAccounting(cfg, logger.With("component", "ingest"))
		}
	} else {
		st, err = openStores(ctx, cfg, false)
	}
	if err != nil {
		return err
	}
	defer st.Close()
	stopAlerts := func() {}
	if in != nil {
		// Alerts hear the first cycle too (ingest-loop's order); stopped
		// after the loop, or on the way out when serve fails before it.
		stopAlerts = sync.OnceFunc(startAlerts(ctx, cfg, st, in, logger.With("component", "alerts")))
		defer stopAlerts()
		if err := firstCycle(ctx, in); err != nil {
			return err
		}
	}

	// One sampler for the dashboard, /metrics.json and /metrics, so the
	// interface rates span its ticks, not the gap between two readers.
	metrics, err := systemMetrics(cfg)
	if err != nil {
		return err
	}
	opts := web.Options{
		Store:         st.live,
		Metrics:       metrics,
		Interval:      cfg.Interval,
		NewHostWindow: cfg.NewHostWindow,
		TopN:          cfg.TopRows,
		Logger:        logger.With("component", "web"),
		History:       st.record,
		Calendar:      calendar(cfg),
		Keep:          retention(cfg).Device,
		Access:        access,
		Build:         currentBuild().web(),
		Rates:         st.live,
		RateUnit:      cfg.RateUnit,
		Alerts:        st.record,
		Devices:       st.live,
		Counters:      liveCounters(st.live),
	}
	if in != nil {
		opts.Health = web.HealthFunc(func() web.IngestStatus { return ingestStatus(in.Status()) })
		opts.Counters = inProcessCounters(in)
	}
	h, err := web.New(opts)
	if err != nil {
		return err
	}

	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", cfg.Bind)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Bind, err)
	}
	if hooks.listening != nil {
		hooks.listening(ln.Addr())
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := metrics.Run(ctx, cfg.Interval); err != nil {
			logger.Error("system metrics sampler stopped", "err", err)
		}
	}()
	if in != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Loop only returns when ctx is done, after the running cycle ended.
			_ = in.Loop(ctx, cfg.Interval, nil)
			stopAlerts()
		}()
		wg.Add(1)
		go func() {
			defer wg.Done()
			st.names.run(ctx)
		}()
	}
	err = web.ServeListener(ctx, ln, h, logger.With("component", "web"))
	cancel()
	wg.Wait()
	return err
}

// systemMetrics is the sampler of the router's figures under fs_root:
// the interfaces named by monitor_interfaces, or when it is empty those
// of the default route and of local_subnets.
func systemMetrics(cfg config.Config) (*sysmetrics.Sampler, error) {
	lan, err := cfg.Prefixes()
	if err != nil {
		return nil, err
	}
	return sysmetrics.NewSampler(sysmetrics.Options{
		Root:       cfg.FSRoot,
		Interfaces: cfg.MonitorInterfaces,
		Detect:     true,
		LAN:        lan,
	}), nil
}

// ingestStatus translates the loop's status into what the web server shows.
func ingestStatus(st ingest.Status) web.IngestStatus {
	return web.IngestStatus{
		LastOK:       st.LastOK,
		LastErr:      st.LastErr,
		Cycles:       st.Cycles + st.Errors,
		Errors:       st.Errors,
		LastDuration: st.LastSummary.Took,
		LastSkipped:  st.LastSummary.Skipped,
	}
}
