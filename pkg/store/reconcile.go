package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"sort"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// tupleKey identifies a connection row: the columns of the UNIQUE index.
type tupleKey struct {
	proto string
	src   netip.Addr
	sport uint16
	dst   netip.Addr
	dport uint16
}

func keyOf(f *Flow) tupleKey {
	return tupleKey{proto: f.Proto, src: f.SrcIP, sport: f.SrcPort, dst: f.DstIP, dport: f.DstPort}
}

// counters are a flow's four counters as stored: int64, saturated.
type counters struct {
	upPackets, upBytes, downPackets, downBytes int64
}

func countersOf(f *Flow) counters {
	return counters{
		upPackets:   saturate(f.UplinkPackets),
		upBytes:     saturate(f.UplinkBytes),
		downPackets: saturate(f.DownlinkPackets),
		downBytes:   saturate(f.DownlinkBytes),
	}
}

// wentDown reports whether any counter of c is below old's: conntrack
// forgot the old flow and a new one of the same tuple took its place.
func (c counters) wentDown(old counters) bool {
	return c.upPackets < old.upPackets || c.upBytes < old.upBytes ||
		c.downPackets < old.downPackets || c.downBytes < old.downBytes
}

// activeRow is the cached copy of one active connections row: what a cycle
// compares a snapshot's flow with to decide whether to write.
type activeRow struct {
	id    int64
	state string
	flags string
	counters
	seen    int64 // the cycle number that last saw this tuple in a snapshot
	pending int32 // during a cycle: the tuple's index in cycleWriter.snap
}

// activeCache mirrors the rows with closed_at IS NULL. It is in step with
// the database when cycles equals ingest_state.cycles; otherwise (another
// process reconciled, or a cycle of ours rolled back) it is reloaded.
type activeCache struct {
	cycles int64
	rows   map[tupleKey]*activeRow
}

// loadActive reads every active connection into a fresh cache.
func loadActive(ctx context.Context, tx *sql.Tx, cycles int64) (*activeCache, error) {
	rows, err := tx.QueryContext(ctx, `
		SELECT id, proto, src_ip, src_port, dst_ip, dst_port, state, flags,
		       uplink_packets, uplink_bytes, downlink_packets, downlink_bytes
		FROM connections WHERE closed_at IS NULL`)
	if err != nil {
		return nil, fmt.Errorf("load active connections: %w", err)
	}
	defer rows.Close()
	c := &activeCache{cycles: cycles, rows: make(map[tupleKey]*activeRow)}
	// Protocols, states and flags take a handful of values: share one
	// string for each instead of one per row.
	words := map[string]string{}
	intern := func(s *string) {
		if w, ok := words[*s]; ok {
			*s = w
			return
		}
		words[*s] = *s
	}
	for rows.Next() {
		var (
			r        activeRow
			k        tupleKey
			src, dst string
		)
		if err := rows.Scan(&r.id, &k.proto, &src, &k.sport, &dst, &k.dport, &r.state, &r.flags,
			&r.upPackets, &r.upBytes, &r.downPackets, &r.downBytes); err != nil {
			return nil, fmt.Errorf("load active connections: %w", err)
		}
		if k.src, err = netip.ParseAddr(src); err != nil {
			return nil, fmt.Errorf("load connection %d: src_ip: %w", r.id, err)
		}
		if k.dst, err = netip.ParseAddr(dst); err != nil {
			return nil, fmt.Errorf("load connection %d: dst_ip: %w", r.id, err)
		}
		intern(&k.proto)
		intern(&r.state)
		intern(&r.flags)
		r.seen = cycles
		c.rows[k] = &r
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("load active connections: %w", err)
	}
	return c, nil
}

// snapFlow is one distinct tuple of a snapshot, duplicates merged. It
// points at the tuple's first flow in the caller's slice instead of copying
// it (a cold 100,000-flow cycle would otherwise hold the snapshot twice):
// only state, flags and counters can differ from that flow after a merge,
// so they are kept here and the flow itself is never written to.
type snapFlow struct {
	flow *Flow // the tuple's first entry in the snapshot: read only
	counters
	state, flags     string
	srcText, dstText string     // address text, filled for flows to insert
	row              *activeRow // the tuple's cached row
	// fresh marks a tuple not active before this cycle: its row was added
	// to the cache by collect, id 0 until writeOpens inserts it.
	fresh bool
}

