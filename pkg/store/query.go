package store

import (
	"context"
	"database/sql"
	"fmt"
	"net/netip"
	"time"

	"github.com/netmon-dev/netmon/pkg/flows"
	"github.com/netmon-dev/netmon/pkg/rates"
)

// readTx runs fn in a read-only transaction (plain BEGIN, a WAL snapshot):
// everything fn reads comes from the same committed cycle. It classifies
// BEGIN's error (readFailed); fn classifies its own SQL errors, so that
// what its caller's callbacks return comes back unchanged.
func (db *handle) readTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := db.sql.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return db.readFailed(fmt.Errorf("begin read: %w", err))
	}
	defer tx.Rollback() //nolint:errcheck // read-only: nothing to lose
	return fn(tx)
}

// ActiveConnections returns the connections in the conntrack table at the
// last cycle, biggest total bytes first, ties by tuple (proto, src_ip,
// src_port, dst_ip, dst_port, compared as stored text), at most limit of
// them (limit <= 0: all), and the number of active connections in all.
// It holds them all in memory: to list a big table, use
// EachActiveConnection.
func (db *Live) ActiveConnections(ctx context.Context, limit int) ([]flows.Connection, int, error) {
	var (
		out   []flows.Connection
		total int
	)
	err := db.EachActiveConnection(ctx, limit, func(n int) error {
		total = n
		return nil
	}, func(c *flows.Connection) error {
		out = append(out, *c)
		return nil
	})
	if err != nil {
		return nil, 0, err
	}
	return out, total, nil
}

// EachActiveConnection walks the active connections in ActiveConnections'
// order, at most limit of them (limit <= 0: all), inside one read
// transaction, so the listing is one cycle's snapshot however long it
// takes. It calls start (if not nil) with the number of active
// connections in all, read in the same transaction, before the first row,
// then fn with each row. Only the current row is in memory, so listing a
// whole table costs no more than one row. It walks a partial index in
// order, so a small limit stays fast however many connections are active.
//
// The *flows.Connection passed to fn is reused for the next row: fn must copy
// it to keep it. An error from start or fn stops the walk and is returned
// unchanged; the walk also stops when ctx is done. The transaction is
// open while start and fn run: a slow fn keeps the WAL from being reset
// that long.
func (db *Live) EachActiveConnection(ctx context.Context, limit int, start func(total int) error, fn func(*flows.Connection) error) error {
	return db.EachActiveConnectionRate(ctx, limit, rates.ByBytes, start, func(c *flows.Connection, _ rates.Reading) error { return fn(c) })
}

// RemoteHostCount returns how many remote hosts the database knows.
func (db *Live) RemoteHostCount(ctx context.Context) (int, error) {
	var n int
	if err := db.sql.QueryRowContext(ctx, `SELECT count(*) FROM remote_hosts`).Scan(&n); err != nil {
		return 0, db.readFailed(fmt.Errorf("count remote hosts: %w", err))
	}
	return n, nil
}

// LocalHosts returns the per-LAN-address totals in address-text order.
func (db *Live) LocalHosts(ctx context.Context) ([]flows.Host, error) {
	rows, err := db.sql.QueryContext(ctx,
		`SELECT ip, uplink_bytes, downlink_bytes FROM local_hosts ORDER BY ip`)
	if err != nil {
		return nil, db.readFailed(fmt.Errorf("query local hosts: %w", err))
	}
	defer rows.Close()
	var out []flows.Host
	for rows.Next() {
		var (
			h        flows.Host
			ip       string
			up, down int64
		)
		if err := rows.Scan(&ip, &up, &down); err != nil {
			return nil, fmt.Errorf("scan local host: %w", err)
		}
		if h.IP, err = parseAddr("local_hosts.ip", ip); err != nil {
			return nil, err
		}
		h.UplinkBytes, h.DownlinkBytes = unsigned(up), unsigned(down)
		out = append(out, h)
	}
	if err := rows.Err(); err != nil {
		return nil, db.readFailed(fmt.Errorf("query local hosts: %w", err))
	}
	return out, nil
}

// ActiveByProto counts the active connections per protocol name.
func (db *Live) ActiveByProto(ctx context.Context) (map[string]int, error) {
	rows, err := db.sql.QueryContext(ctx,
		`SELECT proto, n FROM active_by_proto WHERE n > 0`)
	if err != nil {
		return nil, db.readFailed(fmt.Errorf("count active connections by protocol: %w", err))
	}
	defer rows.Close()
	out := make(map[string]int)
	for rows.Next() {
		var (
			proto string
			n     int
		)
		if err := rows.Scan(&proto, &n); err != nil {
			return nil, fmt.Errorf("scan protocol count: %w", err)
		}
		out[proto] = n
	}
	if err := rows.Err(); err != nil {
		return nil, db.readFailed(fmt.Errorf("count active connections by protocol: %w", err))
	}
	return out, nil
}

// LastCycle returns when the last reconcile cycle committed (the zero
// time if none has) and how many have.
func (db *Live) LastCycle(ctx context.Context) (time.Time, int64, error) {
	var (
		at     sql.NullInt64
		cycles int64
	)
	err := db.sql.QueryRowContext(ctx,
		`SELECT last_cycle_at, cycles FROM ingest_state WHERE id = 1`).Scan(&at, &cycles)
	if err != nil {
		return time.Time{}, 0, db.readFailed(fmt.Errorf("read ingest state: %w", err))
	}
	if !at.Valid {
		return time.Time{}, cycles, nil
	}
	return fromMillis(at.Int64), cycles, nil
}

// parseAddr parses an address column, naming it in the error.
func parseAddr(column, s string) (netip.Addr, error) {
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("%s: %w", column, err)
	}
	return a, nil
}

// fromMillis converts stored unix milliseconds to a UTC time.
func fromMillis(ms int64) time.Time { return time.UnixMilli(ms).UTC() }

// unsigned converts a stored counter back; stored counters are never
// negative, but a damaged row must not wrap to a huge number.
func unsigned(v int64) uint64 {
	if v < 0 {
		return 0
	}
	return uint64(v)
}
