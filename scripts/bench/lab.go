package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"

	"github.com/netmon-dev/netmon/pkg/conntrack"
)

// lab fills the kernel conntrack table of the router namespace ns
// (scripts/lab.sh) with the flows of capture and times `conntrack -L -o
// extended` itself, the floor every text reader pays, against netmon
// print-outbound reading that same live table through conntrack. The
// floor writes to /dev/null; under netmon conntrack writes into a pipe,
// which costs both sides CPU that the floor does not pay.
func (e *env) lab(ctx context.Context, ns, capture string) ([]Row, error) {
	load := filepath.Join(e.Work, "conntrack-load.txt")
	n, err := writeLoadFile(capture, load)
	if err != nil {
		return nil, err
	}
	// Empty the table first: a second run would insert existing tuples.
	flush := exec.CommandContext(ctx, "ip", "netns", "exec", ns, "conntrack", "-F")
	if out, err := flush.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("flush the lab table: %w: %s", err, out)
	}
	fill := exec.CommandContext(ctx, "ip", "netns", "exec", ns, "conntrack", "-R", load)
	if out, err := fill.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("fill the lab table: %w: %s", err, out)
	}
	count, err := exec.CommandContext(ctx, "ip", "netns", "exec", ns, "conntrack", "-C").Output()
	if err != nil {
		return nil, fmt.Errorf("count the lab table: %w", err)
	}
	entries, err := strconv.Atoi(string(trimNL(count)))
	if err != nil || entries < n {
		return nil, fmt.Errorf("lab table holds %q entries after loading %d: %v", count, n, err)
	}
	ct := []string{"ip", "netns", "exec", ns, "conntrack", "-L", "-o", "extended"}
	nm := []string{"ip", "netns", "exec", ns, e.Netmon, "print-outbound", "--top", "20", "--output", "json"}
	var ctRuns, nmRuns []Run
	for range e.runs {
		r, err := e.measure(ctx, "", ct, nil)
		if err != nil {
			return nil, err
		}
		ctRuns = append(ctRuns, r)
		if r, err = e.measure(ctx, "", nm, nil); err != nil {
			return nil, err
		}
		nmRuns = append(nmRuns, r)
	}
	return labRows(medianRun(ctRuns), medianRun(nmRuns), medianCPU(ctRuns), medianCPU(nmRuns), entries, e.runs), nil
}

// labRows turns the lab's medians into rows.
func labRows(ct, nm Run, ctCPU, nmCPU time.Duration, entries, runs int) []Row {
	per := ct.Wall.Seconds() / float64(entries) * 1e6
	return []Row{
		{
			What:    fmt.Sprintf("conntrack -L -o extended itself, live lab table of %s entries (floor), median of %d", count(int64(entries)), runs),
			Netmon:  fmt.Sprintf("%.0f ms (CPU %.0f ms), %.2f µs/entry", ct.Wall.Seconds()*1e3, ctCPU.Seconds()*1e3, per),
			PeakRSS: size(ct.MaxRSS),
		},
		{
			What:     "print-outbound --top 20 --output json on that live table (netmon runs conntrack)",
			Netmon:   fmt.Sprintf("%.0f ms (CPU %.0f ms, conntrack's included)", nm.Wall.Seconds()*1e3, nmCPU.Seconds()*1e3),
			Baseline: fmt.Sprintf("conntrack alone %.0f ms", ct.Wall.Seconds()*1e3),
			Ratio: fmt.Sprintf("netmon adds %.0f ms wall (%.0f%%), %.0f ms CPU (%.0f%%)",
				(nm.Wall-ct.Wall).Seconds()*1e3, 100*(nm.Wall-ct.Wall).Seconds()/ct.Wall.Seconds(),
				(nmCPU-ctCPU).Seconds()*1e3, 100*(nmCPU-ctCPU).Seconds()/ctCPU.Seconds()),
			PeakRSS: size(nm.MaxRSS),
		},
	}
}

// writeLoadFile writes one `conntrack -R` insert command per TCP/UDP flow
// of capture (original tuple, TCP as ESTABLISHED, 600 s timeout) and
// returns how many it wrote. Inserted entries carry no counters and no
// NAT, but conntrack prints them in the same layout.
func writeLoadFile(capture, path string) (int, error) {
	in, err := os.Open(capture)
	if err != nil {
		return 0, fmt.Errorf("open capture: %w", err)
	}
	defer in.Close()
	out, err := os.Create(path)
	if err != nil {
		return 0, fmt.Errorf("create load file: %w", err)
	}
	n, err := loadCommands(in, out)
	if cerr := out.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("write load file: %w", cerr)
	}
	return n, err
}

// loadCommands turns the TCP and UDP lines of r into conntrack insert commands.
func loadCommands(r io.Reader, w io.Writer) (int, error) {
	bw := bufio.NewWriter(w)
	n := 0
	st, err := conntrack.Parse(r, func(e *conntrack.Entry) bool {
		var state string
		switch e.Proto {
		case conntrack.ProtoTCP:
			state = " --state ESTABLISHED"
		case conntrack.ProtoUDP:
		default:
			return true
		}
		fmt.Fprintf(bw, "-I -s %s -d %s -p %s --sport %d --dport %d%s -t 600\n",
			e.Orig.Src, e.Orig.Dst, e.Proto, e.Orig.SrcPort, e.Orig.DstPort, state)
		n++
		return true
	})
	if err != nil {
		return 0, fmt.Errorf("read capture: %w", err)
	}
	if st.Skipped > 0 {
		return 0, fmt.Errorf("read capture: %d malformed lines", st.Skipped)
	}
	if n == 0 {
		return 0, errors.New("capture has no TCP or UDP flow to load")
	}
	if err := bw.Flush(); err != nil {
		return 0, fmt.Errorf("write load file: %w", err)
	}
	return n, nil
}

// trimNL drops trailing newlines.
func trimNL(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}
