// Command make-replay writes fixtures/replay/: a directory of conntrack
// snapshots that netmon replays one per cycle (in name order, looping) so
// that the dashboard changes without a router. It also writes
// fixtures/replay-hostile/, the same first snapshot plus lines whose state
// field carries HTML, for the injection tests only.
//
// Every snapshot is derived from the real capture small_mixed.txt by
// editing the counters of its lines and adding or dropping whole lines, so
// the byte layout stays what conntrack 1.4.7 prints.
//
//	go run ./scripts/make-replay
//
// (from the repository root) refreshes both directories.
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

func main() {
	in := flag.String("in", "fixtures/conntrack/small_mixed.txt", "the capture to derive snapshots from")
	out := flag.String("out", "fixtures/replay", "directory for the demo replay")
	hostile := flag.String("hostile", "fixtures/replay-hostile", "directory for the hostile replay")
	flag.Parse()
	if err := run(*in, *out, *hostile); err != nil {
		fmt.Fprintln(os.Stderr, "make-replay:", err)
		os.Exit(1)
	}
}

// run reads the capture and writes both directories.
func run(in, out, hostile string) error {
	src, err := os.ReadFile(in)
	if err != nil {
		return fmt.Errorf("read capture: %w", err)
	}
	snaps, err := Build(src)
	if err != nil {
		return fmt.Errorf("build replay: %w", err)
	}
	if err := writeDir(out, snaps); err != nil {
		return err
	}
	hs, err := BuildHostile(src)
	if err != nil {
		return fmt.Errorf("build hostile replay: %w", err)
	}
	return writeDir(hostile, hs)
}

// writeDir replaces the *.txt files of dir with snaps.
func writeDir(dir string, snaps []Snapshot) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	old, err := filepath.Glob(filepath.Join(dir, "*.txt"))
	if err != nil {
		return fmt.Errorf("list %s: %w", dir, err)
	}
	for _, f := range old {
		if err := os.Remove(f); err != nil {
			return fmt.Errorf("remove stale snapshot: %w", err)
		}
	}
	for _, s := range snaps {
		if err := os.WriteFile(filepath.Join(dir, s.Name), s.Data, 0o644); err != nil {
			return fmt.Errorf("write snapshot: %w", err)
		}
	}
	return nil
}

// Snapshot is one file of a replay directory.
type Snapshot struct {
	Name string
	Data []byte
}

// Steps is the number of snapshots in the demo replay.
const Steps = 6

// plan says what happens to the capture line holding match over the
// replay: it is present in snapshots [from, to) and its counters grow by
// grow (orig packets, orig bytes, reply packets, reply bytes) per step.
type plan struct {
	match    string
	from, to int
	grow     [4]uint64
}

// plans are keyed by a substring unique to one capture line (its source
// port, or ICMP id). Lines without a plan stay, unchanged, in every
// snapshot.
func plans() []plan {
	return []plan{
		// A download that overtakes the 20 kB HTTPS flow at step 1.
		{match: "sport=58337 dport=80 ", from: 0, to: Steps, grow: [4]uint64{12, 700, 30, 16000}},
		// The 20 kB HTTPS flow keeps growing slowly.
		{match: "sport=33857 dport=443 ", from: 0, to: Steps, grow: [4]uint64{2, 120, 3, 3000}},
		// IPv6 HTTPS.
		{match: "sport=47067 dport=443 ", from: 0, to: Steps, grow: [4]uint64{4, 320, 6, 9000}},
		// QUIC-like UDP.
		{match: "sport=52430 dport=443 ", from: 0, to: Steps, grow: [4]uint64{6, 7368, 6, 8568}},
		// Pings: one echo and reply per step.
		{match: "id=4660 ", from: 0, to: Steps, grow: [4]uint64{1, 84, 1, 84}},
		{match: "id=16962 ", from: 0, to: Steps, grow: [4]uint64{1, 104, 1, 104}},
		// Short-lived flows that leave the table.
		{match: "sport=60231 dport=443 ", from: 0, to: 3},
		{match: "sport=47399 dport=80 ", from: 0, to: 2},
		{match: "sport=47341 dport=80 ", from: 0, to: 4},
		{match: "sport=52263 dport=443 ", from: 0, to: 1},
		{match: "sport=41467 dport=53 ", from: 0, to: 2},
		{match: "sport=40053 dport=53 ", from: 1, to: 3},
		// A connection attempt that appears later.
		{match: "sport=39451 dport=8081 ", from: 2, to: Steps},
	}
}

// newHostFrom is the step at which a remote host appears that no earlier
// snapshot knew (203.0.113.90; the capture uses .80 to .89).
const newHostFrom = 3

