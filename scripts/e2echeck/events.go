package main

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/netmon-dev/netmon/pkg/conntrack"
	"github.com/netmon-dev/netmon/pkg/source"
)

// The end-of-flow checks (scripts/e2e-events.sh):
//
//	e2echeck accuracy -acct ACCT -db netmon.db [-poll-db poll.db] -hosts h,.. -label NAME [-max-off 0.005]
//	    each LAN host's bytes in netmon's database against the router's
//	    accounting rules (lab.sh acct); -poll-db is a netmon that polled
//	    alone, shown beside it, not checked
//	e2echeck listen -src PREFIX -want N -for 30s [-ready FILE] [-out FILE] [-buffer BYTES]
//	    subscribe to DESTROY events as netmon does and count those of
//	    flows from PREFIX until N came: exit 0 when all came, 3 when
//	    fewer came and the listener reported the loss, 1 when fewer came
//	    silently
//	e2echeck same-events [-subset] -text CAPTURE -json FILE -src PREFIX
//	    the events the listener wrote (-out) are the ones
//	    `conntrack -E -o extended,id` printed, value for value (-subset:
//	    conntrack -E lost some, every one it printed was received)

// errLossReported is listen's answer when events were lost and the
// listener said so.
var errLossReported = errors.New("events lost, and reported")

// acctKey is one accounting counter: a LAN host, a direction, valid or
// INVALID packets.
type acctKey struct {
	host     netip.Addr
	dir, cls string
}

// parseAcct reads lab.sh acct: "HOST up|down valid|invalid BYTES PACKETS".
func parseAcct(r io.Reader) (map[acctKey]int64, error) {
	out := map[acctKey]int64{}
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		if len(f) != 5 {
			return nil, fmt.Errorf("acct line %d: %q: want HOST DIR CLASS BYTES PACKETS", n, sc.Text())
		}
		h, err := netip.ParseAddr(f[0])
		b, err2 := strconv.ParseInt(f[3], 10, 64)
		if err != nil || err2 != nil || (f[1] != "up" && f[1] != "down") || (f[2] != "valid" && f[2] != "invalid") {
			return nil, fmt.Errorf("acct line %d: %q", n, sc.Text())
		}
		out[acctKey{h, f[1], f[2]}] += b
	}
	return out, sc.Err()
}

// localBytes reads netmon's per-LAN-host totals (local_hosts).
func localBytes(ctx context.Context, path string) (map[netip.Addr][2]int64, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro&_pragma=busy_timeout(5000)")
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	defer db.Close()
	rows, err := db.QueryContext(ctx, `SELECT ip, uplink_bytes, downlink_bytes FROM local_hosts`)
	if err != nil {
		return nil, fmt.Errorf("read local hosts: %w", err)
	}
	defer rows.Close()
	out := map[netip.Addr][2]int64{}
	for rows.Next() {
		var ip string
		var up, down int64
		if err := rows.Scan(&ip, &up, &down); err != nil {
			return nil, fmt.Errorf("read local hosts: %w", err)
		}
		a, err := netip.ParseAddr(ip)
		if err != nil {
			return nil, fmt.Errorf("local host %q: %w", ip, err)
		}
		out[a] = [2]int64{up, down}
	}
	return out, rows.Err()
}

// accuracy compares each host's totals with the truth and returns one
// report line per host and the problems (a total off by more than maxOff).
func accuracy(label string, hosts []netip.Addr, truth map[acctKey]int64, got, poll map[netip.Addr][2]int64, maxOff float64) (lines, problems []string) {
	pct := func(n, of int64) string {
		if of == 0 {
			return "-"
		}
		return fmt.Sprintf("%.2f%%", 100*float64(n)/float64(of))
	}
	for _, h := range hosts {
		up, down := truth[acctKey{h, "up", "valid"}], truth[acctKey{h, "down", "valid"}]
		inv := truth[acctKey{h, "up", "invalid"}] + truth[acctKey{h, "down", "invalid"}]
		g := got[h]
		total, gotTotal := up+down, g[0]+g[1]
		line := fmt.Sprintf("%s %s: truth %d B (up %d, down %d; INVALID apart %d), netmon %d B (up %d, down %d) = %s",
			label, h, total, up, down, inv, gotTotal, g[0], g[1], pct(gotTotal, total))
		if poll != nil {
			p := poll[h]
			line += fmt.Sprintf("; polling alone %d B = %s", p[0]+p[1], pct(p[0]+p[1], total))
		}
		lines = append(lines, line)
		switch {
		case total == 0:
			problems = append(problems, fmt.Sprintf("%s %s: the accounting rules counted no traffic", label, h))
		case math.Abs(float64(gotTotal-total))/float64(total) > maxOff:
			problems = append(problems, fmt.Sprintf("%s %s: netmon %d B against %d B, off by more than %.1f%%", label, h, gotTotal, total, 100*maxOff))
		}
	}
	return lines, problems
}