// key is the tuple f stands for.
func (f *snapFlow) key() tupleKey { return keyOf(f.flow) }

// validate rejects a flow the database cannot key.
func validate(i int, f *Flow) error {
	if f.Proto == "" {
		return fmt.Errorf("flow %d: empty protocol", i)
	}
	if !f.SrcIP.IsValid() || !f.DstIP.IsValid() {
		return fmt.Errorf("flow %d (%s): invalid address", i, f.Proto)
	}
	return nil
}

// collect validates flows, merges entries that share a tuple, and links
// each distinct tuple to its cached row, marking that row seen this cycle.
// A tuple not active before gets a fresh row in the cache at once (filled
// in by writeOpens; a failed cycle drops the whole cache), so the cache map
// is the only map a cycle builds, cold or steady.
//
// conntrack can list the same original tuple twice (in different zones):
// such entries are merged by SUMMING their counters; state and flags are
// those of the entry whose (state, flags) text sorts last. Both choices are
// independent of the order conntrack prints them in (hash order), so a
// merged tuple cannot flip between two entries from one cycle to the next
// and fake a counter drop or a state change.
//
// Every tuple finds its duplicates through the cache (row.pending).
func (c *cycleWriter) collect(flows []Flow) error {
	c.snap = make([]snapFlow, 0, len(flows))
	if len(c.cache.rows) == 0 {
		// A cold cycle: size the map once instead of growing it through
		// copies of itself.
		c.cache.rows = make(map[tupleKey]*activeRow, len(flows))
	}
	for i := range flows {
		f := &flows[i]
		if err := validate(i, f); err != nil {
			return err
		}
		k := keyOf(f)
		row := c.cache.rows[k]
		fresh := false
		switch {
		case row == nil:
			row, fresh = &activeRow{}, true
			c.cache.rows[k] = row
		case row.seen == c.cycle:
			m := &c.snap[row.pending]
			add := countersOf(f)
			m.upPackets = addSat(m.upPackets, add.upPackets)
			m.upBytes = addSat(m.upBytes, add.upBytes)
			m.downPackets = addSat(m.downPackets, add.downPackets)
			m.downBytes = addSat(m.downBytes, add.downBytes)
			if f.State > m.state || (f.State == m.state && f.Flags > m.flags) {
				m.state, m.flags = f.State, f.Flags
			}
			c.res.Duplicates++
			continue
		}
		row.seen, row.pending = c.cycle, int32(len(c.snap))
		c.snap = append(c.snap, snapFlow{flow: f, counters: countersOf(f), state: f.State, flags: f.Flags, row: row, fresh: fresh})
	}
	return nil
}

// delta accumulates byte growth for one host within a cycle.
type delta struct{ up, down int64 }

func (d *delta) add(up, down int64) {
	d.up = addSat(d.up, up)
	d.down = addSat(d.down, down)
}

