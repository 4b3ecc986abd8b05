package store

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"iter"
	"math"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/netmon-dev/netmon/pkg/conntrack"
	"github.com/netmon-dev/netmon/pkg/flows"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Reconcile makes the database agree with one read of the outbound flows
// in ONE transaction (a reader sees all of a cycle or none of it), ranging
// over the read while the transaction is open: each entry is folded into
// the table of active flows as it arrives, so the read is never held
// whole. What opened, changed or closed is pkg/flows' rule (flows.Cycle.Diff);
// this writes it, and only it (routers run on flash):
//
//   - an Opened flow is inserted, or a closed row of its tuple kept as
//     history is reopened (see migrations/0001); a Restarted one is reset
//     in place; an Updated one gets its counters, state and flags and
//     last_seen_at = now; a Closed one gets closed_at = now;
//   - closed connections older than retention are pruned (<= 0 keeps them);
//   - remote_hosts (by destination) and local_hosts (by source) add the
//     delta's growth, so totals never go backwards nor count a byte twice;
//   - ingest_state records now as the last cycle, even when nothing changed;
//   - ingest_status gets the ingest counters, when RecordStatus set them.
//
// An error the sequence yields rolls back before anything was written and
// comes back unchanged; an entry the table cannot key fails the cycle with
// flows.ErrInvalid. Either way, and when a write fails, the table is left
// as it was. The returned delta is what the cycle changed, for the
// caller's other consumers; it is valid until the next cycle.
//
// Cycles of one DB are serialised; across processes SQLite's write lock
// (taken before the read starts) serialises them, and the table is
// reloaded when another process has reconciled in between.
func (db *Live) Reconcile(ctx context.Context, now time.Time, read iter.Seq2[*conntrack.Entry, error], retention time.Duration) (res CycleResult, delta *flows.Delta, err error) {
	db.mu.Lock()
	defer db.mu.Unlock()
	tx, err := db.sql.BeginTx(ctx, nil) // BEGIN IMMEDIATE: see dsn
	if err != nil {
		return res, nil, db.writeFailed(fmt.Errorf("begin cycle: %w", err))
	}
	// Until the commit, any way out (an error, or a panic in the read)
	// rolls back and leaves the table as it was. A write's error is
	// classified; the read's comes back unchanged.
	var (
		cyc       *flows.Cycle
		committed bool
		readErr   bool
	)
	defer func() {
		if committed {
			return
		}
		tx.Rollback() //nolint:errcheck // the cycle's error is the one to report
		if cyc != nil {
			cyc.Abort()
		}
		if err != nil && !readErr {
			err = db.writeFailed(err) // after the rollback has released the connection
		}
		res, delta = CycleResult{}, nil
	}()

	var cycles int64
	if err := tx.QueryRowContext(ctx, `SELECT cycles FROM ingest_state WHERE id = 1`).Scan(&cycles); err != nil {
		return res, nil, fmt.Errorf("read ingest state: %w", err)
	}
	if db.active == nil || db.cycles != cycles {
		db.active = nil
		if db.active, err = loadActive(ctx, tx); err != nil {
			return res, nil, err
		}
		db.cycles = cycles
	}
	cyc = db.active.Begin()
	if err := cyc.AddAll(read); err != nil {
		readErr = true
		if errors.Is(err, flows.ErrInvalid) {
			return res, nil, fmt.Errorf("reconcile: %w", err)
		}
		return res, nil, err
	}
	d := cyc.Diff()
	w := &cycleWriter{tx: tx, now: now.UnixMilli(), cycle: cycles + 1, d: d, res: &res}
	if err := w.run(ctx, retention); err != nil {
		return res, nil, err
	}
	if db.status != nil {
		if err := writeStatus(ctx, tx, db.status()); err != nil {
			return res, nil, err
		}
		res.RowsWritten++
	}
	if err := tx.Commit(); err != nil {
		return res, nil, fmt.Errorf("commit cycle: %w", err)
	}
	cyc.Commit()
	committed = true
	db.cycles = cycles + 1
	res.Opened, res.Updated, res.Closed = d.Len(flows.Opened), d.Len(flows.Updated), d.Len(flows.Closed)
	res.Duplicates = d.Duplicates
	return res, d, nil
}

// cycleWriter writes one cycle's delta inside its transaction.
type cycleWriter struct {
	tx    *sql.Tx
	now   int64
	cycle int64
	d     *flows.Delta
	res   *CycleResult

	protos  map[conntrack.Proto]int
	remotes hostSet // by destination
	locals  hostSet // by source
}

