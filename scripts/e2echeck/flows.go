package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"strconv"

	"github.com/netmon-dev/netmon/scripts/internal/manifest"
)

// flowJSON is one connection as `netmon print-outbound --output json` and
// /connections.json print it (the names of the e2e contract; fields the
// checker does not use are ignored).
type flowJSON struct {
	Key             string   `json:"key"`
	Proto           string   `json:"proto"`
	SrcIP           string   `json:"src_ip"`
	SrcPort         uint16   `json:"src_port"`
	DstIP           string   `json:"dst_ip"`
	DstPort         uint16   `json:"dst_port"`
	State           string   `json:"state"`
	Flags           []string `json:"flags"`
	UplinkPackets   uint64   `json:"uplink_packets"`
	UplinkBytes     uint64   `json:"uplink_bytes"`
	DownlinkPackets uint64   `json:"downlink_packets"`
	DownlinkBytes   uint64   `json:"downlink_bytes"`
	TotalBytes      uint64   `json:"total_bytes"`
}

// decodeFlows decodes a JSON array of flows. Anything else (an object, a
// flow with a wrongly typed field) is an error naming what came instead.
func decodeFlows(b []byte) ([]flowJSON, error) {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || b[0] != '[' {
		return nil, fmt.Errorf("want a JSON array of flows, got %s", snippet(b))
	}
	var flows []flowJSON
	if err := json.Unmarshal(b, &flows); err != nil {
		return nil, fmt.Errorf("decode flows: %w", err)
	}
	return flows, nil
}

// snippet is the start of b for error messages.
func snippet(b []byte) string {
	const max = 80
	if len(b) > max {
		return strconv.Quote(string(b[:max])) + "..."
	}
	return strconv.Quote(string(b))
}

// restrictLocal returns a copy of m in which only flows from the given LAN
// prefixes are outbound: what netmon must list when local_subnets holds
// just those (for example IPv4 only, without the ULA prefix).
func restrictLocal(m *manifest.Manifest, local []netip.Prefix) *manifest.Manifest {
	out := &manifest.Manifest{Version: m.Version, Flows: slices.Clone(m.Flows)}
	for i, f := range out.Flows {
		if !slices.ContainsFunc(local, func(p netip.Prefix) bool { return p.Contains(f.SrcIP) }) {
			out.Flows[i].Outbound = false
		}
	}
	return out
}

// expectedActive returns the manifest flows netmon must list as active:
// every outbound flow, less the long-lived ones once they were closed.
func expectedActive(m *manifest.Manifest, closed bool) []manifest.Flow {
	var out []manifest.Flow
	for _, f := range m.Outbound() {
		if closed && f.LongLived {
			continue
		}
		out = append(out, f)
	}
	return out
}

// checkFlows compares a listing of active outbound flows with the
// manifest and returns every problem found, one sentence each. closed
// says the long-lived flows were closed and removed from the table.
func checkFlows(m *manifest.Manifest, flows []flowJSON, closed bool) []string {
	var problems []string
	byKey := make(map[string]manifest.Flow, len(m.Flows))
	for _, f := range m.Flows {
		byKey[f.Key] = f
	}
	want := expectedActive(m, closed)
	got := make(map[string]flowJSON, len(flows))
	for _, g := range flows {
		if _, dup := got[g.Key]; dup {
			problems = append(problems, fmt.Sprintf("key %s listed twice", g.Key))
		}
		got[g.Key] = g
		f, known := byKey[g.Key]
		switch {
		case !known:
			problems = append(problems, fmt.Sprintf("lists %s, which the lab did not generate", g.Key))
		case !f.Outbound:
			problems = append(problems, fmt.Sprintf("lists %s (%s), which is not outbound (router-local or LAN-to-LAN)", f.Name, g.Key))
		case closed && f.LongLived:
			problems = append(problems, fmt.Sprintf("still lists %s (%s) after it was closed and deleted from the table", f.Name, g.Key))
		default:
			problems = append(problems, checkFlow(f, g)...)
		}
	}
	for _, f := range want {
		if _, ok := got[f.Key]; !ok {
			problems = append(problems, fmt.Sprintf("missing %s (%s)", f.Name, f.Key))
		}
	}
	return problems
}

// checkFlow compares one listed flow with what the lab generated.
func checkFlow(f manifest.Flow, g flowJSON) []string {
	var p []string
	bad := func(format string, args ...any) {
		p = append(p, f.Name+": "+fmt.Sprintf(format, args...))
	}
	if g.Proto != f.Proto || g.SrcIP != f.SrcIP.String() || g.SrcPort != f.SrcPort ||
		g.DstIP != f.DstIP.String() || g.DstPort != f.DstPort {
		bad("fields proto=%s src=%s:%d dst=%s:%d do not match key %s", g.Proto, g.SrcIP, g.SrcPort, g.DstIP, g.DstPort, g.Key)
	}
	if g.DownlinkBytes < f.DownPayload {
		bad("downlink_bytes %d < %d payload bytes received", g.DownlinkBytes, f.DownPayload)
	}
	if g.UplinkBytes < f.UpPayload {
		bad("uplink_bytes %d < %d payload bytes sent", g.UplinkBytes, f.UpPayload)
	}
	if g.UplinkPackets == 0 {
		bad("uplink_packets is 0 (is nf_conntrack_acct on?)")
	}
	if g.TotalBytes != g.UplinkBytes+g.DownlinkBytes {
		bad("total_bytes %d != uplink %d + downlink %d", g.TotalBytes, g.UplinkBytes, g.DownlinkBytes)
	}
	unreplied := slices.Contains(g.Flags, "UNREPLIED")
	switch {
	case f.Replied && (unreplied || g.DownlinkPackets == 0):
		bad("was answered but shows flags %v, downlink_packets %d", g.Flags, g.DownlinkPackets)
	case !f.Replied && (!unreplied || g.DownlinkPackets != 0):
		bad("was never answered but shows flags %v, downlink_packets %d", g.Flags, g.DownlinkPackets)
	}
	switch {
	case f.LongLived && g.State != "ESTABLISHED":
		bad("held open but state is %q, want ESTABLISHED", g.State)
	case f.Proto != "tcp" && g.State != "":
		bad("state %q for a protocol without states", g.State)
	case f.Proto == "tcp" && g.State == "":
		bad("tcp flow without a state")
	}
	return p
}
