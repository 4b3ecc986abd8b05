// Command e2echeck compares what netmon reports in the router lab with the
// manifest of the flows scripts/labtraffic generated. scripts/e2e.sh runs
// it after each step:
//
//	e2echeck flows -manifest M -file out.json [-closed] [-local 10.0.0.0/24]
//	    print-outbound --output json (or /connections.json) lists exactly
//	    the outbound flows, with their payload counted
//	e2echeck db -manifest M -db netmon.db [-closed] [-save S] [-before S]
//	    the database after ingest-once: rows, closed_at, remote hosts, and
//	    against an earlier reading (-before) nothing went backwards
//	e2echeck web -manifest M -url http://127.0.0.1:PORT -interfaces a,b [-closed] [-metrics n,..]
//	    /connections.json, /metrics.json against sysfs, /metrics as
//	    Prometheus text
//	e2echeck wait -url URL [-timeout 10s]
//	    poll URL until it answers 200 (netmon serve is up)
//	e2echeck names-query, names-devices, names-dnslog
//	    the device and name machinery against the lab's real dnsmasq,
//	    dhclient and neighbour table (see names.go)
//	e2echeck long-lived -manifest M
//	    print "family proto src sport dst dport" for each held flow, for
//	    the script to delete them from the table with conntrack -D
//	e2echeck accuracy|listen|same-events ...
//	    the end-of-flow checks, see events.go
//
// Every problem found is printed on its own line; the exit status is 1 if
// there was any.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/netmon-dev/netmon/scripts/internal/manifest"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "e2echeck:", err)
		if errors.Is(err, errLossReported) {
			os.Exit(3)
		}
		os.Exit(1)
	}
}

var (
	// errUsage is returned for a wrong command line.
	errUsage = errors.New("usage: e2echeck flows|db|web|wait|long-lived|accuracy|listen|same-events|record [flags]")
	// errProblems is returned when a check found problems (printed already).
	errProblems = errors.New("check failed")
)

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errUsage
	}
	switch args[0] {
	case "wait":
		return runWait(ctx, args[1:], stderr)
	case "accuracy":
		return runAccuracy(ctx, args[1:], stdout, stderr)
	case "listen":
		return runListen(ctx, args[1:], stdout, stderr)
	case "same-events":
		return runSameEvents(args[1:], stdout, stderr)
	case "record":
		return runRecord(args[1:], stdout, stderr)
	}
	if strings.HasPrefix(args[0], "names-") {
		return runNames(ctx, args, stdout, stderr)
	}
	fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	manifestPath := fs.String("manifest", "", "manifest written by labtraffic (required)")
	closed := fs.Bool("closed", false, "the long-lived flows were closed and deleted from the table")
	var cmd func(m *manifest.Manifest) (string, []string, error)
	switch args[0] {
	case "flows":
		file := fs.String("file", "", "JSON array of flows to check (required)")
		local := fs.String("local", "", "only flows from these LAN prefixes are outbound (comma separated; default: as the manifest says)")
		cmd = func(m *manifest.Manifest) (string, []string, error) {
			if *local != "" {
				prefixes, err := parsePrefixes(*local)
				if err != nil {
					return "", nil, err
				}
				m = restrictLocal(m, prefixes)
			}
			return runFlows(m, *file, *closed)
		}
	case "db":
		dbPath := fs.String("db", "", "netmon database (required)")
		save := fs.String("save", "", "write the database reading here, for a later -before")
		before := fs.String("before", "", "an earlier reading (-save) that nothing may go back from")
		cmd = func(m *manifest.Manifest) (string, []string, error) {
			return runDB(ctx, m, *dbPath, *closed, *save, *before)
		}
	case "web":
		url := fs.String("url", "", "base URL of netmon serve (required)")
		ifaces := fs.String("interfaces", "", "interfaces /metrics.json must report, comma separated (required)")
		metrics := fs.String("metrics", "", "metric families /metrics must hold, comma separated")
		sysRoot := fs.String("sys-root", "/", "root under which sys/class/net is read")
		saveDir := fs.String("save-dir", "", "store the fetched bodies here")
		settle := fs.Duration("settle", 0, "poll /connections.json this long for it to match (serve's ingest loop catching up)")
		cmd = func(m *manifest.Manifest) (string, []string, error) {
			w := webCheck{base: strings.TrimSuffix(*url, "/"), ifaces: splitList(*ifaces), metrics: splitList(*metrics),
				sysRoot: *sysRoot, saveDir: *saveDir, closed: *closed, settle: *settle}
			return w.run(ctx, m)
		}
	case "long-lived":
		cmd = func(m *manifest.Manifest) (string, []string, error) {
			return "", nil, printLongLived(stdout, m)
		}
	default:
		return fmt.Errorf("%w: unknown command %q", errUsage, args[0])
	}
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if *manifestPath == "" {
		return fmt.Errorf("%w: -manifest is required", errUsage)
	}
	m, err := manifest.Read(*manifestPath)
	if err != nil {
		return err
	}
	summary, problems, err := cmd(m)
	if err != nil {
		return err
	}
	for _, p := range problems {
		fmt.Fprintf(stderr, "e2echeck %s: %s\n", args[0], p)
	}
	if len(problems) > 0 {
		return fmt.Errorf("%s: %d problems: %w", args[0], len(problems), errProblems)
	}
	if summary != "" {
		fmt.Fprintf(stdout, "e2echeck %s: ok: %s\n", args[0], summary)
	}
	return nil
}