// host is one address's counter growth in a cycle.
type host struct {
	addr     netip.Addr
	text     string
	up, down int64
}

// hostSet sums growth by address. After sortByText, index maps an address
// to its position in text order, the order of the tables' TEXT keys.
type hostSet struct {
	index map[netip.Addr]int32
	list  []host
}

func (h *hostSet) add(a netip.Addr, up, down int64) {
	if h.index == nil {
		h.index = make(map[netip.Addr]int32)
	}
	i, ok := h.index[a]
	if !ok {
		i = int32(len(h.list))
		h.index[a] = i
		h.list = append(h.list, host{addr: a})
	}
	p := &h.list[i]
	p.up, p.down = addSat(p.up, up), addSat(p.down, down)
}

// sortByText writes in the order SQLite keeps the rows (text), which keeps
// the B-tree pages a cycle touches together, and so the same rows in the
// same order whatever Go's map order.
func (h *hostSet) sortByText() {
	for i := range h.list {
		h.list[i].text = h.list[i].addr.String()
	}
	slices.SortFunc(h.list, func(a, b host) int { return strings.Compare(a.text, b.text) })
	for i := range h.list {
		h.index[h.list[i].addr] = int32(i)
	}
}

func (c *cycleWriter) run(ctx context.Context, retention time.Duration) error {
	c.sumHosts()
	c.remotes.sortByText()
	c.locals.sortByText()
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
		c.cycle, c.now, c.d.Active())
	if err != nil {
		return fmt.Errorf("write ingest state: %w", err)
	}
	c.res.RowsWritten++
	return nil
}

// sumHosts adds up the byte growth of the cycle's flows per remote and
// per LAN host (a flow closed by its DESTROY grows too), and the change of
// the per-protocol counts (a flow recorded whole, or a late end, changes
// no count).
func (c *cycleWriter) sumHosts() {
	c.protos = make(map[conntrack.Proto]int)
	for ch := range c.d.All() {
		switch {
		case ch.Kind == flows.Opened && !ch.Restarted:
			c.protos[ch.Key.Proto]++
		case ch.Kind == flows.Closed && !ch.Whole && !ch.Late:
			c.protos[ch.Key.Proto]--
		}
		if ch.Kind == flows.Closed && ch.Growth == (conntrack.Counters{}) {
			continue
		}
		up, down := saturate(ch.Growth.UplinkBytes), saturate(ch.Growth.DownlinkBytes)
		c.remotes.add(ch.Key.Dst, up, down)
		c.locals.add(ch.Key.Src, up, down)
	}
}

