package web

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/netmon-dev/netmon/pkg/flows"
)

// BuildInfo is what netmon_build_info reports: the version, the VCS
// revision and the Go version the binary was built with.
type BuildInfo struct {
	Version, Revision, GoVersion string
}

// scrapeTimeout bounds the database and /proc reads of one scrape.
const scrapeTimeout = 5 * time.Second

// collector reads the store, the ingest status and the system figures at
// scrape time, so the counters are right even when another process
// ingests and nothing here keeps state between scrapes.
type collector struct {
	s *server

	cycles, cycleErrors, cycleDuration, skipped, lastSuccess, healthy *prometheus.Desc
	active, remoteHosts, lanHosts, lanUp, lanDown                     *prometheus.Desc
	load1, load5, load15, memTotal, memUsed                           *prometheus.Desc
	ifUp, ifRxBytes, ifTxBytes, ifRxPackets, ifTxPackets              *prometheus.Desc
	ctEntries, ctLimit                                                *prometheus.Desc
	buildInfo                                                         *prometheus.Desc
}

// newCollector describes every series netmon exports. The per-LAN
// series are labelled "device", not "host": scrapers and agents add a
// "host" label of their own, and the value becomes the device id once
// devices are keyed (issue 13; today it is the LAN address).
func newCollector(s *server) *collector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("netmon_"+name, help, labels, nil)
	}
	return &collector{
		s:             s,
		cycles:        d("ingest_cycles_total", "Ingest cycles run (from the database when ingest runs in another process)."),
		cycleErrors:   d("ingest_cycle_errors_total", "Ingest cycles that failed (only when ingest runs in this process)."),
		cycleDuration: d("ingest_last_cycle_duration_seconds", "Duration of the last successful ingest cycle (only when ingest runs in this process)."),
		skipped:       d("ingest_last_cycle_skipped_lines", "Conntrack lines the last successful cycle could not parse (only when ingest runs in this process)."),
		lastSuccess:   d("ingest_last_success_timestamp_seconds", "Unix time of the last successful ingest cycle."),
		healthy:       d("ingest_healthy", "1 while the last successful ingest cycle is at most 3 intervals old, else 0."),
		active:        d("active_connections", "Outbound connections in the conntrack table at the last cycle, by protocol.", "proto"),
		remoteHosts:   d("remote_hosts", "Remote hosts ever seen."),
		lanHosts:      d("lan_hosts", "LAN hosts with traffic; at most the top 256 by bytes get their own byte counters."),
		lanUp:         d("lan_host_uplink_bytes_total", "Bytes sent by a LAN device to internet hosts (growth of conntrack counters).", "device"),
		lanDown:       d("lan_host_downlink_bytes_total", "Bytes received by a LAN device from internet hosts (growth of conntrack counters).", "device"),
		load1:         d("system_load1", "1-minute load average."),
		load5:         d("system_load5", "5-minute load average."),
		load15:        d("system_load15", "15-minute load average."),
		memTotal:      d("system_memory_total_bytes", "Total usable RAM."),
		memUsed:       d("system_memory_used_bytes", "RAM in use: MemTotal - MemAvailable."),
		ifUp:          d("interface_readable", "1 when the monitored interface's counters could be read, else 0.", "interface"),
		ifRxBytes:     d("interface_receive_bytes_total", "Bytes received by a monitored interface.", "interface"),
		ifTxBytes:     d("interface_transmit_bytes_total", "Bytes sent by a monitored interface.", "interface"),
		ifRxPackets:   d("interface_receive_packets_total", "Packets received by a monitored interface.", "interface"),
		ifTxPackets:   d("interface_transmit_packets_total", "Packets sent by a monitored interface.", "interface"),
		ctEntries:     d("conntrack_entries", "Entries in the kernel conntrack table (all of them, not only outbound)."),
		ctLimit:       d("conntrack_entries_limit", "Maximum size of the kernel conntrack table (nf_conntrack_max)."),
		buildInfo:     d("build_info", "Always 1; the labels say which netmon this is.", "version", "revision", "goversion"),
	}
}