// newHostLine returns the line of the new remote host's flow: the 20 kB
// HTTPS line moved to 203.0.113.90 from another source port.
func newHostLine(lines []string) (string, error) {
	base, err := find(lines, "sport=33857 dport=443 ")
	if err != nil {
		return "", err
	}
	r := strings.NewReplacer(
		"dst=203.0.113.80 ", "dst=203.0.113.90 ",
		"src=203.0.113.80 ", "src=203.0.113.90 ",
		"sport=33857 ", "sport=33901 ",
		"dport=33857 ", "dport=33901 ",
	)
	return r.Replace(base), nil
}

// Build derives the demo replay from the lines of a `conntrack -L -o
// extended` capture.
func Build(capture []byte) ([]Snapshot, error) {
	lines := splitLines(capture)
	ps := plans()
	planOf := make(map[int]plan, len(ps))
	for _, p := range ps {
		i, err := index(lines, p.match)
		if err != nil {
			return nil, err
		}
		planOf[i] = p
	}
	extra, err := newHostLine(lines)
	if err != nil {
		return nil, err
	}
	out := make([]Snapshot, 0, Steps)
	for step := range Steps {
		var b bytes.Buffer
		for i, l := range lines {
			p, ok := planOf[i]
			if !ok {
				b.WriteString(l + "\n")
				continue
			}
			if step < p.from || step >= p.to {
				continue
			}
			l, err := grow(l, p.grow, uint64(step-p.from))
			if err != nil {
				return nil, fmt.Errorf("line %d: %w", i+1, err)
			}
			b.WriteString(l + "\n")
		}
		if step >= newHostFrom {
			l, err := grow(extra, [4]uint64{5, 400, 20, 30000}, uint64(step-newHostFrom))
			if err != nil {
				return nil, fmt.Errorf("new host line: %w", err)
			}
			b.WriteString(l + "\n")
		}
		out = append(out, Snapshot{Name: fmt.Sprintf("%02d.txt", step), Data: b.Bytes()})
	}
	return out, nil
}

// hostileStates are state words that a hostile or broken input could put
// where conntrack prints TCP states. The lexer splits on spaces and
// reads key=value pairs, so a state that survives parsing is one word
// without '='; the others test that such lines are handled, not shown.
func hostileStates() []string {
	return []string{
		"<script>window.__netmonPwned++</script>",
		"<img/src/onerror=window.__netmonPwned=1>",
		`"><b>bold</b>&amp;`,
	}
}

// BuildHostile returns one snapshot: the first demo snapshot plus copies
// of an established line whose state word is replaced by each of
// hostileStates, each to its own new remote host (203.0.113.91 up).
func BuildHostile(capture []byte) ([]Snapshot, error) {
	snaps, err := Build(capture)
	if err != nil {
		return nil, err
	}
	base, err := find(splitLines(capture), "sport=58337 dport=80 ")
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	b.Write(snaps[0].Data)
	for i, st := range hostileStates() {
		host := "203.0.113." + strconv.Itoa(91+i)
		l := strings.NewReplacer(
			" ESTABLISHED ", " "+st+" ",
			"dst=203.0.113.80 ", "dst="+host+" ",
			"src=203.0.113.80 ", "src="+host+" ",
		).Replace(base)
		b.WriteString(l + "\n")
	}
	return []Snapshot{{Name: "00.txt", Data: b.Bytes()}}, nil
}

// grow adds k times g to the line's counters: the first packets=/bytes=
// pair is the original direction, the second the reply.
func grow(line string, g [4]uint64, k uint64) (string, error) {
	if k == 0 || g == [4]uint64{} {
		return line, nil
	}
	f := strings.Split(line, " ")
	seen := 0
	for i, tok := range f {
		key, val, ok := strings.Cut(tok, "=")
		if !ok || (key != "packets" && key != "bytes") {
			continue
		}
		if seen >= 4 {
			return "", errors.New("more than two counter pairs")
		}
		n, err := strconv.ParseUint(val, 10, 64)
		if err != nil {
			return "", fmt.Errorf("counter %q: %w", tok, err)
		}
		f[i] = key + "=" + strconv.FormatUint(n+k*g[seen], 10)
		seen++
	}
	if seen != 4 {
		return "", fmt.Errorf("want 4 counters, found %d (capture without accounting?)", seen)
	}
	return strings.Join(f, " "), nil
}

// splitLines returns the non-empty lines of b.
func splitLines(b []byte) []string {
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.TrimSpace(l) != "" {
			out = append(out, l)
		}
	}
	return out
}

// index returns the index of the only line holding match.
func index(lines []string, match string) (int, error) {
	at := -1
	for i, l := range lines {
		if strings.Contains(l, match) {
			if at >= 0 {
				return 0, fmt.Errorf("%q matches lines %d and %d", match, at+1, i+1)
			}
			at = i
		}
	}
	if at < 0 {
		return 0, fmt.Errorf("%q matches no line", match)
	}
	return at, nil
}

// find returns the only line holding match.
func find(lines []string, match string) (string, error) {
	i, err := index(lines, match)
	if err != nil {
		return "", err
	}
	return lines[i], nil
}
