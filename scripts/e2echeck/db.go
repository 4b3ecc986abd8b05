package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"

	_ "modernc.org/sqlite" // database/sql driver "sqlite"

	"github.com/netmon-dev/netmon/scripts/internal/manifest"
)

// hostRow is a row of remote_hosts.
type hostRow struct {
	FirstSeenAt   int64 `json:"first_seen_at"`
	LastSeenAt    int64 `json:"last_seen_at"`
	UplinkBytes   int64 `json:"uplink_bytes"`
	DownlinkBytes int64 `json:"downlink_bytes"`
}

// connRow is a row of connections.
type connRow struct {
	State           string `json:"state"`
	Flags           string `json:"flags"`
	UplinkPackets   int64  `json:"uplink_packets"`
	UplinkBytes     int64  `json:"uplink_bytes"`
	DownlinkPackets int64  `json:"downlink_packets"`
	DownlinkBytes   int64  `json:"downlink_bytes"`
	FirstSeenAt     int64  `json:"first_seen_at"`
	LastSeenAt      int64  `json:"last_seen_at"`
	ClosedAt        *int64 `json:"closed_at"`
}

// dbState is what netmon's database holds, keyed for comparison: hosts by
// address, connections by flow key text.
type dbState struct {
	Hosts map[string]hostRow `json:"hosts"`
	Conns map[string]connRow `json:"connections"`
}