// Describe implements prometheus.Collector.
func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{
		c.cycles, c.cycleErrors, c.cycleDuration, c.skipped, c.lastSuccess, c.healthy,
		c.active, c.remoteHosts, c.lanHosts, c.lanUp, c.lanDown,
		c.load1, c.load5, c.load15, c.memTotal, c.memUsed,
		c.ifUp, c.ifRxBytes, c.ifTxBytes, c.ifRxPackets, c.ifTxPackets,
		c.ctEntries, c.ctLimit, c.buildInfo,
	} {
		ch <- d
	}
}

// Collect implements prometheus.Collector. A source that fails yields an
// invalid metric (the scrape reports the error) and the others still
// export.
func (c *collector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
	defer cancel()
	b := c.s.build
	ch <- prometheus.MustNewConstMetric(c.buildInfo, prometheus.GaugeValue, 1, b.Version, b.Revision, b.GoVersion)
	c.collectIngest(ctx, ch)
	c.collectStore(ctx, ch)
	c.collectSystem(ctx, ch)
}

// collectIngest exports the ingest loop's state.
func (c *collector) collectIngest(ctx context.Context, ch chan<- prometheus.Metric) {
	st := c.s.ingestState(ctx)
	if st.err != nil {
		ch <- prometheus.NewInvalidMetric(c.cycles, fmt.Errorf("read last cycle: %w", st.err))
		return
	}
	ch <- prometheus.MustNewConstMetric(c.healthy, prometheus.GaugeValue, boolFloat(st.Healthy))
	ch <- prometheus.MustNewConstMetric(c.cycles, prometheus.CounterValue, float64(st.Cycles))
	if !st.last.IsZero() {
		ch <- prometheus.MustNewConstMetric(c.lastSuccess, prometheus.GaugeValue, unixSeconds(st.last))
	}
	if c.s.health == nil {
		return
	}
	h := c.s.health.IngestStatus()
	ch <- prometheus.MustNewConstMetric(c.cycleErrors, prometheus.CounterValue, float64(h.Errors))
	if !h.LastOK.IsZero() {
		ch <- prometheus.MustNewConstMetric(c.cycleDuration, prometheus.GaugeValue, h.LastDuration.Seconds())
		ch <- prometheus.MustNewConstMetric(c.skipped, prometheus.GaugeValue, float64(h.LastSkipped))
	}
}

// collectStore exports the database figures.
func (c *collector) collectStore(ctx context.Context, ch chan<- prometheus.Metric) {
	byProto, err := c.s.store.ActiveByProto(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.active, fmt.Errorf("count active connections: %w", err))
	}
	for proto, n := range byProto {
		ch <- prometheus.MustNewConstMetric(c.active, prometheus.GaugeValue, float64(n), proto)
	}
	if n, err := c.s.store.RemoteHostCount(ctx); err != nil {
		ch <- prometheus.NewInvalidMetric(c.remoteHosts, fmt.Errorf("count remote hosts: %w", err))
	} else {
		ch <- prometheus.MustNewConstMetric(c.remoteHosts, prometheus.GaugeValue, float64(n))
	}
	hosts, err := c.s.store.LocalHosts(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.lanUp, fmt.Errorf("read lan hosts: %w", err))
		return
	}
	ch <- prometheus.MustNewConstMetric(c.lanHosts, prometheus.GaugeValue, float64(len(hosts)))
	for _, h := range topHosts(hosts, MaxHostSeries) {
		ip := h.IP.String()
		ch <- prometheus.MustNewConstMetric(c.lanUp, prometheus.CounterValue, float64(h.UplinkBytes), ip)
		ch <- prometheus.MustNewConstMetric(c.lanDown, prometheus.CounterValue, float64(h.DownlinkBytes), ip)
	}
}

// topHosts returns the n hosts with the most bytes (ties by address), so
// a LAN bigger than a /24 cannot grow the series without bound.
func topHosts(hosts []flows.Host, n int) []flows.Host {
	if len(hosts) <= n {
		return hosts
	}
	hs := slices.Clone(hosts)
	slices.SortFunc(hs, func(a, b flows.Host) int {
		if c := cmp.Compare(b.UplinkBytes+b.DownlinkBytes, a.UplinkBytes+a.DownlinkBytes); c != 0 {
			return c
		}
		return a.IP.Compare(b.IP)
	})
	return hs[:n]
}

