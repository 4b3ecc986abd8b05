package store

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/netmon-dev/netmon/pkg/conntrack"
	"github.com/netmon-dev/netmon/pkg/flows"
	"github.com/netmon-dev/netmon/pkg/rates"
)

// WriteRates stores what a rates.Tracker's last Add changed (see
// migrations/live/0003_rates.sql), in one transaction: the changed
// connections' rate columns by row id, the changed device and remote host
// rows, the new sparkline tick, and the router's rates; ticks older than
// rates.SparkSpan are pruned. With ch.Reset every rate stored before is
// cleared first. On an error nothing is written; the tracker's copy is
// then ahead of the file, so call its Rewrite.
func (db *Live) WriteRates(ctx context.Context, ch *rates.Changes) (err error) {
	tx, err := db.sql.BeginTx(ctx, nil)
	if err != nil {
		return db.writeFailed(fmt.Errorf("begin rates: %w", err))
	}
	defer func() {
		if err != nil {
			tx.Rollback() //nolint:errcheck // the write's error is the one to report
			err = db.writeFailed(err)
		}
	}()
	w := rateWriter{tx: tx, at: ch.At.UnixMilli()}
	if ch.Reset {
		if err := w.reset(ctx); err != nil {
			return err
		}
	}
	for _, step := range []func(context.Context, *rates.Changes) error{w.conns, w.devices, w.remotes, w.ticks, w.state} {
		if err := step(ctx, ch); err != nil {
			return err
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit rates: %w", err)
	}
	return nil
}

type rateWriter struct {
	tx *sql.Tx
	at int64
}

// reset clears every stored rate.
func (w *rateWriter) reset(ctx context.Context) error {
	for _, q := range []string{
		`DELETE FROM connection_rates`,
		`DELETE FROM device_rates`,
		`DELETE FROM remote_rates`,
		`DELETE FROM rate_ticks`,
		`DELETE FROM device_rate_samples`,
	} {
		if _, err := w.tx.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("clear rates: %w", err)
		}
	}
	return nil
}

// nullable is v, or NULL when the reading is unknown.
func nullable(known bool, v int64) any {
	if !known {
		return nil
	}
	return v
}

// conns writes the changed connections, in row order (the B-tree's). A
// zero rate is no row, like none: only connections with traffic in the
// window have one.
func (w *rateWriter) conns(ctx context.Context, ch *rates.Changes) error {
	if len(ch.Conns) == 0 {
		return nil
	}
	set, err := w.tx.PrepareContext(ctx, `INSERT OR REPLACE INTO connection_rates (id, uplink_bps, downlink_bps, total_bps)
		VALUES (?, ?, ?, ?)`)
	if err != nil {
		return fmt.Errorf("prepare connection rate: %w", err)
	}
	defer set.Close()
	del, err := w.tx.PrepareContext(ctx, `DELETE FROM connection_rates WHERE id = ?`)
	if err != nil {
		return fmt.Errorf("prepare connection rate: %w", err)
	}
	defer del.Close()
	order := make([]int, 0, len(ch.Conns))
	for i := range ch.Conns {
		if ch.Conns[i].Ref != 0 {
			order = append(order, i)
		}
	}
	slices.SortFunc(order, func(a, b int) int { return cmp.Compare(ch.Conns[a].Ref, ch.Conns[b].Ref) })
	for _, i := range order {
		c := &ch.Conns[i]
		up, down := c.Window.Bps()
		if c.Known && up|down != 0 {
			_, err = set.ExecContext(ctx, c.Ref, up, down, addSat(up, down))
		} else {
			_, err = del.ExecContext(ctx, c.Ref)
		}
		if err != nil {
			return fmt.Errorf("write rate of connection %s: %w", c.Key, err)
		}
	}
	return nil
}