// printLongLived writes one line per long-lived flow:
// "ipv4|ipv6 proto src sport dst dport".
func printLongLived(w io.Writer, m *manifest.Manifest) error {
	for _, f := range m.Flows {
		if !f.LongLived {
			continue
		}
		family := "ipv4"
		if f.SrcIP.Is6() {
			family = "ipv6"
		}
		if _, err := fmt.Fprintf(w, "%s %s %s %d %s %d\n", family, f.Proto, f.SrcIP, f.SrcPort, f.DstIP, f.DstPort); err != nil {
			return fmt.Errorf("write: %w", err)
		}
	}
	return nil
}

func runFlows(m *manifest.Manifest, file string, closed bool) (string, []string, error) {
	if file == "" {
		return "", nil, fmt.Errorf("%w: flows needs -file", errUsage)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", nil, fmt.Errorf("read flows: %w", err)
	}
	flows, err := decodeFlows(b)
	if err != nil {
		return "", nil, fmt.Errorf("%s: %w", file, err)
	}
	return fmt.Sprintf("%d flows match the manifest", len(flows)), checkFlows(m, flows, closed), nil
}

func runDB(ctx context.Context, m *manifest.Manifest, path string, closed bool, save, before string) (string, []string, error) {
	if path == "" {
		return "", nil, fmt.Errorf("%w: db needs -db", errUsage)
	}
	st, err := readDB(ctx, path)
	if err != nil {
		return "", nil, err
	}
	problems := checkDB(m, st, closed)
	if before != "" {
		prev, err := loadState(before)
		if err != nil {
			return "", nil, err
		}
		problems = append(problems, checkDBHistory(prev, st)...)
	}
	if save != "" {
		if err := saveState(save, st); err != nil {
			return "", nil, err
		}
	}
	return fmt.Sprintf("%d connections, %d remote hosts", len(st.Conns), len(st.Hosts)), problems, nil
}

// webCheck checks the three JSON and text endpoints of netmon serve.
type webCheck struct {
	base             string
	ifaces, metrics  []string
	sysRoot, saveDir string
	closed           bool
	settle           time.Duration // how long /connections.json may take to match
}

func (w webCheck) run(ctx context.Context, m *manifest.Manifest) (string, []string, error) {
	if w.base == "" || len(w.ifaces) == 0 {
		return "", nil, fmt.Errorf("%w: web needs -url and -interfaces", errUsage)
	}
	client := &http.Client{Timeout: 10 * time.Second}
	get := func(path string) ([]byte, error) {
		b, err := fetch(ctx, client, w.base+path)
		if err == nil && w.saveDir != "" {
			name := strings.NewReplacer("/", "", ".", "_").Replace(path) + ".out"
			err = os.WriteFile(filepath.Join(w.saveDir, name), b, 0o644)
		}
		return b, err
	}
	var problems []string

	// serve's own ingest loop catches up with the table within a cycle or
	// two: poll /connections.json until it matches or the settle time ends.
	deadline := time.Now().Add(w.settle)
	var flows []flowJSON
	for {
		conns, err := get("/connections.json")
		if err != nil {
			return "", nil, err
		}
		if flows, err = decodeFlows(conns); err != nil {
			return "", nil, fmt.Errorf("/connections.json: %w", err)
		}
		problems = problems[:0]
		for _, p := range checkFlows(m, flows, w.closed) {
			problems = append(problems, "/connections.json: "+p)
		}
		if len(problems) == 0 || !time.Now().Before(deadline) {
			break
		}
		select {
		case <-ctx.Done():
			return "", nil, ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}

	before, err := readAllIfCounters(w.sysRoot, w.ifaces)
	if err != nil {
		return "", nil, err
	}
	mj, err := get("/metrics.json")
	if err != nil {
		return "", nil, err
	}
	after, err := readAllIfCounters(w.sysRoot, w.ifaces)
	if err != nil {
		return "", nil, err
	}
	problems = append(problems, checkMetricsJSON(mj, w.ifaces, before, after)...)

	prom, err := get("/metrics")
	if err != nil {
		return "", nil, err
	}
	problems = append(problems, checkPrometheus(prom, w.metrics, labExpect(m, w.ifaces, w.closed))...)
	return fmt.Sprintf("%d connections, interfaces %v, %d metric families required", len(flows), w.ifaces, len(w.metrics)), problems, nil
}

// runWait polls a URL until it answers 200 or the timeout passes.
func runWait(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("wait", flag.ContinueOnError)
	fs.SetOutput(stderr)
	url := fs.String("url", "", "URL to poll (required)")
	timeout := fs.Duration("timeout", 10*time.Second, "give up after this long")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *url == "" || *timeout <= 0 {
		return fmt.Errorf("%w: wait needs -url and a positive -timeout", errUsage)
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	client := &http.Client{Timeout: time.Second}
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		_, err := fetch(ctx, client, *url)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for %s: %w (last: %w)", *url, ctx.Err(), err)
		case <-tick.C:
		}
	}
}

// labExpect is what /metrics must report for the lab's traffic: the
// router's interfaces, the active outbound connections, and every remote
// host ever seen (hosts are never pruned, so closing changes nothing).
func labExpect(m *manifest.Manifest, ifaces []string, closed bool) promExpect {
	hosts := map[string]bool{}
	for _, f := range m.Outbound() {
		hosts[f.DstIP.String()] = true
	}
	return promExpect{ifaces: ifaces, active: len(expectedActive(m, closed)), remoteHosts: len(hosts)}
}

// parsePrefixes parses a comma-separated prefix list.
func parsePrefixes(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, item := range splitList(s) {
		p, err := netip.ParsePrefix(item)
		if err != nil {
			return nil, fmt.Errorf("%w: -local: %w", errUsage, err)
		}
		out = append(out, p)
	}
	return out, nil
}

// splitList splits a comma-separated list, dropping empty items.
func splitList(s string) []string {
	var out []string
	for item := range strings.SplitSeq(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}
