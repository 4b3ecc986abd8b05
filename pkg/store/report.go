package store

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/netmon-dev/netmon/pkg/history"
)

// The record's reads for reports and the API. Each sums the buckets whose
// start lies in the span (see history.Keep.For for which resolution to
// ask, and history.Calendar.Days to widen a span to the days it touches
// for the day tables) and returns the largest total first, ties by device
// or address; a device or remote host with no traffic in the span is not
// listed.

// DeviceTotals returns every device's traffic over the tiles (see
// history.Keep.Tiles): the sum of its buckets of each tile's resolution
// whose start lies in the tile.
func (r *Record) DeviceTotals(ctx context.Context, tiles []history.Tile) ([]history.Total, error) {
	if len(tiles) == 0 {
		return nil, nil
	}
	var (
		where strings.Builder
		args  []any
	)
	for i, t := range tiles {
		if i > 0 {
			where.WriteString(" OR ")
		}
		where.WriteString("(u.res = ? AND u.start >= ? AND u.start < ?)")
		args = append(args, int(t.Res), t.From.Unix(), t.To.Unix())
	}
	return r.totals(ctx, `
		SELECT d.device, d.name, sum(u.uplink_bytes), sum(u.downlink_bytes), sum(u.uplink_packets),
		       sum(u.downlink_packets), sum(u.connections)
		FROM device_usage u JOIN devices d ON d.id = u.device_id
		WHERE `+where.String()+`
		GROUP BY u.device_id
		ORDER BY sum(u.uplink_bytes) + sum(u.downlink_bytes) DESC, d.device`, false, args...)
}

// RemoteTotals returns every remote host's traffic over the days of s.
func (r *Record) RemoteTotals(ctx context.Context, s history.Span) ([]history.Total, error) {
	return r.totals(ctx, `
		SELECT m.ip, m.name, sum(u.uplink_bytes), sum(u.downlink_bytes), sum(u.uplink_packets),
		       sum(u.downlink_packets), sum(u.connections)
		FROM remote_usage u JOIN remotes m ON m.id = u.remote_id
		WHERE u.start >= ? AND u.start < ?
		GROUP BY u.remote_id
		ORDER BY sum(u.uplink_bytes) + sum(u.downlink_bytes) DESC, m.ip`, true,
		s.From.Unix(), s.To.Unix())
}

// DeviceRemotes returns the remote hosts one device talked to over the
// days of s, its top ones by name and the rest as "other" (a zero Remote).
func (r *Record) DeviceRemotes(ctx context.Context, device string, s history.Span) ([]history.Total, error) {
	return r.totals(ctx, `
		SELECT coalesce(m.ip, ''), coalesce(m.name, ''), sum(u.uplink_bytes), sum(u.downlink_bytes),
		       sum(u.uplink_packets), sum(u.downlink_packets), sum(u.connections)
		FROM pair_usage u JOIN devices d ON d.id = u.device_id LEFT JOIN remotes m ON m.id = u.remote_id
		WHERE d.device = ? AND u.start >= ? AND u.start < ?
		GROUP BY u.remote_id
		ORDER BY u.remote_id = 0, sum(u.uplink_bytes) + sum(u.downlink_bytes) DESC, m.ip`, true,
		device, s.From.Unix(), s.To.Unix())
}

// RemoteDevices returns the devices that talked to one remote host over
// the days of s (as far as it was among their top remote hosts).
func (r *Record) RemoteDevices(ctx context.Context, remote netip.Addr, s history.Span) ([]history.Total, error) {
	return r.totals(ctx, `
		SELECT d.device, d.name, sum(u.uplink_bytes), sum(u.downlink_bytes), sum(u.uplink_packets),
		       sum(u.downlink_packets), sum(u.connections)
		FROM pair_usage u JOIN remotes m ON m.id = u.remote_id JOIN devices d ON d.id = u.device_id
		WHERE m.ip = ? AND u.start >= ? AND u.start < ?
		GROUP BY u.device_id
		ORDER BY sum(u.uplink_bytes) + sum(u.downlink_bytes) DESC, d.device`, false,
		remote.String(), s.From.Unix(), s.To.Unix())
}

// totals runs a query whose rows are a key (device id or address), a
// name and the five usage sums.
func (r *Record) totals(ctx context.Context, q string, remote bool, args ...any) ([]history.Total, error) {
	rows, err := r.sql.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, r.readFailed(fmt.Errorf("query totals: %w", err))
	}
	defer rows.Close()
	var out []history.Total
	for rows.Next() {
		var (
			t   history.Total
			key string
		)
		if err := rows.Scan(append([]any{&key, &t.Name}, scanUsage(&t.Usage)...)...); err != nil {
			return nil, fmt.Errorf("scan totals: %w", err)
		}
		if !remote {
			t.Device = key
		} else if key != "" {
			if t.Remote, err = parseAddr("remotes.ip", key); err != nil {
				return nil, err
			}
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, r.readFailed(fmt.Errorf("query totals: %w", err))
	}
	return out, nil
}

// DeviceHistory returns one device's buckets of resolution res whose start
// lies in s, oldest first; buckets without traffic are absent.
func (r *Record) DeviceHistory(ctx context.Context, device string, res history.Res, s history.Span) ([]history.Point, error) {
	return r.points(ctx, `
		SELECT u.start, u.uplink_bytes, u.downlink_bytes, u.uplink_packets, u.downlink_packets, u.connections
		FROM device_usage u JOIN devices d ON d.id = u.device_id
		WHERE u.res = ? AND u.start >= ? AND u.start < ? AND d.device = ?
		ORDER BY u.start`, int(res), s.From.Unix(), s.To.Unix(), device)
}

// RemoteHistory returns one remote host's days in s, oldest first.
func (r *Record) RemoteHistory(ctx context.Context, remote netip.Addr, s history.Span) ([]history.Point, error) {
	return r.points(ctx, `
		SELECT u.start, u.uplink_bytes, u.downlink_bytes, u.uplink_packets, u.downlink_packets, u.connections
		FROM remote_usage u JOIN remotes m ON m.id = u.remote_id
		WHERE u.start >= ? AND u.start < ? AND m.ip = ?
		ORDER BY u.start`, s.From.Unix(), s.To.Unix(), remote.String())
}

func (r *Record) points(ctx context.Context, q string, args ...any) ([]history.Point, error) {
	rows, err := r.sql.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, r.readFailed(fmt.Errorf("query history: %w", err))
	}
	defer rows.Close()
	var out []history.Point
	for rows.Next() {
		var (
			p     history.Point
			start int64
		)
		if err := rows.Scan(append([]any{&start}, scanUsage(&p.Usage)...)...); err != nil {
			return nil, fmt.Errorf("scan history: %w", err)
		}
		p.Start = time.Unix(start, 0).UTC()
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, r.readFailed(fmt.Errorf("query history: %w", err))
	}
	return out, nil
}

// DeviceTotalsForever returns every device's lifetime totals (the
// monotonic counters), by device id.
func (r *Record) DeviceTotalsForever(ctx context.Context) ([]history.Total, error) {
	return r.totals(ctx, `SELECT device, name, `+usageCols+` FROM devices ORDER BY device`, false)
}
