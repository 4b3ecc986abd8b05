package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// ifCounters is one interface's counters from sysfs.
type ifCounters struct {
	RxBytes, TxBytes, RxPackets, TxPackets uint64
}

// readIfCounters reads /sys/class/net/<name>/statistics under root ("/" on
// a real machine), the files netmon reports.
func readIfCounters(root, name string) (ifCounters, error) {
	var c ifCounters
	dir := filepath.Join(root, "sys", "class", "net", name, "statistics")
	for _, f := range []struct {
		file string
		dst  *uint64
	}{{"rx_bytes", &c.RxBytes}, {"tx_bytes", &c.TxBytes}, {"rx_packets", &c.RxPackets}, {"tx_packets", &c.TxPackets}} {
		b, err := os.ReadFile(filepath.Join(dir, f.file))
		if err != nil {
			return ifCounters{}, fmt.Errorf("read interface counters: %w", err)
		}
		v, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
		if err != nil {
			return ifCounters{}, fmt.Errorf("parse %s/%s: %w", name, f.file, err)
		}
		*f.dst = v
	}
	return c, nil
}

// readAllIfCounters reads every named interface.
func readAllIfCounters(root string, names []string) (map[string]ifCounters, error) {
	out := make(map[string]ifCounters, len(names))
	for _, n := range names {
		c, err := readIfCounters(root, n)
		if err != nil {
			return nil, err
		}
		out[n] = c
	}
	return out, nil
}

// metricsDoc is the part of /metrics.json the checker reads.
type metricsDoc struct {
	Interfaces []struct {
		Name      string `json:"name"`
		RxBytes   uint64 `json:"rx_bytes"`
		TxBytes   uint64 `json:"tx_bytes"`
		RxPackets uint64 `json:"rx_packets"`
		TxPackets uint64 `json:"tx_packets"`
		Error     string `json:"error"`
	} `json:"interfaces"`
}

// checkMetricsJSON checks that /metrics.json reports exactly the wanted
// interfaces with counters between two sysfs readings taken before and
// after the request.
func checkMetricsJSON(b []byte, want []string, before, after map[string]ifCounters) []string {
	var doc metricsDoc
	if err := json.Unmarshal(b, &doc); err != nil {
		return []string{fmt.Sprintf("/metrics.json: decode: %v", err)}
	}
	var p []string
	var names []string
	for _, it := range doc.Interfaces {
		names = append(names, it.Name)
		lo, known := before[it.Name]
		if !known {
			continue
		}
		if it.Error != "" {
			p = append(p, fmt.Sprintf("/metrics.json: interface %s: error %q", it.Name, it.Error))
			continue
		}
		hi := after[it.Name]
		for _, c := range []struct {
			what          string
			got, min, max uint64
		}{
			{"rx_bytes", it.RxBytes, lo.RxBytes, hi.RxBytes},
			{"tx_bytes", it.TxBytes, lo.TxBytes, hi.TxBytes},
			{"rx_packets", it.RxPackets, lo.RxPackets, hi.RxPackets},
			{"tx_packets", it.TxPackets, lo.TxPackets, hi.TxPackets},
		} {
			if c.got < c.min || c.got > c.max {
				p = append(p, fmt.Sprintf("/metrics.json: interface %s: %s %d, but sysfs read %d before and %d after", it.Name, c.what, c.got, c.min, c.max))
			}
		}
		if it.RxBytes == 0 && it.TxBytes == 0 {
			p = append(p, fmt.Sprintf("/metrics.json: interface %s: no traffic counted", it.Name))
		}
	}
	slices.Sort(names)
	sorted := slices.Sorted(slices.Values(want))
	if !slices.Equal(names, sorted) {
		p = append(p, fmt.Sprintf("/metrics.json: interfaces %v, want %v", names, sorted))
	}
	return p
}

// promExpect is what /metrics must show about the lab, beyond the
// families named on the command line.
type promExpect struct {
	ifaces      []string // each a label interface="..." of the interface counters
	active      int      // sum of netmon_active_connections
	remoteHosts int      // netmon_remote_hosts
}

// Metric families the lab-specific checks read.
const (
	promActive      = "netmon_active_connections"
	promRemoteHosts = "netmon_remote_hosts"
	promIfaceRx     = "netmon_interface_receive_bytes_total"
)

// checkPrometheus parses b as the Prometheus text format and checks every
// wanted metric family is there with at least one sample, and that the
// lab's interfaces, active connections and remote hosts are reported.
func checkPrometheus(b []byte, want []string, exp promExpect) []string {
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(bytes.NewReader(b))
	if err != nil {
		return []string{fmt.Sprintf("/metrics: not Prometheus text: %v", err)}
	}
	if len(fams) == 0 {
		return []string{"/metrics: no metric families"}
	}
	var p []string
	for _, name := range want {
		f, ok := fams[name]
		if !ok || len(f.GetMetric()) == 0 {
			p = append(p, fmt.Sprintf("/metrics: no samples of %s", name))
		}
	}
	labels := map[string]bool{}
	for _, m := range fams[promIfaceRx].GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == "interface" {
				labels[l.GetValue()] = true
			}
		}
	}
	for _, name := range exp.ifaces {
		if !labels[name] {
			p = append(p, fmt.Sprintf("/metrics: %s has no sample for interface %q", promIfaceRx, name))
		}
	}
	if got, ok := sumGauge(fams, promActive); !ok || got != float64(exp.active) {
		p = append(p, fmt.Sprintf("/metrics: %s sums to %v (present: %v), want %d", promActive, got, ok, exp.active))
	}
	if got, ok := sumGauge(fams, promRemoteHosts); !ok || got != float64(exp.remoteHosts) {
		p = append(p, fmt.Sprintf("/metrics: %s is %v (present: %v), want %d", promRemoteHosts, got, ok, exp.remoteHosts))
	}
	return p
}

// sumGauge adds up every sample of a gauge family; ok is false when the
// family is missing.
func sumGauge(fams map[string]*dto.MetricFamily, name string) (sum float64, ok bool) {
	f, ok := fams[name]
	if !ok {
		return 0, false
	}
	for _, m := range f.GetMetric() {
		sum += m.GetGauge().GetValue()
	}
	return sum, true
}

// fetch GETs url and returns the body of a 200 answer.
func fetch(ctx context.Context, c *http.Client, url string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("build request: %w", err)
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("get %s: status %s: %s", url, resp.Status, snippet(b))
	}
	return b, nil
}