// Reconcile makes the database agree with one snapshot of the outbound
// flows, in ONE transaction (a reader sees all of a cycle or none of it):
//
//   - a tuple not active before is opened: inserted, or, if a closed row of
//     the same tuple is kept as history, that row is reopened (closed_at
//     NULL, first_seen_at now, counters restart: see migrations/0001);
//   - an active tuple whose counters went down is a new flow of the tuple:
//     reopened the same way;
//   - an active tuple whose counters, state or flags changed is updated,
//     last_seen_at = now; one that did not change is NOT written at all
//     (routers run on flash), so last_seen_at means "last change";
//   - an active tuple absent from flows is closed (closed_at = now); an empty
//     snapshot closes everything;
//   - closed connections older than retention are pruned (retention <= 0
//     keeps them forever); hosts are never pruned;
//   - remote_hosts (by destination) and local_hosts (by source) add the
//     GROWTH of the counters: the new counters for an opened flow, new - old
//     for an updated one, so totals never go backwards and never count a
//     byte twice. A remote host's last_seen_at advances only when one of its
//     connections was opened or changed;
//   - ingest_state records now as the last cycle, even when nothing changed.
//
// Duplicate tuples in flows are merged by summing (see CycleResult.Duplicates).
// Times are stored as UTC unix milliseconds. A flow with an empty protocol or
// an invalid address fails the whole cycle, which then writes nothing.
//
// Only one Reconcile runs at a time per DB; across processes SQLite's write
// lock serialises cycles and the in-memory cache of active rows is reloaded
// when another process has reconciled in between.
func (db *DB) Reconcile(ctx context.Context, now time.Time, flows []Flow, retention time.Duration) (res CycleResult, err error) {
	db.mu.Lock()
	defer db.mu.Unlock()
	tx, err := db.sql.BeginTx(ctx, nil) // BEGIN IMMEDIATE: see dsn
	if err != nil {
		return res, fmt.Errorf("begin cycle: %w", err)
	}
	defer func() {
		if err != nil {
			tx.Rollback()   //nolint:errcheck // the cycle's error is the one to report
			db.active = nil // collect marked rows; the rollback undid the rest
			res = CycleResult{}
		}
	}()

	var cycles int64
	if err := tx.QueryRowContext(ctx, `SELECT cycles FROM ingest_state WHERE id = 1`).Scan(&cycles); err != nil {
		return res, fmt.Errorf("read ingest state: %w", err)
	}
	if db.active == nil || db.active.cycles != cycles {
		if db.active, err = loadActive(ctx, tx, cycles); err != nil {
			return res, err
		}
	}
	cycle := cycles + 1
	c := &cycleWriter{tx: tx, now: now.UnixMilli(), cycle: cycle, res: &res, cache: db.active}
	if err := c.collect(flows); err != nil {
		return res, fmt.Errorf("reconcile: %w", err)
	}
	if err := c.run(ctx, retention); err != nil {
		return res, err
	}
	if err := tx.Commit(); err != nil {
		return res, fmt.Errorf("commit cycle: %w", err)
	}
	db.active.cycles = cycle
	return res, nil
}

// cycleWriter holds one cycle's state inside its transaction.
type cycleWriter struct {
	tx    *sql.Tx
	now   int64
	cycle int64
	res   *CycleResult
	cache *activeCache

	snap    []snapFlow // the snapshot's distinct tuples (see collect)
	opens   []*snapFlow
	updates []*snapFlow
	protos  map[string]int // change of the active count per protocol
	remotes map[netip.Addr]*delta
	locals  map[netip.Addr]*delta
}

func (c *cycleWriter) run(ctx context.Context, retention time.Duration) error {
	c.diff()
	// Hosts first: connections.dst_ip references remote_hosts.
	if err := c.writeRemotes(ctx); err != nil {
		return err
	}
	if err := c.writeOpens(ctx); err != nil {
		return err
	}
	if err := c.writeUpdates(ctx); err != nil {
		return err
	}
	// The rest needs only the cache and the per-host sums: let the GC take
	// the snapshot (and the caller's flows it points into) before the
	// closes, the hosts and the commit.
	c.snap, c.opens, c.updates = nil, nil, nil
	if err := c.writeCloses(ctx); err != nil {
		return err
	}
	if err := c.prune(ctx, retention); err != nil {
		return err
	}
	if err := c.writeLocals(ctx); err != nil {
		return err
	}
	if err := c.writeProtos(ctx); err != nil {
		return err
	}
	_, err := c.tx.ExecContext(ctx,
		`UPDATE ingest_state SET cycles = ?, last_cycle_at = ?, active_connections = ? WHERE id = 1`,
		c.cycle, c.now, len(c.cache.rows))
	if err != nil {
		return fmt.Errorf("write ingest state: %w", err)
	}
	c.res.RowsWritten++
	return nil
}

