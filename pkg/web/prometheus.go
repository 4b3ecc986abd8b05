package web

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/netmon-dev/netmon/pkg/history"
)

// BuildInfo is what netmon_build_info reports: the version, the VCS
// revision and the Go version the binary was built with.
type BuildInfo struct {
	Version, Revision, GoVersion string
}

// scrapeTimeout bounds the database and /proc reads of one scrape.
const scrapeTimeout = 5 * time.Second

// collector reads the store, the ingest counters and the system figures
// at scrape time, so the counters are right even when another process
// ingests and nothing here keeps state between scrapes.
type collector struct {
	s *server

	cycles, cycleErrors, cycleDuration, overruns, skipped, lastSuccess, healthy *prometheus.Desc
	commits, commitErrors, lastCommit                                           *prometheus.Desc
	evListening, evReceived, evKept, evFolded                                   *prometheus.Desc
	evOverruns, evDropped, evUndecoded, evRestarts                              *prometheus.Desc
	active, remoteHosts, devices, devUp, devDown, devInfo                       *prometheus.Desc
	load1, load5, load15, memTotal, memUsed                                     *prometheus.Desc
	ifUp, ifRxBytes, ifTxBytes, ifRxPackets, ifTxPackets                        *prometheus.Desc
	ctEntries, ctLimit, ctAccounting                                            *prometheus.Desc
	buildInfo                                                                   *prometheus.Desc
}

// newCollector describes every series netmon exports. The per-device
// series are labelled "device" with the stable device id
// ("aa:bb:cc:dd:ee:ff", "ip:10.0.0.9"), never "host" (scrapers and agents
// add a "host" label of their own) nor a name, which can change: the name
// is on netmon_device_info. The ingest counters are the ingest process's
// own, read from the live state when it runs elsewhere: they reset when
// that process restarts, which Prometheus's rate() handles.
func newCollector(s *server) *collector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("netmon_"+name, help, labels, nil)
	}
	return &collector{
		s:             s,
		cycles:        d("ingest_cycles_total", "Ingest cycles run, successful or failed, since the ingest process started."),
		cycleErrors:   d("ingest_cycle_errors_total", "Ingest cycles that failed since the ingest process started."),
		cycleDuration: d("ingest_cycle_duration_seconds", "How long ingest cycles took, from the start of the read to the commit."),
		overruns:      d("ingest_cycle_overruns_total", "Ingest cycles that took longer than their interval."),
		skipped:       d("ingest_skipped_lines_total", "Conntrack lines the successful ingest cycles could not parse."),
		lastSuccess:   d("ingest_last_success_timestamp_seconds", "Unix time of the last successful ingest cycle."),
		healthy:       d("ingest_healthy", "1 while the last successful ingest cycle is at most 3 intervals old, else 0."),
		commits:       d("record_commits_total", "Commits of the history to the durable record since the ingest process started."),
		commitErrors:  d("record_commit_errors_total", "Commits to the durable record that failed (their growth is kept for the next)."),
		lastCommit:    d("record_last_commit_timestamp_seconds", "Unix time of the last successful commit to the durable record."),
		evListening:   d("events_listening", "1 while the conntrack DESTROY events listener is subscribed, else 0."),
		evReceived:    d("events_received_total", "Conntrack DESTROY events received."),
		evKept:        d("events_kept_total", "Conntrack DESTROY events of outbound flows, kept for the next cycle."),
		evFolded:      d("events_folded_total", "Conntrack DESTROY events an ingest cycle committed."),
		evOverruns:    d("events_overruns_total", "Times the events socket's buffer overflowed (ENOBUFS): the kernel dropped events."),
		evDropped:     d("events_dropped_total", "Conntrack DESTROY events thrown away because too many were waiting for a cycle."),
		evUndecoded:   d("events_undecoded_total", "Conntrack event messages that could not be decoded."),
		evRestarts:    d("events_restarts_total", "Times the events socket failed and was opened again (events may be lost meanwhile)."),
		active:        d("active_connections", "Outbound connections in the conntrack table at the last cycle, by protocol.", "proto"),
		remoteHosts:   d("remote_hosts", "Remote hosts ever seen."),
		devices:       d("devices", "LAN devices with traffic; at most the top 256 by bytes get their own series."),
		devUp:         d("device_uplink_bytes_total", "Bytes a LAN device sent to internet hosts (growth of conntrack counters).", "device"),
		devDown:       d("device_downlink_bytes_total", "Bytes a LAN device received from internet hosts (growth of conntrack counters).", "device"),
		devInfo:       d("device_info", "Always 1; the labels name the device: its name (\"\" when none) and MAC (\"\" when keyed by address).", "device", "name", "mac"),
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
		ctAccounting:  d("conntrack_accounting", "1 when the kernel counts conntrack bytes (net.netfilter.nf_conntrack_acct=1), 0 when every byte reads 0."),
		buildInfo:     d("build_info", "Always 1; the labels say which netmon this is.", "version", "revision", "goversion"),
	}
}