func (w *rateWriter) devices(ctx context.Context, ch *rates.Changes) error {
	if len(ch.Devices) > 0 {
		st, err := w.tx.PrepareContext(ctx, `INSERT OR REPLACE INTO device_rates
			(device, addrs, uplink_bps, downlink_bps, last_uplink_bps, last_downlink_bps) VALUES (?, ?, ?, ?, ?, ?)`)
		if err != nil {
			return fmt.Errorf("prepare device rate: %w", err)
		}
		defer st.Close()
		for _, d := range ch.Devices {
			wu, wd := d.Window.Bps()
			lu, ld := d.Last.Bps()
			if _, err := st.ExecContext(ctx, d.ID, addrsText(d.Addrs), nullable(d.Known, wu), nullable(d.Known, wd),
				nullable(d.Known, lu), nullable(d.Known, ld)); err != nil {
				return fmt.Errorf("write rate of device %s: %w", d.ID, err)
			}
		}
	}
	for _, id := range ch.GoneDevices {
		if _, err := w.tx.ExecContext(ctx, `DELETE FROM device_rates WHERE device = ?`, id); err != nil {
			return fmt.Errorf("delete rate of device %s: %w", id, err)
		}
	}
	return nil
}

func (w *rateWriter) remotes(ctx context.Context, ch *rates.Changes) error {
	if len(ch.Remotes) > 0 {
		st, err := w.tx.PrepareContext(ctx, `INSERT OR REPLACE INTO remote_rates (ip, uplink_bps, downlink_bps, total_bps)
			VALUES (?, ?, ?, ?)`)
		if err != nil {
			return fmt.Errorf("prepare remote rate: %w", err)
		}
		defer st.Close()
		for _, r := range ch.Remotes {
			up, down := r.Window.Bps()
			if _, err := st.ExecContext(ctx, r.Addr.String(), up, down, addSat(up, down)); err != nil {
				return fmt.Errorf("write rate of remote host %s: %w", r.Addr, err)
			}
		}
	}
	for _, a := range ch.GoneRemotes {
		if _, err := w.tx.ExecContext(ctx, `DELETE FROM remote_rates WHERE ip = ?`, a.String()); err != nil {
			return fmt.Errorf("delete rate of remote host %s: %w", a, err)
		}
	}
	return nil
}

// ticks writes the new sparkline samples and prunes the old ones.
func (w *rateWriter) ticks(ctx context.Context, ch *rates.Changes) error {
	for _, tk := range ch.Ticks {
		at := tk.At.UnixMilli()
		up, down := tk.Total.Bps()
		if _, err := w.tx.ExecContext(ctx, `INSERT OR REPLACE INTO rate_ticks (at, uplink_bps, downlink_bps) VALUES (?, ?, ?)`,
			at, up, down); err != nil {
			return fmt.Errorf("write rate tick: %w", err)
		}
		for _, d := range tk.Devices {
			up, down := d.Bps()
			if _, err := w.tx.ExecContext(ctx, `INSERT OR REPLACE INTO device_rate_samples (at, device, uplink_bps, downlink_bps)
				VALUES (?, ?, ?, ?)`, at, d.ID, up, down); err != nil {
				return fmt.Errorf("write rate sample of device %s: %w", d.ID, err)
			}
		}
	}
	if len(ch.Ticks) == 0 {
		return nil
	}
	old := w.at - rates.SparkSpan.Milliseconds()
	for _, q := range []string{`DELETE FROM rate_ticks WHERE at < ?`, `DELETE FROM device_rate_samples WHERE at < ?`} {
		if _, err := w.tx.ExecContext(ctx, q, old); err != nil {
			return fmt.Errorf("prune rate ticks: %w", err)
		}
	}
	return nil
}

func (w *rateWriter) state(ctx context.Context, ch *rates.Changes) error {
	t := ch.Total
	wu, wd := t.Window.Bps()
	lu, ld := t.Last.Bps()
	_, err := w.tx.ExecContext(ctx, `UPDATE rate_state SET cycles = ?, at = ?, window_ms = ?,
		uplink_bps = ?, downlink_bps = ?, last_uplink_bps = ?, last_downlink_bps = ? WHERE id = 1`,
		ch.Cycles, w.at, ch.Window.Milliseconds(),
		nullable(t.Known, wu), nullable(t.Known, wd), nullable(t.Known, lu), nullable(t.Known, ld))
	if err != nil {
		return fmt.Errorf("write rate state: %w", err)
	}
	return nil
}