// diff compares the snapshot's tuples with their cached rows and collects
// what to write and the per-host growth.
func (c *cycleWriter) diff() {
	c.protos = make(map[string]int)
	c.remotes = make(map[netip.Addr]*delta)
	c.locals = make(map[netip.Addr]*delta)
	for i := range c.snap {
		f := &c.snap[i]
		row := f.row
		var growth counters
		switch {
		case f.fresh || f.counters.wentDown(row.counters):
			if f.fresh {
				c.protos[f.flow.Proto]++
			}
			c.opens = append(c.opens, f)
			growth = f.counters
		case f.counters != row.counters || f.state != row.state || f.flags != row.flags:
			c.updates = append(c.updates, f)
			growth = counters{
				upBytes:   f.upBytes - row.upBytes,
				downBytes: f.downBytes - row.downBytes,
			}
		default:
			continue
		}
		remote := c.remotes[f.flow.DstIP]
		if remote == nil {
			remote = &delta{}
			c.remotes[f.flow.DstIP] = remote
		}
		remote.add(growth.upBytes, growth.downBytes)
		local := c.locals[f.flow.SrcIP]
		if local == nil {
			local = &delta{}
			c.locals[f.flow.SrcIP] = local
		}
		local.add(growth.upBytes, growth.downBytes)
	}
}

// sortedAddrs returns m's keys in address order, so that a cycle writes
// the same rows in the same order whatever Go's map order.
func sortedAddrs(m map[netip.Addr]*delta) []netip.Addr {
	out := make([]netip.Addr, 0, len(m))
	for a := range m {
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Less(out[j]) })
	return out
}

func (c *cycleWriter) writeRemotes(ctx context.Context) error {
	if len(c.remotes) == 0 {
		return nil
	}
	ins, err := c.tx.PrepareContext(ctx, `
		INSERT INTO remote_hosts (ip, first_seen_at, last_seen_at, uplink_bytes, downlink_bytes)
		VALUES (?, ?, ?, ?, ?) ON CONFLICT (ip) DO NOTHING`)
	if err != nil {
		return fmt.Errorf("prepare remote host insert: %w", err)
	}
	defer ins.Close()
	upd, err := c.tx.PrepareContext(ctx, `
		UPDATE remote_hosts
		SET last_seen_at = ?, uplink_bytes = uplink_bytes + ?, downlink_bytes = downlink_bytes + ?
		WHERE ip = ?`)
	if err != nil {
		return fmt.Errorf("prepare remote host update: %w", err)
	}
	defer upd.Close()
	for _, ip := range sortedAddrs(c.remotes) {
		d := c.remotes[ip]
		s := ip.String()
		r, err := ins.ExecContext(ctx, s, c.now, c.now, d.up, d.down)
		if err != nil {
			return fmt.Errorf("insert remote host %s: %w", s, err)
		}
		if n, err := r.RowsAffected(); err != nil {
			return fmt.Errorf("insert remote host %s: %w", s, err)
		} else if n == 1 {
			c.res.NewHosts++
			c.res.RowsWritten++
			continue
		}
		if _, err := upd.ExecContext(ctx, c.now, d.up, d.down, s); err != nil {
			return fmt.Errorf("update remote host %s: %w", s, err)
		}
		c.res.RowsWritten++
	}
	return nil
}

// connCols are the columns an opened flow sets, in the order openArgs
// gives them.
const connCols = `proto, src_ip, src_port, dst_ip, dst_port, state, flags,
	uplink_packets, uplink_bytes, downlink_packets, downlink_bytes, total_bytes,
	first_seen_at, last_seen_at`

// openArgs are the values of connCols for f opened at now.
func openArgs(f *snapFlow, now int64) []any {
	return []any{f.flow.Proto, f.srcText, f.flow.SrcPort, f.dstText, f.flow.DstPort, f.state, f.flags,
		f.upPackets, f.upBytes, f.downPackets, f.downBytes, addSat(f.upBytes, f.downBytes), now, now}
}

