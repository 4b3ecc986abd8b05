package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"

	"github.com/netmon-dev/netmon/pkg/conntrack"
	"github.com/netmon-dev/netmon/pkg/filter"
)

// portStep is added to a template's source port once per round of copies;
// a prime, so successive rounds land far apart in the port space.
const portStep = 7919

// synthesize writes n distinct outbound flows to the file dst, built from
// the outbound lines of the real capture src: first the real lines
// themselves (up to n), then, round after round, copies of the real TCP
// and UDP lines whose source port (and the reply's destination port, as
// NAT prints it) is moved by round*portStep within 1024-65535. Every copy
// is parsed again and must be outbound with a key not written before, so
// the result is exactly n flows that netmon's own filter counts as
// outbound. It is deterministic for a given input.
func synthesize(src, dst string, n int, f *filter.Filter) (real, moved int, err error) {
	err = convert(src, dst, func(r io.Reader, w io.Writer) error {
		real, moved, err = synth(r, w, n, f)
		return err
	})
	return real, moved, err
}

// synth is synthesize on a reader and a writer; convert buffers w and
// reports its write errors.
func synth(r io.Reader, w io.Writer, n int, f *filter.Filter) (real, moved int, err error) {
	var templates [][]byte
	seen := make(map[conntrack.FlowKey]bool, n)
	emit := func(line []byte, e *conntrack.Entry) bool {
		k := conntrack.KeyOf(e)
		if seen[k] || !f.Outbound(e) {
			return false
		}
		seen[k] = true
		fmt.Fprintf(w, "%s\n", line)
		return true
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), conntrack.MaxLineBytes)
	for sc.Scan() {
		e, err := conntrack.ParseLine(sc.Bytes())
		if err != nil || !f.Outbound(&e) || seen[conntrack.KeyOf(&e)] {
			continue
		}
		if e.Proto == conntrack.ProtoTCP || e.Proto == conntrack.ProtoUDP {
			templates = append(templates, bytes.Clone(sc.Bytes()))
		}
		if real < n && emit(sc.Bytes(), &e) {
			real++
		}
	}
	if err := sc.Err(); err != nil {
		return real, moved, fmt.Errorf("read capture: %w", err)
	}
	for round := 1; real+moved < n; round++ {
		if len(templates) == 0 || round >= 65536-1024 {
			return real, moved, fmt.Errorf("synthesize: only %d distinct outbound flows from %d TCP/UDP templates", real+moved, len(templates))
		}
		for _, t := range templates {
			if real+moved == n {
				break
			}
			line, err := movePort(t, round)
			if err != nil {
				return real, moved, err
			}
			e, err := conntrack.ParseLine(line)
			if err != nil {
				return real, moved, fmt.Errorf("parse synthesized line: %w", err)
			}
			if emit(line, &e) {
				moved++
			}
		}
	}
	return real, moved, nil
}

// movePort returns line with the first sport= and the last dport= (the
// reply's, which NAT sets to the original source port) moved by
// round*portStep within 1024-65535.
func movePort(line []byte, round int) ([]byte, error) {
	i, j := bytes.Index(line, []byte(" sport=")), bytes.LastIndex(line, []byte(" dport="))
	if i < 0 || j < 0 {
		return nil, errors.New("synthesize: template line has no sport= or reply dport=")
	}
	i, j = i+len(" sport="), j+len(" dport=")
	end := func(k int) int {
		if e := bytes.IndexByte(line[k:], ' '); e >= 0 {
			return k + e
		}
		return len(line)
	}
	old, err := strconv.Atoi(string(line[i:end(i)]))
	if err != nil {
		return nil, fmt.Errorf("synthesize: sport: %w", err)
	}
	p := strconv.Itoa(1024 + ((old-1024+round*portStep)%(65536-1024)+(65536-1024))%(65536-1024))
	out := append(bytes.Clone(line[:i]), p...)
	out = append(append(out, line[end(i):j]...), p...)
	return append(out, line[end(j):]...), nil
}

// writeLoadFile writes one `conntrack -R` insert command per TCP/UDP flow
// of the capture src (original tuple, TCP as ESTABLISHED, 600 s timeout)
// to dst and returns how many it wrote. Inserted entries carry no
// counters and no NAT, but conntrack prints them in the same layout.
func writeLoadFile(src, dst string) (int, error) {
	n := 0
	err := convert(src, dst, func(r io.Reader, w io.Writer) error {
		st, err := conntrack.Parse(r, func(e *conntrack.Entry) bool {
			state := " --state ESTABLISHED"
			switch e.Proto {
			case conntrack.ProtoTCP:
			case conntrack.ProtoUDP:
				state = ""
			default:
				return true
			}
			fmt.Fprintf(w, "-I -s %s -d %s -p %s --sport %d --dport %d%s -t 600\n",
				e.Orig.Src, e.Orig.Dst, e.Proto, e.Orig.SrcPort, e.Orig.DstPort, state)
			n++
			return true
		})
		if err == nil && (st.Skipped > 0 || n == 0) {
			err = fmt.Errorf("%d malformed lines, %d TCP/UDP flows", st.Skipped, n)
		}
		return err
	})
	return n, err
}

// convert streams the file src through fn into the file dst.
func convert(src, dst string, fn func(io.Reader, io.Writer) error) error {
	in, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("open capture: %w", err)
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return fmt.Errorf("create %s: %w", dst, err)
	}
	bw := bufio.NewWriter(out)
	err = fn(in, bw)
	if err == nil {
		err = bw.Flush()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", dst, err)
	}
	return nil
}