func addrsText(as []netip.Addr) string {
	parts := make([]string, len(as))
	for i, a := range as {
		parts[i] = a.String()
	}
	return strings.Join(parts, " ")
}

// rateClock is what a reader needs to tell a connection's "no rate yet"
// from zero: the rates' cycle count and time, and the last reconciled
// cycle's time (the rates are written just after it, so for a moment
// they are a cycle behind).
type rateClock struct {
	cycles    int64
	at, cycle sql.NullInt64
}

func (db *Live) readRateClock(ctx context.Context, tx *sql.Tx) (rateClock, error) {
	var c rateClock
	err := tx.QueryRowContext(ctx, `SELECT r.cycles, r.at, i.last_cycle_at FROM rate_state r, ingest_state i
		WHERE r.id = 1 AND i.id = 1`).Scan(&c.cycles, &c.at, &c.cycle)
	if err != nil {
		return c, db.readFailed(fmt.Errorf("read rate state: %w", err))
	}
	return c, nil
}

// known reports whether a connection first read at firstSeen (unix ms)
// has a rate: the tracker has seen two cycles and the row's first
// reading is neither the rates' cycle nor a newer reconciled one.
func (c rateClock) known(firstSeen int64) bool {
	return c.cycles >= 2 && c.at.Valid && firstSeen != c.at.Int64 && !(c.cycle.Valid && firstSeen == c.cycle.Int64)
}

// reading is the rates of a stored row: NULL columns are zero.
func reading(known bool, cols [4]sql.NullInt64) rates.Reading {
	if !known {
		return rates.Reading{}
	}
	v := func(i int) int64 { return cols[i].Int64 } // NULL scans as 0
	return rates.Reading{Known: true, Window: rates.FromBps(v(0), v(1)), Last: rates.FromBps(v(2), v(3))}
}

// EachActiveConnectionRate walks the active connections like
// EachActiveConnection, each with its rates: by total bytes (rates.ByBytes,
// EachActiveConnection's order), or by window rate, highest first, with
// the connections without traffic in the window after them by bytes
// (rates.ByRate, ties by row). A connection's reading is unknown at its
// first reading and before the ingest process's second cycle; its Window
// is within 1/rates.FlowStep of the tracker's, and its Last is not
// stored (zero).
func (db *Live) EachActiveConnectionRate(ctx context.Context, limit int, order rates.Order, start func(total int) error,
	fn func(*flows.Connection, rates.Reading) error) error {
	return db.eachRated(ctx, "", limit, order, start, fn)
}

// EachDeviceConnectionRate walks one device's active connections like
// EachActiveConnectionRate, start getting the number of them: those whose
// LAN address is labelled with the device, or, unlabelled, whose device
// is "ip:" and the address. SQLite filters the rows, so a device's page
// costs a scan of the active connections, not a row each in Go.
func (db *Live) EachDeviceConnectionRate(ctx context.Context, device string, limit int, order rates.Order,
	start func(total int) error, fn func(*flows.Connection, rates.Reading) error) error {
	if device == "" {
		return fmt.Errorf("list a device's connections: no device")
	}
	return db.eachRated(ctx, device, limit, order, start, fn)
}

// deviceMatch is the SQL condition that a connection c, with its label a,
// is the device given as the next parameter: the label's device, or
// "ip:" and the address without one (flows.Connection's rule).
const deviceMatch = `(CASE WHEN coalesce(a.device, '') = '' THEN 'ip:' || c.src_ip ELSE a.device END) = ?`