// collectSystem exports the router's own figures.
func (c *collector) collectSystem(ctx context.Context, ch chan<- prometheus.Metric) {
	snap, err := c.s.metrics.Read(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.load1, fmt.Errorf("read system metrics: %w", err))
		return
	}
	ch <- prometheus.MustNewConstMetric(c.load1, prometheus.GaugeValue, snap.Load.Load1)
	ch <- prometheus.MustNewConstMetric(c.load5, prometheus.GaugeValue, snap.Load.Load5)
	ch <- prometheus.MustNewConstMetric(c.load15, prometheus.GaugeValue, snap.Load.Load15)
	ch <- prometheus.MustNewConstMetric(c.memTotal, prometheus.GaugeValue, float64(snap.Memory.TotalBytes))
	ch <- prometheus.MustNewConstMetric(c.memUsed, prometheus.GaugeValue, float64(snap.Memory.UsedBytes))
	for _, it := range snap.Interfaces {
		ch <- prometheus.MustNewConstMetric(c.ifUp, prometheus.GaugeValue, boolFloat(it.Error == ""), it.Name)
		if it.Error != "" {
			continue
		}
		ch <- prometheus.MustNewConstMetric(c.ifRxBytes, prometheus.CounterValue, float64(it.RxBytes), it.Name)
		ch <- prometheus.MustNewConstMetric(c.ifTxBytes, prometheus.CounterValue, float64(it.TxBytes), it.Name)
		ch <- prometheus.MustNewConstMetric(c.ifRxPackets, prometheus.CounterValue, float64(it.RxPackets), it.Name)
		ch <- prometheus.MustNewConstMetric(c.ifTxPackets, prometheus.CounterValue, float64(it.TxPackets), it.Name)
	}
	if ct := snap.Conntrack; ct != nil && ct.Error == "" {
		ch <- prometheus.MustNewConstMetric(c.ctEntries, prometheus.GaugeValue, float64(ct.Count))
		ch <- prometheus.MustNewConstMetric(c.ctLimit, prometheus.GaugeValue, float64(ct.Max))
	}
}

// boolFloat is 1 for true, 0 for false.
func boolFloat(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// unixSeconds is t as fractional Unix seconds.
func unixSeconds(t time.Time) float64 { return float64(t.UnixMilli()) / 1000 }

// register puts netmon's collector into the registry, creating one (with
// the Go and process collectors) when Options.Registry was nil.
func (s *server) register() error {
	if s.registry == nil {
		s.registry = prometheus.NewRegistry()
		for _, c := range []prometheus.Collector{
			collectors.NewGoCollector(),
			collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		} {
			if err := s.registry.Register(c); err != nil {
				return fmt.Errorf("register runtime collector: %w", err)
			}
		}
	}
	if err := s.registry.Register(newCollector(s)); err != nil {
		return fmt.Errorf("register netmon collector: %w", err)
	}
	if s.alerts != nil {
		if err := s.registry.Register(newAlertCollector(s.alerts)); err != nil {
			return fmt.Errorf("register alert collector: %w", err)
		}
	}
	return nil
}

// promLogger sends promhttp's errors to slog.
type promLogger struct{ log *slog.Logger }

// Println implements promhttp.Logger.
func (p promLogger) Println(v ...any) { p.log.Warn("serve metrics", "err", fmt.Sprint(v...)) }

// prometheus serves GET /metrics in the Prometheus text format.
func (s *server) prometheus() http.HandlerFunc {
	h := promhttp.HandlerFor(s.registry, promhttp.HandlerOpts{
		ErrorLog:            promLogger{s.log},
		ErrorHandling:       promhttp.ContinueOnError,
		MaxRequestsInFlight: 4,
	})
	return func(w http.ResponseWriter, r *http.Request) {
		if _, err := query(r); err != nil {
			s.writeError(w, http.StatusBadRequest, err.Error())
			return
		}
		h.ServeHTTP(w, r)
	}
}