// readDB reads both tables of netmon's database, read-only, through the
// same pure-Go driver netmon uses.
func readDB(ctx context.Context, path string) (*dbState, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro&_pragma=busy_timeout(5000)")
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	defer db.Close()
	st := &dbState{Hosts: map[string]hostRow{}, Conns: map[string]connRow{}}

	rows, err := db.QueryContext(ctx, `SELECT ip, first_seen_at, last_seen_at, uplink_bytes, downlink_bytes FROM remote_hosts`)
	if err != nil {
		return nil, fmt.Errorf("query remote_hosts: %w", err)
	}
	for rows.Next() {
		var ip string
		var h hostRow
		if err := rows.Scan(&ip, &h.FirstSeenAt, &h.LastSeenAt, &h.UplinkBytes, &h.DownlinkBytes); err != nil {
			rows.Close()
			return nil, fmt.Errorf("scan remote_hosts: %w", err)
		}
		st.Hosts[ip] = h
	}
	if err := rows.Close(); err != nil {
		return nil, fmt.Errorf("read remote_hosts: %w", err)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read remote_hosts: %w", err)
	}

	rows, err = db.QueryContext(ctx, `SELECT proto, src_ip, src_port, dst_ip, dst_port, state, flags,
		uplink_packets, uplink_bytes, downlink_packets, downlink_bytes, first_seen_at, last_seen_at, closed_at
		FROM connections`)
	if err != nil {
		return nil, fmt.Errorf("query connections: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var proto, src, dst string
		var sport, dport uint16
		var c connRow
		if err := rows.Scan(&proto, &src, &sport, &dst, &dport, &c.State, &c.Flags,
			&c.UplinkPackets, &c.UplinkBytes, &c.DownlinkPackets, &c.DownlinkBytes,
			&c.FirstSeenAt, &c.LastSeenAt, &c.ClosedAt); err != nil {
			return nil, fmt.Errorf("scan connections: %w", err)
		}
		s, errS := netip.ParseAddr(src)
		d, errD := netip.ParseAddr(dst)
		if errS != nil || errD != nil {
			return nil, fmt.Errorf("connections: bad address in row %s %s -> %s", proto, src, dst)
		}
		st.Conns[manifest.Key(proto, s, sport, d, dport)] = c
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read connections: %w", err)
	}
	return st, nil
}

// A time in unix milliseconds is after this (2001-09-09); one in seconds
// is far below it.
const minUnixMilli = 1_000_000_000_000

// checkDB checks the database after an ingest: every expected-active
// outbound flow has an open row with its payload counted, closed long-lived
// flows have closed_at, nothing else is stored, and every outbound
// destination is a remote host whose byte totals cover its flows.
func checkDB(m *manifest.Manifest, st *dbState, closed bool) []string {
	var p []string
	active := map[string]bool{}
	for _, f := range expectedActive(m, closed) {
		active[f.Key] = true
	}
	hostDown := map[string]uint64{}
	hostUp := map[string]uint64{}
	for _, f := range m.Flows {
		c, ok := st.Conns[f.Key]
		switch {
		case !f.Outbound:
			if ok {
				p = append(p, fmt.Sprintf("connections holds %s (%s), which is not outbound", f.Name, f.Key))
			}
			if _, ok := st.Hosts[f.DstIP.String()]; ok {
				p = append(p, fmt.Sprintf("remote_hosts holds %s, the destination of non-outbound %s", f.DstIP, f.Name))
			}
			continue
		case !ok:
			p = append(p, fmt.Sprintf("connections has no row for %s (%s)", f.Name, f.Key))
			continue
		}
		hostDown[f.DstIP.String()] += f.DownPayload
		hostUp[f.DstIP.String()] += f.UpPayload
		if active[f.Key] && c.ClosedAt != nil {
			p = append(p, fmt.Sprintf("%s: closed_at %d, but the flow is still in the table", f.Name, *c.ClosedAt))
		}
		if !active[f.Key] && c.ClosedAt == nil {
			p = append(p, fmt.Sprintf("%s: closed_at is NULL, but the flow left the table", f.Name))
		}
		if c.ClosedAt != nil && *c.ClosedAt < c.FirstSeenAt {
			p = append(p, fmt.Sprintf("%s: closed_at %d before first_seen_at %d", f.Name, *c.ClosedAt, c.FirstSeenAt))
		}
		if c.FirstSeenAt < minUnixMilli || c.LastSeenAt < c.FirstSeenAt {
			p = append(p, fmt.Sprintf("%s: first_seen_at %d, last_seen_at %d are not ordered unix milliseconds", f.Name, c.FirstSeenAt, c.LastSeenAt))
		}
		if uint64(c.DownlinkBytes) < f.DownPayload || uint64(c.UplinkBytes) < f.UpPayload {
			p = append(p, fmt.Sprintf("%s: stored bytes up %d down %d below payload up %d down %d", f.Name, c.UplinkBytes, c.DownlinkBytes, f.UpPayload, f.DownPayload))
		}
	}
	for key := range st.Conns {
		if _, ok := findFlow(m, key); !ok {
			p = append(p, fmt.Sprintf("connections holds %s, which the lab did not generate", key))
		}
	}
	for ip, down := range hostDown {
		h, ok := st.Hosts[ip]
		switch {
		case !ok:
			p = append(p, fmt.Sprintf("remote_hosts has no row for %s", ip))
		case uint64(h.DownlinkBytes) < down || uint64(h.UplinkBytes) < hostUp[ip]:
			p = append(p, fmt.Sprintf("remote host %s: bytes up %d down %d below its flows' payload up %d down %d", ip, h.UplinkBytes, h.DownlinkBytes, hostUp[ip], down))
		case h.FirstSeenAt < minUnixMilli || h.LastSeenAt < h.FirstSeenAt:
			p = append(p, fmt.Sprintf("remote host %s: first_seen_at %d, last_seen_at %d are not ordered unix milliseconds", ip, h.FirstSeenAt, h.LastSeenAt))
		}
	}
	return p
}

// checkDBHistory compares two readings of the database: hosts keep their
// first_seen_at, their byte totals and last_seen_at never go backwards, and
// no host disappears.
func checkDBHistory(before, after *dbState) []string {
	var p []string
	for ip, b := range before.Hosts {
		a, ok := after.Hosts[ip]
		switch {
		case !ok:
			p = append(p, fmt.Sprintf("remote host %s disappeared", ip))
		case a.FirstSeenAt != b.FirstSeenAt:
			p = append(p, fmt.Sprintf("remote host %s: first_seen_at changed from %d to %d", ip, b.FirstSeenAt, a.FirstSeenAt))
		case a.UplinkBytes < b.UplinkBytes || a.DownlinkBytes < b.DownlinkBytes:
			p = append(p, fmt.Sprintf("remote host %s: bytes went backwards: up %d -> %d, down %d -> %d", ip, b.UplinkBytes, a.UplinkBytes, b.DownlinkBytes, a.DownlinkBytes))
		case a.LastSeenAt < b.LastSeenAt:
			p = append(p, fmt.Sprintf("remote host %s: last_seen_at went backwards: %d -> %d", ip, b.LastSeenAt, a.LastSeenAt))
		}
	}
	for key, b := range before.Conns {
		if a, ok := after.Conns[key]; ok && a.FirstSeenAt != b.FirstSeenAt {
			p = append(p, fmt.Sprintf("connection %s: first_seen_at changed from %d to %d", key, b.FirstSeenAt, a.FirstSeenAt))
		}
	}
	return p
}

// findFlow returns the manifest flow with the given key.
func findFlow(m *manifest.Manifest, key string) (manifest.Flow, bool) {
	for _, f := range m.Flows {
		if f.Key == key {
			return f, true
		}
	}
	return manifest.Flow{}, false
}

// saveState writes st as JSON, for the next phase's checkDBHistory.
func saveState(path string, st *dbState) error {
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return fmt.Errorf("encode database state: %w", err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return fmt.Errorf("save database state: %w", err)
	}
	return nil
}

// loadState reads a state written by saveState.
func loadState(path string) (*dbState, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load database state: %w", err)
	}
	var st dbState
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("decode database state %s: %w", path, err)
	}
	return &st, nil
}