// eachRated is EachActiveConnectionRate of every device ("") or of one.
func (db *Live) eachRated(ctx context.Context, device string, limit int, order rates.Order, start func(total int) error,
	fn func(*flows.Connection, rates.Reading) error) error {
	if limit <= 0 {
		limit = -1 // SQLite: no limit
	}
	filter, args := "", []any{}
	if device != "" {
		filter, args = "AND "+deviceMatch, []any{device}
	}
	return db.readTx(ctx, func(tx *sql.Tx) error {
		var total int
		count := tx.QueryRowContext(ctx, `SELECT active_connections FROM ingest_state WHERE id = 1`)
		if device != "" {
			count = tx.QueryRowContext(ctx, `SELECT count(*) FROM connections c LEFT JOIN addr_labels a ON a.addr = c.src_ip
				WHERE c.closed_at IS NULL `+filter, args...)
		}
		if err := count.Scan(&total); err != nil {
			return db.readFailed(fmt.Errorf("count active connections: %w", err))
		}
		clock, err := db.readRateClock(ctx, tx)
		if err != nil {
			return err
		}
		if start != nil {
			if err := start(total); err != nil {
				return err
			}
		}
		const cols = `SELECT c.proto, c.src_ip, c.src_port, c.dst_ip, c.dst_port, c.state, c.flags,
			c.uplink_packets, c.uplink_bytes, c.downlink_packets, c.downlink_bytes,
			c.first_seen_at, c.last_seen_at, h.first_seen_at, r.uplink_bps, r.downlink_bps,
			coalesce(a.device, ''), coalesce(a.name, ''), coalesce(d.name, '')`
		// The labels (0002_labels) name the ends: a LEFT JOIN each, by
		// primary key, so a connection without a label still lists.
		const labels = ` LEFT JOIN addr_labels a ON a.addr = c.src_ip
			LEFT JOIN dst_labels d ON d.client = c.src_ip AND d.addr = c.dst_ip`
		// CROSS JOIN keeps the first table the outer loop, so the ORDER BY
		// is its index's order and LIMIT stops the walk early.
		byBytes := cols + ` FROM connections c CROSS JOIN remote_hosts h ON h.ip = c.dst_ip
			LEFT JOIN connection_rates r ON r.id = c.id` + labels + `
			WHERE c.closed_at IS NULL %s
			ORDER BY c.total_bytes DESC, c.proto, c.src_ip, c.src_port, c.dst_ip, c.dst_port LIMIT ?`
		queries := []string{fmt.Sprintf(byBytes, filter)}
		if order == rates.ByRate {
			queries = []string{
				cols + ` FROM connection_rates r CROSS JOIN connections c ON c.id = r.id CROSS JOIN remote_hosts h ON h.ip = c.dst_ip` + labels + `
					WHERE c.closed_at IS NULL ` + filter + ` ORDER BY r.total_bps DESC, r.id LIMIT ?`,
				fmt.Sprintf(byBytes, "AND r.id IS NULL "+filter),
			}
		}
		left := limit
		for _, q := range queries {
			n, err := db.walkRated(ctx, tx, q, append(args[:len(args):len(args)], left), clock, fn)
			if err != nil {
				return err
			}
			if left > 0 {
				if left -= n; left == 0 {
					break
				}
			}
		}
		return nil
	})
}

// walkRated runs one query of EachActiveConnectionRate with its
// parameters (the last one the limit) and returns how many rows it
// handed to fn.
func (db *Live) walkRated(ctx context.Context, tx *sql.Tx, q string, args []any, clock rateClock,
	fn func(*flows.Connection, rates.Reading) error) (int, error) {
	rows, err := tx.QueryContext(ctx, q, args...)
	if err != nil {
		return 0, db.readFailed(fmt.Errorf("query active connections: %w", err))
	}
	defer rows.Close()
	var (
		c                      flows.Connection
		proto, src, dst, flags string
		first, last, hostFirst int64
		ctr                    storedCounters
		rc                     [4]sql.NullInt64
		n                      int
	)
	for rows.Next() {
		if err := ctx.Err(); err != nil {
			return n, fmt.Errorf("query active connections: %w", err)
		}
		if err := rows.Scan(&proto, &src, &c.Key.SrcPort, &dst, &c.Key.DstPort, &c.State, &flags,
			&ctr.upPackets, &ctr.upBytes, &ctr.downPackets, &ctr.downBytes, &first, &last, &hostFirst,
			&rc[0], &rc[1], &c.Device, &c.DeviceName, &c.DstName); err != nil {
			return n, fmt.Errorf("scan active connection: %w", err)
		}
		if c.Key, err = parseKey(c.Key, proto, src, dst); err != nil {
			return n, err
		}
		c.Status, c.Counters = conntrack.ParseStatus(flags), ctr.unsigned()
		c.FirstSeenAt, c.LastSeenAt, c.HostFirstSeenAt = fromMillis(first), fromMillis(last), fromMillis(hostFirst)
		n++
		if err := fn(&c, reading(clock.known(first), rc)); err != nil {
			return n, err
		}
	}
	if err := rows.Err(); err != nil {
		return n, db.readFailed(fmt.Errorf("query active connections: %w", err))
	}
	return n, nil
}

