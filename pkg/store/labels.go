package store

import (
	"context"
	"database/sql"
	"fmt"
	"net/netip"
	"strings"

	"github.com/netmon-dev/netmon/pkg/history"
)

// AddrLabel names a LAN address: its device and the device's name.
type AddrLabel struct {
	Addr   netip.Addr
	Device string
	Name   string
}

// DstLabel is the name a client looked up for a remote address.
type DstLabel struct {
	Client, Addr netip.Addr
	Name         string
}

// Labels is one change of the live state's labels: addresses named or
// renamed, addresses no longer known, new names of remote addresses, and
// devices' running totals.
type Labels struct {
	Addrs  []AddrLabel
	Gone   []netip.Addr
	Dsts   []DstLabel
	Totals []history.Total // Device, Name and the lifetime Usage
	// PruneDsts deletes the remote names of client and address pairs
	// that no open connection has any more (one pass over both tables:
	// the writer asks for it every few minutes, not every cycle).
	PruneDsts bool
}

// Empty reports whether l changes nothing.
func (l *Labels) Empty() bool {
	return len(l.Addrs) == 0 && len(l.Gone) == 0 && len(l.Dsts) == 0 && len(l.Totals) == 0 && !l.PruneDsts
}

// WriteLabels applies l in one transaction of the live state. Names are
// stored as given; readers display them escaped and shortened. Remote
// names no active connection uses any more are dropped, so the table stays
// the size of the active set.
func (db *Live) WriteLabels(ctx context.Context, l Labels) (err error) {
	if l.Empty() {
		return nil
	}
	tx, err := db.sql.BeginTx(ctx, nil)
	if err != nil {
		return db.writeFailed(fmt.Errorf("begin labels: %w", err))
	}
	defer func() {
		if err != nil {
			tx.Rollback() //nolint:errcheck // the write's error is the one to report
			err = db.writeFailed(err)
		}
	}()
	for _, a := range l.Addrs {
		if _, err := tx.ExecContext(ctx, `INSERT INTO addr_labels (addr, device, name) VALUES (?, ?, ?)
			ON CONFLICT (addr) DO UPDATE SET device = excluded.device, name = excluded.name`,
			a.Addr.String(), a.Device, a.Name); err != nil {
			return fmt.Errorf("write address label: %w", err)
		}
	}
	for _, a := range l.Gone {
		if _, err := tx.ExecContext(ctx, `DELETE FROM addr_labels WHERE addr = ?`, a.String()); err != nil {
			return fmt.Errorf("delete address label: %w", err)
		}
	}
	if err := writeDsts(ctx, tx, l.Dsts); err != nil {
		return err
	}
	if l.PruneDsts {
		// NOT IN over a row-value subquery: SQLite builds the open
		// pairs' index once, where NOT EXISTS would scan connections for
		// every label (it has no index on src_ip, dst_ip).
		if _, err := tx.ExecContext(ctx, `DELETE FROM dst_labels WHERE (client, addr) NOT IN
			(SELECT src_ip, dst_ip FROM connections WHERE closed_at IS NULL)`); err != nil {
			return fmt.Errorf("prune remote names: %w", err)
		}
	}
	for _, t := range l.Totals {
		if _, err := tx.ExecContext(ctx, `INSERT INTO device_totals (device, name, `+usageCols+`)
			VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (device) DO UPDATE SET name = excluded.name,
			uplink_bytes = excluded.uplink_bytes, downlink_bytes = excluded.downlink_bytes,
			uplink_packets = excluded.uplink_packets, downlink_packets = excluded.downlink_packets,
			connections = excluded.connections`,
			append([]any{t.Device, t.Name}, usageArgs(t.Usage)...)...); err != nil {
			return fmt.Errorf("write device totals: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit labels: %w", err)
	}
	return nil
}

// DeviceTotals returns every device's running lifetime totals, by device
// id: the counters Prometheus exports.
func (db *Live) DeviceTotals(ctx context.Context) ([]history.Total, error) {
	rows, err := db.sql.QueryContext(ctx, `SELECT device, name, `+usageCols+` FROM device_totals ORDER BY device`)
	if err != nil {
		return nil, db.readFailed(fmt.Errorf("query device totals: %w", err))
	}
	defer rows.Close()
	var out []history.Total
	for rows.Next() {
		var t history.Total
		if err := rows.Scan(append([]any{&t.Device, &t.Name}, scanUsage(&t.Usage)...)...); err != nil {
			return nil, fmt.Errorf("scan device totals: %w", err)
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, db.readFailed(fmt.Errorf("query device totals: %w", err))
	}
	return out, nil
}

// writeDsts upserts remote names, upsertChunk rows to a statement.
func writeDsts(ctx context.Context, tx *sql.Tx, ds []DstLabel) error {
	const q = `INSERT INTO dst_labels (client, addr, name) VALUES `
	const tail = ` ON CONFLICT (client, addr) DO UPDATE SET name = excluded.name`
	var full *sql.Stmt
	defer func() {
		if full != nil {
			full.Close()
		}
	}()
	args := make([]any, 0, 3*upsertChunk)
	for len(ds) > 0 {
		k := min(len(ds), upsertChunk)
		args = args[:0]
		for _, d := range ds[:k] {
			args = append(args, d.Client.String(), d.Addr.String(), d.Name)
		}
		ds = ds[k:]
		var err error
		if k == upsertChunk {
			if full == nil {
				full, err = tx.PrepareContext(ctx, q+strings.TrimSuffix(strings.Repeat("(?, ?, ?), ", k), ", ")+tail)
			}
			if err == nil {
				_, err = full.ExecContext(ctx, args...)
			}
		} else {
			_, err = tx.ExecContext(ctx, q+strings.TrimSuffix(strings.Repeat("(?, ?, ?), ", k), ", ")+tail, args...)
		}
		if err != nil {
			return fmt.Errorf("write remote names: %w", err)
		}
	}
	return nil
}