// Describe implements prometheus.Collector.
func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	ds := []*prometheus.Desc{
		c.cycles, c.cycleErrors, c.cycleDuration, c.overruns, c.skipped, c.lastSuccess, c.healthy,
		c.commits, c.commitErrors, c.lastCommit,
		c.evListening, c.evReceived, c.evKept, c.evFolded, c.evOverruns, c.evDropped, c.evUndecoded, c.evRestarts,
		c.buildInfo,
	}
	if !c.s.ingestOnly {
		ds = append(ds, c.active, c.remoteHosts, c.devices, c.devUp, c.devDown, c.devInfo,
			c.load1, c.load5, c.load15, c.memTotal, c.memUsed,
			c.ifUp, c.ifRxBytes, c.ifTxBytes, c.ifRxPackets, c.ifTxPackets,
			c.ctEntries, c.ctLimit, c.ctAccounting)
	}
	for _, d := range ds {
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
	if c.s.ingestOnly {
		return
	}
	c.collectStore(ctx, ch)
	c.collectDevices(ctx, ch)
	c.collectSystem(ctx, ch)
}

// collectIngest exports the ingest loop's health and counters.
func (c *collector) collectIngest(ctx context.Context, ch chan<- prometheus.Metric) {
	st := c.s.ingestState(ctx)
	if st.err != nil {
		ch <- prometheus.NewInvalidMetric(c.healthy, fmt.Errorf("read last cycle: %w", st.err))
	} else {
		ch <- prometheus.MustNewConstMetric(c.healthy, prometheus.GaugeValue, boolFloat(st.Healthy))
		if !st.last.IsZero() {
			ch <- prometheus.MustNewConstMetric(c.lastSuccess, prometheus.GaugeValue, unixSeconds(st.last))
		}
	}
	if c.s.counters == nil {
		return
	}
	n, err := c.s.counters.IngestCounters(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.cycles, fmt.Errorf("read ingest counters: %w", err))
		return
	}
	counter := func(d *prometheus.Desc, v int64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(max(v, 0)))
	}
	counter(c.cycles, n.Cycles)
	counter(c.cycleErrors, n.FailedCycles)
	counter(c.overruns, n.Overruns)
	counter(c.skipped, n.SkippedLines)
	if h := n.Durations; len(h.Bounds) == len(h.Counts) {
		buckets := make(map[float64]uint64, len(h.Bounds))
		for i, le := range h.Bounds {
			buckets[le] = h.Counts[i]
		}
		ch <- prometheus.MustNewConstHistogram(c.cycleDuration, h.Count, h.Sum, buckets)
	}
	counter(c.commits, n.Commits)
	counter(c.commitErrors, n.CommitErrors)
	if !n.LastCommit.IsZero() {
		ch <- prometheus.MustNewConstMetric(c.lastCommit, prometheus.GaugeValue, unixSeconds(n.LastCommit))
	}
	if e := n.Events; e.Enabled {
		ch <- prometheus.MustNewConstMetric(c.evListening, prometheus.GaugeValue, boolFloat(e.Listening))
		for _, v := range []struct {
			d *prometheus.Desc
			n uint64
		}{
			{c.evReceived, e.Received}, {c.evKept, e.Kept}, {c.evFolded, e.Folded}, {c.evOverruns, e.Overruns},
			{c.evDropped, e.Dropped}, {c.evUndecoded, e.Undecoded}, {c.evRestarts, e.Restarts},
		} {
			ch <- prometheus.MustNewConstMetric(v.d, prometheus.CounterValue, float64(v.n))
		}
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
}