// RatesNow reads the rates the ingest process wrote last, in one read
// transaction: the router's, the devices' with their sparklines (the
// ticks after q.Since), and the remote hosts' with traffic in the window,
// highest first, at most q.Remotes (<= 0: all; their Window within
// 1/rates.FlowStep of the tracker's, their Last not stored: zero). Before any rates were
// written it returns a Now with a zero At.
func (db *Live) RatesNow(ctx context.Context, q rates.Query) (*rates.Now, error) {
	now := &rates.Now{}
	err := db.readTx(ctx, func(tx *sql.Tx) error {
		var (
			at       sql.NullInt64
			windowMS int64
			rc       [4]sql.NullInt64
		)
		if err := tx.QueryRowContext(ctx, `SELECT cycles, at, window_ms, uplink_bps, downlink_bps, last_uplink_bps,
			last_downlink_bps FROM rate_state WHERE id = 1`).Scan(&now.Cycles, &at, &windowMS, &rc[0], &rc[1], &rc[2], &rc[3]); err != nil {
			return db.readFailed(fmt.Errorf("read rate state: %w", err))
		}
		if !at.Valid {
			return nil
		}
		now.At, now.Window = fromMillis(at.Int64), time.Duration(windowMS)*time.Millisecond
		now.Total = reading(rc[0].Valid, rc)
		var ticks map[int64]int
		if !q.NoSpark {
			var err error
			if ticks, err = db.readTicks(ctx, tx, now, q.Since); err != nil {
				return err
			}
		}
		if err := db.readDevices(ctx, tx, now, ticks); err != nil {
			return err
		}
		if err := db.readDeviceNames(ctx, tx, now); err != nil {
			return err
		}
		return db.readRemotes(ctx, tx, now, q.Remotes)
	})
	if err != nil {
		return nil, err
	}
	return now, nil
}

// readTicks reads the ticks after since and the router's sparkline, and
// returns the ticks' index by time.
func (db *Live) readTicks(ctx context.Context, tx *sql.Tx, now *rates.Now, since time.Time) (map[int64]int, error) {
	from := now.At.Add(-rates.SparkSpan).UnixMilli()
	if !since.IsZero() {
		from = max(from, since.UnixMilli()+1)
	}
	rows, err := tx.QueryContext(ctx, `SELECT at, uplink_bps, downlink_bps FROM rate_ticks WHERE at >= ? ORDER BY at`, from)
	if err != nil {
		return nil, db.readFailed(fmt.Errorf("query rate ticks: %w", err))
	}
	defer rows.Close()
	index := map[int64]int{}
	for rows.Next() {
		var at, up, down int64
		if err := rows.Scan(&at, &up, &down); err != nil {
			return nil, fmt.Errorf("scan rate tick: %w", err)
		}
		index[at] = len(now.Ticks)
		now.Ticks = append(now.Ticks, fromMillis(at))
		now.TotalSpark = append(now.TotalSpark, rates.FromBps(up, down))
	}
	if err := rows.Err(); err != nil {
		return nil, db.readFailed(fmt.Errorf("query rate ticks: %w", err))
	}
	return index, nil
}