func (c *cycleWriter) writeRemotes(ctx context.Context) error {
	if len(c.remotes.list) == 0 {
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
	for _, h := range c.remotes.list {
		r, err := ins.ExecContext(ctx, h.text, c.now, c.now, h.up, h.down)
		if err != nil {
			return fmt.Errorf("insert remote host %s: %w", h.text, err)
		}
		if n, err := r.RowsAffected(); err != nil {
			return fmt.Errorf("insert remote host %s: %w", h.text, err)
		} else if n == 1 {
			c.res.NewHosts++
			c.res.RowsWritten++
			continue
		}
		if _, err := upd.ExecContext(ctx, c.now, h.up, h.down, h.text); err != nil {
			return fmt.Errorf("update remote host %s: %w", h.text, err)
		}
		c.res.RowsWritten++
	}
	return nil
}

// connCols are the columns an opened flow sets, in the order of
// writeOpens' arguments.
const connCols = `proto, src_ip, src_port, dst_ip, dst_port, state, flags,
	uplink_packets, uplink_bytes, downlink_packets, downlink_bytes, total_bytes,
	first_seen_at, last_seen_at`

// openKey is an opened flow's place in the UNIQUE index's order:
// protocol text, then the addresses' ranks in text order, then the ports.
type openKey struct {
	i                int32 // position among the delta's Opened changes
	proto            conntrack.Proto
	srcRank, dstRank int32
	sport, dport     uint16
}

// writeOpens writes the flows that start this cycle. A Restarted one (its
// row is active, its counters went down) is reset in place by id. Any
// other is INSERTed; if a closed row of the tuple is kept as history, the
// UNIQUE index refuses the insert and that row is reopened instead (see
// migrations/0001_init.sql). The row's id goes back to the delta
// (SetRef) for later cycles. Rows go in the unique index's order, which
// keeps its pages hot: a cold 100k cycle in any other order spills dirty
// index pages to the WAL again and again.
func (c *cycleWriter) writeOpens(ctx context.Context) error {
	n := c.d.Len(flows.Opened)
	if n == 0 {
		return nil
	}
	order := make([]openKey, n)
	for i := range n {
		k := c.d.At(flows.Opened, i).Key
		order[i] = openKey{i: int32(i), proto: k.Proto, srcRank: c.locals.index[k.Src], dstRank: c.remotes.index[k.Dst], sport: k.SrcPort, dport: k.DstPort}
	}
	slices.SortFunc(order, func(a, b openKey) int {
		if a.proto != b.proto {
			return strings.Compare(a.proto.String(), b.proto.String())
		}
		return cmp.Or(cmp.Compare(a.srcRank, b.srcRank), cmp.Compare(a.sport, b.sport),
			cmp.Compare(a.dstRank, b.dstRank), cmp.Compare(a.dport, b.dport))
	})

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

	for _, o := range order {
		ch := c.d.At(flows.Opened, int(o.i))
		k, ctr := ch.Key, stored(ch.Counters)
		args := []any{k.Proto.String(), c.locals.list[o.srcRank].text, k.SrcPort, c.remotes.list[o.dstRank].text, k.DstPort,
			ch.State, ch.Status.String(), ctr.upPackets, ctr.upBytes, ctr.downPackets, ctr.downBytes,
			addSat(ctr.upBytes, ctr.downBytes), c.now, c.now}
		id := ch.Ref
		if ch.Restarted {
			if _, err := reset.ExecContext(ctx, append(args, id)...); err != nil {
				return fmt.Errorf("restart connection %s: %w", k, err)
			}
		} else if res, err := ins.ExecContext(ctx, args...); err == nil {
			if id, err = res.LastInsertId(); err != nil {
				return fmt.Errorf("insert connection %s: %w", k, err)
			}
		} else if isUniqueViolation(err) {
			if err := reopen.QueryRowContext(ctx, args...).Scan(&id); err != nil {
				return fmt.Errorf("reopen connection %s: %w", k, err)
			}
		} else {
			return fmt.Errorf("insert connection %s: %w", k, err)
		}
		c.d.SetRef(flows.Opened, int(o.i), id)
		c.res.RowsWritten++
	}
	return nil
}

func (c *cycleWriter) writeUpdates(ctx context.Context) error {
	if c.d.Len(flows.Updated) == 0 {
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
	for ch := range c.d.Each(flows.Updated) {
		ctr := stored(ch.Counters)
		_, err := st.ExecContext(ctx, ch.State, ch.Status.String(),
			ctr.upPackets, ctr.upBytes, ctr.downPackets, ctr.downBytes,
			addSat(ctr.upBytes, ctr.downBytes), c.now, ch.Ref)
		if err != nil {
			return fmt.Errorf("update connection %s: %w", ch.Key, err)
		}
		c.res.RowsWritten++
	}
	return nil
}

// writeCloses closes the flows the read did not list or their DESTROY
// ended, with their last counters. A flow recorded whole (Change.Whole) is
// inserted closed, or takes its tuple's closed row kept as history; when
// another flow holds the tuple's row, only the hosts' totals count it. A
// late end (Change.Late) completes the counters of the row its flow was
// closed in, while that row is still closed.
func (c *cycleWriter) writeCloses(ctx context.Context) error {
	if c.d.Len(flows.Closed) == 0 {
		return nil
	}
	const ctrs = `state = ?, flags = ?, uplink_packets = ?, uplink_bytes = ?,
		downlink_packets = ?, downlink_bytes = ?, total_bytes = ?`
	st, err := c.tx.PrepareContext(ctx, `UPDATE connections SET closed_at = ?, `+ctrs+` WHERE id = ?`)
	if err != nil {
		return fmt.Errorf("prepare connection close: %w", err)
	}
	defer st.Close()
	var whole, late *sql.Stmt
	for i := range c.d.Len(flows.Closed) {
		ch := c.d.At(flows.Closed, i)
		ctr := stored(ch.Counters)
		vals := []any{ch.State, ch.Status.String(), ctr.upPackets, ctr.upBytes, ctr.downPackets, ctr.downBytes, addSat(ctr.upBytes, ctr.downBytes)}
		switch {
		case ch.Whole:
			if whole == nil {
				if whole, err = c.tx.PrepareContext(ctx, `INSERT INTO connections (`+connCols+`, closed_at)
					VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
					ON CONFLICT (proto, src_ip, src_port, dst_ip, dst_port) DO UPDATE SET
						state = excluded.state, flags = excluded.flags,
						uplink_packets = excluded.uplink_packets, uplink_bytes = excluded.uplink_bytes,
						downlink_packets = excluded.downlink_packets, downlink_bytes = excluded.downlink_bytes,
						total_bytes = excluded.total_bytes, first_seen_at = excluded.first_seen_at,
						last_seen_at = excluded.last_seen_at, closed_at = excluded.closed_at
					WHERE closed_at IS NOT NULL
					RETURNING id`); err != nil {
					return fmt.Errorf("prepare whole connection insert: %w", err)
				}
				defer whole.Close()
			}
			k := ch.Key
			args := append([]any{k.Proto.String(), c.locals.list[c.locals.index[k.Src]].text, k.SrcPort,
				c.remotes.list[c.remotes.index[k.Dst]].text, k.DstPort}, vals...)
			var id int64
			switch err := whole.QueryRowContext(ctx, append(args, c.now, c.now, c.now)...).Scan(&id); {
			case errors.Is(err, sql.ErrNoRows):
				continue // the tuple's row is another flow's, active
			case err != nil:
				return fmt.Errorf("insert whole connection %s: %w", k, err)
			}
			c.d.SetRef(flows.Closed, i, id)
		case ch.Late:
			if late == nil {
				if late, err = c.tx.PrepareContext(ctx, `UPDATE connections SET `+ctrs+`
					WHERE id = ? AND closed_at IS NOT NULL`); err != nil {
					return fmt.Errorf("prepare late close: %w", err)
				}
				defer late.Close()
			}
			r, err := late.ExecContext(ctx, append(vals, ch.Ref)...)
			if err != nil {
				return fmt.Errorf("complete closed connection %s: %w", ch.Key, err)
			}
			if n, err := r.RowsAffected(); err != nil || n == 0 {
				continue // reopened by a newer flow since
			}
		default:
			if _, err := st.ExecContext(ctx, append(append([]any{c.now}, vals...), ch.Ref)...); err != nil {
				return fmt.Errorf("close connection %s: %w", ch.Key, err)
			}
		}
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

// isUniqueViolation reports whether err is SQLite refusing a duplicate
// key. Only that statement is undone; the transaction goes on.
func isUniqueViolation(err error) bool {
	var se *sqlite.Error
	return errors.As(err, &se) && se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE
}

// writeLocals adds the cycle's growth to the LAN hosts' totals.
func (c *cycleWriter) writeLocals(ctx context.Context) error {
	if len(c.locals.list) == 0 {
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
	for _, h := range c.locals.list {
		r, err := st.ExecContext(ctx, h.text, h.up, h.down)
		if err != nil {
			return fmt.Errorf("write local host %s: %w", h.text, err)
		}
		n, err := r.RowsAffected()
		if err != nil {
			return fmt.Errorf("write local host %s: %w", h.text, err)
		}
		c.res.RowsWritten += int(n)
	}
	return nil
}

// writeProtos applies the cycle's change of the per-protocol active counts.
func (c *cycleWriter) writeProtos(ctx context.Context) error {
	var names []string
	change := map[string]int{}
	for p, d := range c.protos {
		if d != 0 {
			names = append(names, p.String())
			change[p.String()] = d
		}
	}
	slices.Sort(names)
	for _, p := range names {
		_, err := c.tx.ExecContext(ctx, `
			INSERT INTO active_by_proto (proto, n) VALUES (?, ?)
			ON CONFLICT (proto) DO UPDATE SET n = n + excluded.n`, p, change[p])
		if err != nil {
			return fmt.Errorf("count active %s connections: %w", p, err)
		}
		c.res.RowsWritten++
	}
	return nil
}

// storedCounters are a flow's four counters as stored: int64, saturated.
type storedCounters struct {
	upPackets, upBytes, downPackets, downBytes int64
}

func stored(c conntrack.Counters) storedCounters {
	return storedCounters{saturate(c.UplinkPackets), saturate(c.UplinkBytes), saturate(c.DownlinkPackets), saturate(c.DownlinkBytes)}
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
