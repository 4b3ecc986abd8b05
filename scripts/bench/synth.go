package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/netmon-dev/netmon/pkg/conntrack"
	"github.com/netmon-dev/netmon/pkg/filter"
)

// portStep is added to a template's source port once per round of copies;
// a prime, so successive rounds land far apart in the port space.
const portStep = 7919

// SynthStats says how a synthesized capture was made.
type SynthStats struct {
	// Lines is how many lines the input had and Outbound how many of them
	// were outbound.
	Lines, Outbound int
	// Real lines were copied unchanged; Synthetic ones are real TCP/UDP
	// lines with a new source port (and the reply's destination port, as NAT
	// prints it).
	Real, Synthetic int
}

// synthesize writes n distinct outbound flows to w, built from the
// outbound lines of the real capture r: first the real lines themselves
// (up to n), then, round after round, copies of the real TCP and UDP lines
// whose source port is moved by round*portStep (mod the unprivileged
// range). Every written line is parsed again and must be outbound with a
// key not written before, so the result is exactly n flows that netmon's
// own filter counts as outbound. It is deterministic for a given input.
func synthesize(r io.Reader, w io.Writer, n int, f *filter.Filter) (SynthStats, error) {
	var st SynthStats
	var templates [][]byte
	seen := make(map[conntrack.FlowKey]bool, n)
	bw := bufio.NewWriter(w)
	emit := func(line []byte) error {
		if _, err := bw.Write(line); err != nil {
			return fmt.Errorf("write capture: %w", err)
		}
		return bw.WriteByte('\n')
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), conntrack.MaxLineBytes)
	for sc.Scan() {
		line := sc.Bytes()
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		st.Lines++
		e, err := conntrack.ParseLine(line)
		if err != nil || !f.Outbound(&e) {
			continue
		}
		st.Outbound++
		k := conntrack.KeyOf(&e)
		if seen[k] {
			continue
		}
		if e.Proto == conntrack.ProtoTCP || e.Proto == conntrack.ProtoUDP {
			templates = append(templates, bytes.Clone(line))
		}
		if st.Real < n {
			seen[k] = true
			st.Real++
			if err := emit(line); err != nil {
				return st, err
			}
		}
	}
	if err := sc.Err(); err != nil {
		return st, fmt.Errorf("read capture: %w", err)
	}
	for round := 1; st.Real+st.Synthetic < n; round++ {
		if len(templates) == 0 || round >= 65536-1024 {
			return st, fmt.Errorf("synthesize: only %d distinct outbound flows from %d TCP/UDP templates", st.Real+st.Synthetic, len(templates))
		}
		for _, t := range templates {
			if st.Real+st.Synthetic == n {
				break
			}
			line, k, err := movePort(t, round, f)
			if err != nil {
				return st, err
			}
			if seen[k] {
				continue
			}
			seen[k] = true
			st.Synthetic++
			if err := emit(line); err != nil {
				return st, err
			}
		}
	}
	if err := bw.Flush(); err != nil {
		return st, fmt.Errorf("write capture: %w", err)
	}
	return st, nil
}

// errNoPorts means a template line lacks the sport=/dport= fields to move.
var errNoPorts = errors.New("template line has no sport= or reply dport=")

// movePort returns line with the original source port and the reply
// destination port set to the template's source port moved by
// round*portStep within 1024-65535, and the new line's flow key.
func movePort(line []byte, round int, f *filter.Filter) ([]byte, conntrack.FlowKey, error) {
	e, err := conntrack.ParseLine(line)
	if err != nil {
		return nil, conntrack.FlowKey{}, fmt.Errorf("parse template: %w", err)
	}
	port := 1024 + (int(e.Orig.SrcPort)-1024+round*portStep)%(65536-1024)
	if port < 1024 {
		port += 65536 - 1024
	}
	p := strconv.AppendUint(nil, uint64(port), 10)
	out, ok := replaceValue(line, []byte(" sport="), p, false)
	if ok {
		out, ok = replaceValue(out, []byte(" dport="), p, true)
	}
	if !ok {
		return nil, conntrack.FlowKey{}, errNoPorts
	}
	ne, err := conntrack.ParseLine(out)
	if err != nil {
		return nil, conntrack.FlowKey{}, fmt.Errorf("parse synthesized line: %w", err)
	}
	if !f.Outbound(&ne) || ne.Orig.SrcPort != uint16(port) {
		return nil, conntrack.FlowKey{}, fmt.Errorf("synthesized line is not the outbound flow intended: %s", out)
	}
	return out, conntrack.KeyOf(&ne), nil
}

// replaceValue returns a copy of line with the value after the first (or,
// with last, the last) occurrence of field replaced by v.
func replaceValue(line, field, v []byte, last bool) ([]byte, bool) {
	i := bytes.Index(line, field)
	if last {
		i = bytes.LastIndex(line, field)
	}
	if i < 0 {
		return nil, false
	}
	start := i + len(field)
	end := start
	for end < len(line) && line[end] != ' ' {
		end++
	}
	out := make([]byte, 0, len(line)+len(v))
	out = append(out, line[:start]...)
	out = append(out, v...)
	return append(out, line[end:]...), true
}