// readDeviceNames names now's devices from the addresses' labels the
// ingest process wrote (a device's addresses all carry its one name).
func (db *Live) readDeviceNames(ctx context.Context, tx *sql.Tx, now *rates.Now) error {
	if len(now.Devices) == 0 {
		return nil
	}
	rows, err := tx.QueryContext(ctx, `SELECT device, max(name) FROM addr_labels WHERE name != '' GROUP BY device`)
	if err != nil {
		return db.readFailed(fmt.Errorf("query device names: %w", err))
	}
	defer rows.Close()
	names := map[string]string{}
	for rows.Next() {
		var dev, name string
		if err := rows.Scan(&dev, &name); err != nil {
			return fmt.Errorf("scan device name: %w", err)
		}
		names[dev] = name
	}
	if err := rows.Err(); err != nil {
		return db.readFailed(fmt.Errorf("query device names: %w", err))
	}
	for i := range now.Devices {
		now.Devices[i].Name = names[now.Devices[i].ID]
	}
	return nil
}

func (db *Live) readDevices(ctx context.Context, tx *sql.Tx, now *rates.Now, ticks map[int64]int) error {
	rows, err := tx.QueryContext(ctx, `SELECT device, addrs, uplink_bps, downlink_bps, last_uplink_bps, last_downlink_bps
		FROM device_rates`)
	if err != nil {
		return db.readFailed(fmt.Errorf("query device rates: %w", err))
	}
	defer rows.Close()
	byID := map[string]int{}
	for rows.Next() {
		var (
			d     rates.Device
			addrs string
			rc    [4]sql.NullInt64
		)
		if err := rows.Scan(&d.ID, &addrs, &rc[0], &rc[1], &rc[2], &rc[3]); err != nil {
			return fmt.Errorf("scan device rate: %w", err)
		}
		for _, a := range strings.Fields(addrs) {
			ip, err := parseAddr("device_rates.addrs", a)
			if err != nil {
				return err
			}
			d.Addrs = append(d.Addrs, ip)
		}
		d.Reading = reading(rc[0].Valid, rc)
		d.Spark = make([]rates.Rate, len(now.Ticks))
		byID[d.ID] = len(now.Devices)
		now.Devices = append(now.Devices, d)
	}
	if err := rows.Err(); err != nil {
		return db.readFailed(fmt.Errorf("query device rates: %w", err))
	}
	rows.Close()
	if len(now.Ticks) > 0 {
		samples, err := tx.QueryContext(ctx, `SELECT at, device, uplink_bps, downlink_bps FROM device_rate_samples
			WHERE at >= ?`, now.Ticks[0].UnixMilli())
		if err != nil {
			return db.readFailed(fmt.Errorf("query device rate samples: %w", err))
		}
		defer samples.Close()
		for samples.Next() {
			var (
				at, up, down int64
				id           string
			)
			if err := samples.Scan(&at, &id, &up, &down); err != nil {
				return fmt.Errorf("scan device rate sample: %w", err)
			}
			ti, ok1 := ticks[at]
			di, ok2 := byID[id]
			if ok1 && ok2 {
				now.Devices[di].Spark[ti] = rates.FromBps(up, down)
			}
		}
		if err := samples.Err(); err != nil {
			return db.readFailed(fmt.Errorf("query device rate samples: %w", err))
		}
	}
	rates.SortDevices(now.Devices)
	return nil
}

func (db *Live) readRemotes(ctx context.Context, tx *sql.Tx, now *rates.Now, limit int) error {
	if limit <= 0 {
		limit = -1
	}
	rows, err := tx.QueryContext(ctx, `SELECT ip, uplink_bps, downlink_bps FROM remote_rates
		ORDER BY total_bps DESC, ip LIMIT ?`, limit)
	if err != nil {
		return db.readFailed(fmt.Errorf("query remote rates: %w", err))
	}
	defer rows.Close()
	for rows.Next() {
		var (
			ip string
			rc [4]sql.NullInt64
		)
		if err := rows.Scan(&ip, &rc[0], &rc[1]); err != nil {
			return fmt.Errorf("scan remote rate: %w", err)
		}
		a, err := parseAddr("remote_rates.ip", ip)
		if err != nil {
			return err
		}
		now.Remotes = append(now.Remotes, rates.Remote{Addr: a, Reading: reading(true, rc)})
	}
	if err := rows.Err(); err != nil {
		return db.readFailed(fmt.Errorf("query remote rates: %w", err))
	}
	rates.SortRemotes(now.Remotes)
	return nil
}
