// Package manifest is the record of the flows the router lab generated:
// what scripts/labtraffic writes after it made traffic and what
// scripts/e2echeck compares netmon's output against.
//
// A manifest states intent (which flows are outbound, which are held open,
// how many payload bytes each download carried) next to what only the run
// could know (the ephemeral source ports and ICMP ids), so that each flow
// has the exact key netmon prints for it.
package manifest

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
)

// Version is the manifest format version written by this package.
const Version = 1

// Manifest lists the flows of one traffic run.
type Manifest struct {
	Version int    `json:"version"`
	Flows   []Flow `json:"flows"`
}

// Flow is one generated flow.
//
// SrcPort and DstPort follow netmon's flow key (conntrack.FlowKey): ports
// for TCP and UDP, and for ICMP/ICMPv6 the echo id (source side) and the
// echo-request type, 8 or 128 (destination side).
type Flow struct {
	Name    string     `json:"name"`
	Proto   string     `json:"proto"` // "tcp", "udp", "icmp", "icmpv6"
	SrcIP   netip.Addr `json:"src_ip"`
	SrcPort uint16     `json:"src_port"`
	DstIP   netip.Addr `json:"dst_ip"`
	DstPort uint16     `json:"dst_port"`
	Key     string     `json:"key"`
	// Outbound is true when netmon must list the flow: a LAN source and an
	// internet destination. Router-local and LAN-to-LAN flows are false.
	Outbound bool `json:"outbound"`
	// LongLived flows stay ESTABLISHED until the generator is told to close.
	LongLived bool `json:"long_lived"`
	// Replied is false for flows sent where nobody answers ([UNREPLIED]).
	Replied bool `json:"replied"`
	// UpPayload and DownPayload are the application bytes sent each way
	// (no headers), so the conntrack byte counters are at least these.
	UpPayload   uint64 `json:"up_payload_bytes"`
	DownPayload uint64 `json:"down_payload_bytes"`
}

// Key returns "proto|src|sport|dst|dport", the text form of netmon's flow
// key (conntrack.Key) for this flow.
func Key(proto string, src netip.Addr, sport uint16, dst netip.Addr, dport uint16) string {
	b := make([]byte, 0, 64)
	b = append(b, proto...)
	b = append(b, '|')
	b = src.AppendTo(b)
	b = append(b, '|')
	b = strconv.AppendUint(b, uint64(sport), 10)
	b = append(b, '|')
	b = dst.AppendTo(b)
	b = append(b, '|')
	b = strconv.AppendUint(b, uint64(dport), 10)
	return string(b)
}

// Validate checks that every flow is complete and its Key matches its fields.
func (m *Manifest) Validate() error {
	if m.Version != Version {
		return fmt.Errorf("version: got %d, want %d", m.Version, Version)
	}
	if len(m.Flows) == 0 {
		return errors.New("flows: empty")
	}
	seen := make(map[string]string, len(m.Flows))
	for i, f := range m.Flows {
		if f.Name == "" {
			return fmt.Errorf("flows[%d]: name: empty", i)
		}
		if !f.SrcIP.IsValid() || !f.DstIP.IsValid() {
			return fmt.Errorf("flow %s: missing address", f.Name)
		}
		if want := Key(f.Proto, f.SrcIP, f.SrcPort, f.DstIP, f.DstPort); f.Key != want {
			return fmt.Errorf("flow %s: key %q does not match its fields (%q)", f.Name, f.Key, want)
		}
		if other, dup := seen[f.Key]; dup {
			return fmt.Errorf("flow %s: same key as flow %s: %s", f.Name, other, f.Key)
		}
		seen[f.Key] = f.Name
	}
	return nil
}

// Outbound returns the flows netmon must list, in manifest order.
func (m *Manifest) Outbound() []Flow {
	var out []Flow
	for _, f := range m.Flows {
		if f.Outbound {
			out = append(out, f)
		}
	}
	return out
}

// Read loads and validates a manifest file.
func Read(path string) (*Manifest, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read manifest: %w", err)
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("decode manifest %s: %w", path, err)
	}
	if err := m.Validate(); err != nil {
		return nil, fmt.Errorf("manifest %s: %w", path, err)
	}
	return &m, nil
}

// Write stores m at path atomically (a temporary file renamed into place),
// so a reader polling for the file never sees half of it.
func Write(path string, m *Manifest) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("encode manifest: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".manifest-*")
	if err != nil {
		return fmt.Errorf("write manifest: %w", err)
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("write manifest: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write manifest: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write manifest: %w", err)
	}
	return nil
}