// writeOpens writes the flows that start this cycle. A tuple the cache
// holds (its counters went down) is reset in place by id. Any other is
// INSERTed; if a closed row of the tuple is kept as history, the UNIQUE
// index refuses the insert and that row is reopened instead (see
// migrations/0001_init.sql). Inserts go in tuple order, the unique index's
// order, which keeps its pages hot (cold 100k cycle: measurably faster).
func (c *cycleWriter) writeOpens(ctx context.Context) error {
	if len(c.opens) == 0 {
		return nil
	}
	for _, f := range c.opens {
		f.srcText, f.dstText = f.flow.SrcIP.String(), f.flow.DstIP.String()
	}
	sort.Slice(c.opens, func(i, j int) bool { return c.opens[i].less(c.opens[j]) })

	ins, err := c.tx.PrepareContext(ctx, `INSERT INTO connections (`+connCols+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
	if err != nil {
		return fmt.Errorf("prepare connection insert: %w", err)
	}
	defer ins.Close()
	// Both resets set every column of connCols but the tuple itself.
	const set = `state = ?6, flags = ?7, uplink_packets = ?8, uplink_bytes = ?9,
		downlink_packets = ?10, downlink_bytes = ?11, total_bytes = ?12,
		first_seen_at = ?13, last_seen_at = ?14, closed_at = NULL`
	reset, err := c.tx.PrepareContext(ctx, `UPDATE connections SET `+set+` WHERE id = ?15`)
	if err != nil {
		return fmt.Errorf("prepare connection reset: %w", err)
	}
	defer reset.Close()
	reopen, err := c.tx.PrepareContext(ctx, `UPDATE connections SET `+set+`
		WHERE proto = ?1 AND src_ip = ?2 AND src_port = ?3 AND dst_ip = ?4 AND dst_port = ?5
		RETURNING id`)
	if err != nil {
		return fmt.Errorf("prepare connection reopen: %w", err)
	}
	defer reopen.Close()

	for _, f := range c.opens {
		args := openArgs(f, c.now)
		var id int64
		if !f.fresh {
			id = f.row.id
			if _, err := reset.ExecContext(ctx, append(args, id)...); err != nil {
				return fmt.Errorf("restart connection %s: %w", f.key(), err)
			}
		} else if r, err := ins.ExecContext(ctx, args...); err == nil {
			if id, err = r.LastInsertId(); err != nil {
				return fmt.Errorf("insert connection %s: %w", f.key(), err)
			}
		} else if isUniqueViolation(err) {
			if err := reopen.QueryRowContext(ctx, args...).Scan(&id); err != nil {
				return fmt.Errorf("reopen connection %s: %w", f.key(), err)
			}
		} else {
			return fmt.Errorf("insert connection %s: %w", f.key(), err)
		}
		f.row.id, f.row.state, f.row.flags, f.row.counters = id, f.state, f.flags, f.counters
		c.res.Opened++
		c.res.RowsWritten++
	}
	return nil
}

// isUniqueViolation reports whether err is SQLite refusing a duplicate
// key. Only that statement is undone; the transaction goes on.
func isUniqueViolation(err error) bool {
	var se *sqlite.Error
	return errors.As(err, &se) && se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE
}

// less orders flows as the UNIQUE index orders their rows.
func (f *snapFlow) less(g *snapFlow) bool {
	switch {
	case f.flow.Proto != g.flow.Proto:
		return f.flow.Proto < g.flow.Proto
	case f.srcText != g.srcText:
		return f.srcText < g.srcText
	case f.flow.SrcPort != g.flow.SrcPort:
		return f.flow.SrcPort < g.flow.SrcPort
	case f.dstText != g.dstText:
		return f.dstText < g.dstText
	}
	return f.flow.DstPort < g.flow.DstPort
}

func (c *cycleWriter) writeUpdates(ctx context.Context) error {
	if len(c.updates) == 0 {
		return nil
	}
	st, err := c.tx.PrepareContext(ctx, `
		UPDATE connections SET state = ?, flags = ?,
			uplink_packets = ?, uplink_bytes = ?, downlink_packets = ?, downlink_bytes = ?,
			total_bytes = ?, last_seen_at = ?
		WHERE id = ?`)
	if err != nil {
		return fmt.Errorf("prepare connection update: %w", err)
	}
	defer st.Close()
	for _, f := range c.updates {
		row := f.row
		_, err := st.ExecContext(ctx, f.state, f.flags, f.upPackets, f.upBytes, f.downPackets, f.downBytes,
			addSat(f.upBytes, f.downBytes), c.now, row.id)
		if err != nil {
			return fmt.Errorf("update connection %s: %w", f.key(), err)
		}
		row.state, row.flags, row.counters = f.state, f.flags, f.counters
		c.res.Updated++
		c.res.RowsWritten++
	}
	return nil
}

// writeCloses closes the cached tuples this cycle's snapshot did not list.
func (c *cycleWriter) writeCloses(ctx context.Context) error {
	var gone []tupleKey
	for k, row := range c.cache.rows {
		if row.seen != c.cycle {
			gone = append(gone, k)
		}
	}
	if len(gone) == 0 {
		return nil
	}
	st, err := c.tx.PrepareContext(ctx, `UPDATE connections SET closed_at = ? WHERE id = ?`)
	if err != nil {
		return fmt.Errorf("prepare connection close: %w", err)
	}
	defer st.Close()
	for _, k := range gone {
		if _, err := st.ExecContext(ctx, c.now, c.cache.rows[k].id); err != nil {
			return fmt.Errorf("close connection %s: %w", k, err)
		}
		delete(c.cache.rows, k)
		c.protos[k.proto]--
		c.res.Closed++
		c.res.RowsWritten++
	}
	return nil
}

// prune deletes closed connections older than retention.
func (c *cycleWriter) prune(ctx context.Context, retention time.Duration) error {
	if retention <= 0 {
		return nil
	}
	r, err := c.tx.ExecContext(ctx,
		`DELETE FROM connections WHERE closed_at IS NOT NULL AND closed_at < ?`,
		c.now-retention.Milliseconds())
	if err != nil {
		return fmt.Errorf("prune connections: %w", err)
	}
	n, err := r.RowsAffected()
	if err != nil {
		return fmt.Errorf("prune connections: %w", err)
	}
	c.res.Pruned = int(n)
	c.res.RowsWritten += int(n)
	return nil
}

// writeLocals adds the cycle's growth to the LAN hosts' totals.
func (c *cycleWriter) writeLocals(ctx context.Context) error {
	if len(c.locals) == 0 {
		return nil
	}
	st, err := c.tx.PrepareContext(ctx, `
		INSERT INTO local_hosts (ip, uplink_bytes, downlink_bytes) VALUES (?, ?, ?)
		ON CONFLICT (ip) DO UPDATE SET
			uplink_bytes = uplink_bytes + excluded.uplink_bytes,
			downlink_bytes = downlink_bytes + excluded.downlink_bytes
		WHERE excluded.uplink_bytes > 0 OR excluded.downlink_bytes > 0`)
	if err != nil {
		return fmt.Errorf("prepare local host upsert: %w", err)
	}
	defer st.Close()
	for _, ip := range sortedAddrs(c.locals) {
		d := c.locals[ip]
		s := ip.String()
		r, err := st.ExecContext(ctx, s, d.up, d.down)
		if err != nil {
			return fmt.Errorf("write local host %s: %w", s, err)
		}
		n, err := r.RowsAffected()
		if err != nil {
			return fmt.Errorf("write local host %s: %w", s, err)
		}
		c.res.RowsWritten += int(n)
	}
	return nil
}

// writeProtos applies the cycle's change of the per-protocol active counts.
func (c *cycleWriter) writeProtos(ctx context.Context) error {
	names := make([]string, 0, len(c.protos))
	for p, d := range c.protos {
		if d != 0 {
			names = append(names, p)
		}
	}
	sort.Strings(names)
	for _, p := range names {
		_, err := c.tx.ExecContext(ctx, `
			INSERT INTO active_by_proto (proto, n) VALUES (?, ?)
			ON CONFLICT (proto) DO UPDATE SET n = n + excluded.n`, p, c.protos[p])
		if err != nil {
			return fmt.Errorf("count active %s connections: %w", p, err)
		}
		c.res.RowsWritten++
	}
	return nil
}

// String is the text form of a tuple, for error messages.
func (k tupleKey) String() string {
	return fmt.Sprintf("%s|%s|%d|%s|%d", k.proto, k.src, k.sport, k.dst, k.dport)
}

// saturate converts a kernel counter to SQLite's signed 64-bit integer,
// capping it instead of wrapping negative (no real counter gets there).
func saturate(v uint64) int64 {
	if v > math.MaxInt64 {
		return math.MaxInt64
	}
	return int64(v)
}

// addSat adds two non-negative int64s, capping at math.MaxInt64.
func addSat(a, b int64) int64 {
	if a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}