func runAccuracy(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("accuracy", flag.ContinueOnError)
	fs.SetOutput(stderr)
	acctPath := fs.String("acct", "", "lab.sh acct output (required)")
	dbPath := fs.String("db", "", "netmon database (required)")
	pollDB := fs.String("poll-db", "", "database of a netmon polling alone, for comparison")
	hostList := fs.String("hosts", "", "LAN hosts to check, comma separated (required)")
	label := fs.String("label", "accuracy", "scenario name for the report")
	maxOff := fs.Float64("max-off", 0.005, "largest relative difference allowed per host")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *acctPath == "" || *dbPath == "" || *hostList == "" {
		return fmt.Errorf("%w: accuracy needs -acct, -db and -hosts", errUsage)
	}
	var hosts []netip.Addr
	for _, s := range splitList(*hostList) {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return fmt.Errorf("%w: -hosts: %v", errUsage, err)
		}
		hosts = append(hosts, a)
	}
	f, err := os.Open(*acctPath)
	if err != nil {
		return fmt.Errorf("read accounting: %w", err)
	}
	truth, err := parseAcct(f)
	f.Close()
	if err != nil {
		return err
	}
	got, err := localBytes(ctx, *dbPath)
	if err != nil {
		return err
	}
	var poll map[netip.Addr][2]int64
	if *pollDB != "" {
		if poll, err = localBytes(ctx, *pollDB); err != nil {
			return err
		}
	}
	lines, problems := accuracy(*label, hosts, truth, got, poll, *maxOff)
	for _, l := range lines {
		fmt.Fprintln(stdout, "e2echeck accuracy:", l)
	}
	for _, p := range problems {
		fmt.Fprintln(stderr, "e2echeck accuracy:", p)
	}
	if len(problems) > 0 {
		return errProblems
	}
	return nil
}

// listenResult is what listen counted.
type listenResult struct {
	Want, Got int
	Stats     conntrack.ListenStats
}