// collectDevices exports the per-device byte counters and names, for the
// top MaxHostSeries devices by bytes.
func (c *collector) collectDevices(ctx context.Context, ch chan<- prometheus.Metric) {
	ts, err := c.deviceTotals(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.devUp, fmt.Errorf("read device totals: %w", err))
		return
	}
	ch <- prometheus.MustNewConstMetric(c.devices, prometheus.GaugeValue, float64(len(ts)))
	for _, t := range topDevices(ts, MaxHostSeries) {
		ch <- prometheus.MustNewConstMetric(c.devUp, prometheus.CounterValue, float64(t.UplinkBytes), t.Device)
		ch <- prometheus.MustNewConstMetric(c.devDown, prometheus.CounterValue, float64(t.DownlinkBytes), t.Device)
		mac := t.Device
		if strings.HasPrefix(mac, "ip:") {
			mac = ""
		}
		ch <- prometheus.MustNewConstMetric(c.devInfo, prometheus.GaugeValue, 1, t.Device, labelValue(t.Name), mac)
	}
}

// deviceTotals are the devices' totals: Options.Devices', or without it
// the store's LAN addresses, each a device "ip:ADDR".
func (c *collector) deviceTotals(ctx context.Context) ([]history.Total, error) {
	if c.s.devices != nil {
		return c.s.devices.DeviceTotals(ctx)
	}
	hosts, err := c.s.store.LocalHosts(ctx)
	if err != nil {
		return nil, err
	}
	ts := make([]history.Total, len(hosts))
	for i, h := range hosts {
		ts[i] = history.Total{Device: "ip:" + h.IP.String()}
		ts[i].UplinkBytes, ts[i].DownlinkBytes = h.UplinkBytes, h.DownlinkBytes
	}
	return ts, nil
}

// topDevices returns the n devices with the most bytes (ties by id), so
// a LAN bigger than a /24 cannot grow the series without bound.
func topDevices(ts []history.Total, n int) []history.Total {
	if len(ts) <= n {
		return ts
	}
	ts = slices.Clone(ts)
	slices.SortFunc(ts, func(a, b history.Total) int {
		if c := cmp.Compare(b.UplinkBytes+b.DownlinkBytes, a.UplinkBytes+a.DownlinkBytes); c != 0 {
			return c
		}
		return strings.Compare(a.Device, b.Device)
	})
	return ts[:n]
}

// maxLabelRunes bounds a name in a label: a 10 KB name must not make
// every scrape 10 KB bigger.
const maxLabelRunes = 64

// labelValue makes a name fit for a label value: valid UTF-8 (client_golang
// refuses anything else, failing the series), at most maxLabelRunes runes.
// Quotes, backslashes and newlines are the exposition's to escape.
func labelValue(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if utf8.RuneCountInString(s) <= maxLabelRunes {
		return s
	}
	r := []rune(s)
	return string(r[:maxLabelRunes]) + "…"
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
	if ct := snap.Conntrack; ct != nil && ct.Accounting != nil {
		ch <- prometheus.MustNewConstMetric(c.ctAccounting, prometheus.GaugeValue, boolFloat(*ct.Accounting))
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
