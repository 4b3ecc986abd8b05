package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"net/netip"
	"os"
	"strings"
)

// The durable record against the accounting rules (scripts/e2e-events.sh):
//
//	e2echeck record -acct ACCT -remotes REMOTES.json -devices DEVICES.json -pairs HOST=REMOTE,... [-max-off 0.01]
//	    the record's remote hosts (netmon report remotes --output json):
//	    each REMOTE's bytes against its one LAN HOST's accounting rules;
//	    and the record's devices (netmon report devices --output json):
//	    all of them together against all the HOSTs (the lab's LAN hosts
//	    share one MAC, so they are one device)

// reportRow is a row of `netmon report remotes|devices --output json`.
type reportRow struct {
	Remote        string `json:"remote"`
	Device        string `json:"device"`
	UplinkBytes   int64  `json:"uplink_bytes"`
	DownlinkBytes int64  `json:"downlink_bytes"`
}

func readReport(path string) ([]reportRow, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read report: %w", err)
	}
	var rows []reportRow
	if err := json.Unmarshal(b, &rows); err != nil {
		return nil, fmt.Errorf("report %s: %w", path, err)
	}
	return rows, nil
}

// hostPair is a LAN host and the one remote host it talks to.
type hostPair struct{ host, remote netip.Addr }

func parseHostPairs(s string) ([]hostPair, error) {
	var out []hostPair
	for _, item := range splitList(s) {
		h, r, ok := strings.Cut(item, "=")
		ha, err := netip.ParseAddr(h)
		ra, err2 := netip.ParseAddr(r)
		if !ok || err != nil || err2 != nil {
			return nil, fmt.Errorf("%w: -pairs: %q is not HOST=REMOTE", errUsage, item)
		}
		out = append(out, hostPair{ha, ra})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: -pairs is empty", errUsage)
	}
	return out, nil
}

// recordAccuracy compares the record's remotes and devices with the truth.
func recordAccuracy(pairs []hostPair, truth map[acctKey]int64, remotes, devices []reportRow, maxOff float64) (lines, problems []string) {
	byRemote := map[netip.Addr][2]int64{}
	for _, r := range remotes {
		if a, err := netip.ParseAddr(r.Remote); err == nil {
			byRemote[a] = [2]int64{r.UplinkBytes, r.DownlinkBytes}
		}
	}
	compare := func(what string, got, want [2]int64) {
		g, w := got[0]+got[1], want[0]+want[1]
		line := fmt.Sprintf("%s: truth %d B (up %d, down %d), record %d B (up %d, down %d)", what, w, want[0], want[1], g, got[0], got[1])
		if w > 0 {
			line += fmt.Sprintf(" = %.2f%%", 100*float64(g)/float64(w))
		}
		lines = append(lines, line)
		switch {
		case w == 0:
			problems = append(problems, what+": the accounting rules counted no traffic")
		case math.Abs(float64(g-w))/float64(w) > maxOff:
			problems = append(problems, fmt.Sprintf("%s: record %d B against %d B, off by more than %.1f%%", what, g, w, 100*maxOff))
		}
	}
	var all [2]int64
	for _, p := range pairs {
		want := [2]int64{truth[acctKey{p.host, "up", "valid"}], truth[acctKey{p.host, "down", "valid"}]}
		all[0], all[1] = all[0]+want[0], all[1]+want[1]
		compare(fmt.Sprintf("remote %s (from %s)", p.remote, p.host), byRemote[p.remote], want)
	}
	var dev [2]int64
	for _, d := range devices {
		dev[0], dev[1] = dev[0]+d.UplinkBytes, dev[1]+d.DownlinkBytes
	}
	compare(fmt.Sprintf("%d device(s) together", len(devices)), dev, all)
	return lines, problems
}

func runRecord(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("record", flag.ContinueOnError)
	fs.SetOutput(stderr)
	acctPath := fs.String("acct", "", "lab.sh acct output (required)")
	remotesPath := fs.String("remotes", "", "netmon report remotes --output json (required)")
	devicesPath := fs.String("devices", "", "netmon report devices --output json (required)")
	pairList := fs.String("pairs", "", "LAN host=remote host pairs, comma separated (required)")
	maxOff := fs.Float64("max-off", 0.01, "largest relative difference allowed")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *acctPath == "" || *remotesPath == "" || *devicesPath == "" {
		return fmt.Errorf("%w: record needs -acct, -remotes, -devices and -pairs", errUsage)
	}
	pairs, err := parseHostPairs(*pairList)
	if err != nil {
		return err
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
	remotes, err := readReport(*remotesPath)
	if err != nil {
		return err
	}
	devices, err := readReport(*devicesPath)
	if err != nil {
		return err
	}
	lines, problems := recordAccuracy(pairs, truth, remotes, devices, *maxOff)
	for _, l := range lines {
		fmt.Fprintln(stdout, "e2echeck record:", l)
	}
	for _, p := range problems {
		fmt.Fprintln(stderr, "e2echeck record:", p)
	}
	if len(problems) > 0 {
		return errProblems
	}
	return nil
}