func runListen(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("listen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	src := fs.String("src", "", "count the events of flows from this prefix (required)")
	want := fs.Int("want", 0, "stop once this many came (required)")
	dur := fs.Duration("for", 30*time.Second, "stop after this long at most")
	ready := fs.String("ready", "", "file to create once subscribed")
	out := fs.String("out", "", "write every counted event here, one JSON Entry a line")
	buffer := fs.Int("buffer", source.DefaultEventsBuffer, "receive buffer in bytes")
	if err := fs.Parse(args); err != nil {
		return err
	}
	prefix, err := netip.ParsePrefix(*src)
	if err != nil || *want <= 0 {
		return fmt.Errorf("%w: listen needs -src PREFIX and -want N", errUsage)
	}
	var w *bufio.Writer
	if *out != "" {
		f, err := os.Create(*out)
		if err != nil {
			return fmt.Errorf("create %s: %w", *out, err)
		}
		defer f.Close()
		w = bufio.NewWriter(f)
		defer w.Flush()
	}
	res, err := listen(ctx, &source.Listener{Buffer: *buffer}, prefix, *want, *dur, func() error {
		if *ready == "" {
			return nil
		}
		return os.WriteFile(*ready, []byte("ready\n"), 0o644)
	}, func(e *conntrack.Entry) {
		if w != nil {
			b, _ := json.Marshal(e)
			w.Write(append(b, '\n'))
		}
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "e2echeck listen: %d of %d DESTROY events from %s; overruns %d, dropped %d, restarts %d, buffer %d B\n",
		res.Got, res.Want, prefix, res.Stats.Overruns, res.Stats.Dropped, res.Stats.Restarts, res.Stats.Buffer)
	switch {
	case res.Got >= res.Want:
		return nil
	case res.Stats.Lost():
		return errLossReported
	}
	return fmt.Errorf("%d of %d events came and no loss was reported: %w", res.Got, res.Want, errProblems)
}

// events is the part of source.Listener listen uses.
type events interface {
	Listen(ctx context.Context, keep func(*conntrack.Entry) bool, ready func(error)) error
	Drain(yield func(*conntrack.Entry)) error
	Stats() conntrack.ListenStats
}

// listen counts the DESTROY events of flows from prefix until want came or
// dur passed. ready runs once the listener is subscribed.
func listen(ctx context.Context, l events, prefix netip.Prefix, want int, dur time.Duration, ready func() error, each func(*conntrack.Entry)) (listenResult, error) {
	ctx, cancel := context.WithTimeout(ctx, dur)
	defer cancel()
	subscribed := make(chan error, 1)
	done := make(chan error, 1)
	keep := func(e *conntrack.Entry) bool { return prefix.Contains(e.Orig.Src) }
	go func() { done <- l.Listen(ctx, keep, func(err error) { subscribed <- err }) }()
	if err := <-subscribed; err != nil {
		return listenResult{}, fmt.Errorf("subscribe: %w", err)
	}
	if err := ready(); err != nil {
		return listenResult{}, err
	}
	res := listenResult{Want: want}
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for res.Got < want && ctx.Err() == nil {
		select {
		case <-tick.C:
		case <-ctx.Done():
		}
		l.Drain(func(e *conntrack.Entry) {
			res.Got++
			each(e)
		})
	}
	res.Stats = l.Stats()
	cancel()
	<-done
	return res, nil
}

// runSameEvents compares the listener's events with conntrack's text.
func runSameEvents(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("same-events", flag.ContinueOnError)
	fs.SetOutput(stderr)
	text := fs.String("text", "", "conntrack -E -o extended,id output (required)")
	jsonPath := fs.String("json", "", "listen -out file (required)")
	src := fs.String("src", "", "only flows from this prefix (required)")
	subset := fs.Bool("subset", false, "the text may miss events (conntrack -E lost them): only what it printed must match")
	if err := fs.Parse(args); err != nil {
		return err
	}
	prefix, err := netip.ParsePrefix(*src)
	if err != nil || *text == "" || *jsonPath == "" {
		return fmt.Errorf("%w: same-events needs -text, -json and -src", errUsage)
	}
	t, err := os.ReadFile(*text)
	if err != nil {
		return fmt.Errorf("read capture: %w", err)
	}
	j, err := os.ReadFile(*jsonPath)
	if err != nil {
		return fmt.Errorf("read events: %w", err)
	}
	missing, extra, n, err := sameEvents(t, j, prefix)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "e2echeck same-events: %d events in the text, %d not received as such, %d received not in the text\n", n, len(missing), len(extra))
	if *subset {
		extra = nil
	}
	for _, m := range append(missing, extra...) {
		fmt.Fprintln(stderr, "e2echeck same-events:", m)
	}
	if n == 0 || len(missing)+len(extra) > 0 {
		return errProblems
	}
	return nil
}

// sameEvents matches the DESTROY lines of text from prefix with the JSON
// entries, as multisets.
func sameEvents(text, jsonLines []byte, prefix netip.Prefix) (missing, extra []string, n int, err error) {
	counts := map[string]int{}
	_, err = conntrack.Parse(bytes.NewReader(text), func(e *conntrack.Entry) bool {
		if e.Event == conntrack.EventDestroy && prefix.Contains(e.Orig.Src) {
			b, _ := json.Marshal(e)
			counts[string(b)]++
			n++
		}
		return true
	})
	if err != nil {
		return nil, nil, 0, err
	}
	for line := range bytes.Lines(jsonLines) {
		var e conntrack.Entry
		if err := json.Unmarshal(line, &e); err != nil {
			return nil, nil, 0, fmt.Errorf("events file: %w", err)
		}
		b, _ := json.Marshal(&e)
		if counts[string(b)] > 0 {
			counts[string(b)]--
			continue
		}
		extra = append(extra, "received, not in the text: "+string(b))
	}
	for k, c := range counts {
		for range c {
			missing = append(missing, "in the text, not received: "+k)
		}
	}
	slices.Sort(missing)
	return missing, extra, n, nil
}
