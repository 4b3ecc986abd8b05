package store

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"slices"
	"strings"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// ReadFunc reads one snapshot while a cycle is open, calling add once for
// each of its outbound flows, in any order. add copies what it keeps, so
// the Flow may be reused for the next call. A non-nil error aborts the
// cycle: nothing is written and Reconcile returns that error unchanged.
type ReadFunc func(add func(*Flow)) error

// Reconcile runs one cycle (see ReconcileFunc) over a snapshot already in
// memory. It never writes into flows.
func (db *DB) Reconcile(ctx context.Context, now time.Time, flows []Flow, retention time.Duration) (CycleResult, error) {
	return db.ReconcileFunc(ctx, now, func(add func(*Flow)) error {
		for i := range flows {
			add(&flows[i])
		}
		return nil
	}, retention)
}

// ReconcileFunc makes the database agree with one snapshot of the outbound
// flows, which read produces while the cycle's transaction is open, in ONE
// transaction (a reader sees all of a cycle or none of it):
//
//   - a tuple not active before is opened: inserted, or, if a closed row of
//     the same tuple is kept as history, that row is reopened (closed_at
//     NULL, first_seen_at now, counters restart: see migrations/0001);
//   - an active tuple whose counters went down is a new flow of the tuple:
//     reopened the same way;
//   - an active tuple whose counters, state or flags changed is updated,
//     last_seen_at = now; one that did not change is NOT written at all
//     (routers run on flash), so last_seen_at means "last change";
//   - an active tuple absent from the snapshot is closed (closed_at = now);
//     an empty snapshot closes everything;
//   - closed connections older than retention are pruned (retention <= 0
//     keeps them forever); hosts are never pruned;
//   - remote_hosts (by destination) and local_hosts (by source) add the
//     GROWTH of the counters: the new counters for an opened flow, new - old
//     for an updated one, so totals never go backwards and never count a
//     byte twice. A remote host's last_seen_at advances only when one of its
//     connections was opened or changed;
//   - ingest_state records now as the last cycle, even when nothing changed.
//
// The snapshot is never held whole: each flow is folded into the cache of
// active rows as read hands it over, so a cycle needs memory for the
// active connections (about 128 bytes each plus the index), not for the
// snapshot too. A failed read rolls the transaction back before anything
// was written and leaves the cache as it was.
//
// Duplicate tuples in one snapshot are merged by summing (see
// CycleResult.Duplicates). Times are stored as UTC unix milliseconds. A flow
// with an empty protocol or an invalid or zoned address fails the whole
// cycle, which then writes nothing.
//
// Only one cycle runs at a time per DB; across processes SQLite's write
// lock serialises cycles (taken before read is called, so a cycle's base
// cannot change under it) and the cache is reloaded when another process
// has reconciled in between.
func (db *DB) ReconcileFunc(ctx context.Context, now time.Time, read ReadFunc, retention time.Duration) (res CycleResult, err error) {
	db.mu.Lock()
	defer db.mu.Unlock()
	tx, err := db.sql.BeginTx(ctx, nil) // BEGIN IMMEDIATE: see dsn
	if err != nil {
		return res, db.writeFailed(fmt.Errorf("begin cycle: %w", err))
	}
	// Until the commit, any way out (an error, or a panic in read) rolls
	// back, and drops the cache unless it was restored (keepCache: read's
	// error or an invalid flow, returned as they are).
	committed, keepCache := false, false
	defer func() {
		if !committed {
			tx.Rollback() //nolint:errcheck // the cycle's error is the one to report
			if !keepCache {
				db.active = nil // the writes changed cached rows; the rollback undid them
				if err != nil {
					err = db.writeFailed(err) // after the rollback has released the connection
				}
			}
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
	db.active.epoch++
	c := &cycleWriter{
		tx: tx, now: now.UnixMilli(), cycle: cycles + 1, epoch: db.active.epoch,
		n0: db.active.rows.n, res: &res, cache: db.active,
	}
	if err := read(c.add); err != nil {
		c.undo()
		keepCache = true
		return res, err
	}
	if c.err != nil {
		c.undo()
		keepCache = true
		return res, fmt.Errorf("reconcile: %w", c.err)
	}
	if err := c.run(ctx, retention); err != nil {
		return res, err
	}
	if err := tx.Commit(); err != nil {
		return res, fmt.Errorf("commit cycle: %w", err)
	}
	committed = true
	db.active.cycles = c.cycle
	if len(db.active.words.text) > maxWords/2 {
		// Texts are never forgotten while the cache lives: start the next
		// cycle from the texts of the rows still active.
		db.active = nil
	}
	return res, nil
}

// cycleWriter holds one cycle's state inside its transaction.
type cycleWriter struct {
	tx    *sql.Tx
	now   int64
	cycle int64
	epoch uint64
	n0    int // rows cached before the cycle; rows from n0 on are new to it
	res   *CycleResult
	cache *activeCache
	flows int   // flows read has added
	err   error // the first invalid flow's

	opens   []int32 // rows to insert or restart, then in index order (see writeOpens)
	updates []int32
	gone    []int32 // rows the snapshot did not list, ascending
	protos  map[uint16]int
	remotes hostSet // by destination
	locals  hostSet // by source
}

// validate rejects a flow the database cannot key.
func validate(i int, f *Flow) error {
	if f.Proto == "" {
		return fmt.Errorf("flow %d: empty protocol", i)
	}
	if !f.SrcIP.IsValid() || !f.DstIP.IsValid() {
		return fmt.Errorf("flow %d (%s): invalid address", i, f.Proto)
	}
	if f.SrcIP.Zone() != "" || f.DstIP.Zone() != "" {
		return fmt.Errorf("flow %d (%s %s -> %s): zoned address", i, f.Proto, f.SrcIP, f.DstIP)
	}
	return nil
}

// add folds one flow of the snapshot into the cache: a tuple not cached
// gets a row at the end (id 0 until writeOpens inserts it), a cached one
// records what the snapshot says in its cur fields, and a tuple already
// seen this cycle is merged into what it said before.
//
// conntrack can list the same original tuple twice (in different zones):
// such entries are merged by SUMMING their counters; state and flags are
// those of the entry whose (state, flags) text sorts last. Both choices are
// independent of the order conntrack prints them in (hash order), so a
// merged tuple cannot flip between two entries from one cycle to the next
// and fake a counter drop or a state change.
func (c *cycleWriter) add(f *Flow) {
	if c.err != nil {
		return
	}
	n := c.flows
	c.flows++
	if err := validate(n, f); err != nil {
		c.err = err
		return
	}
	w := &c.cache.words
	proto, ok1 := w.id(f.Proto)
	state, ok2 := w.id(f.State)
	flags, ok3 := w.id(f.Flags)
	if !ok1 || !ok2 || !ok3 {
		c.err = fmt.Errorf("flow %d: more than %d distinct protocol, state and flags texts", n, maxWords)
		return
	}
	k := tupleKey{src: addrKey(f.SrcIP), dst: addrKey(f.DstIP), sport: f.SrcPort, dport: f.DstPort, proto: proto}
	if f.SrcIP.Is4() {
		k.v4 |= 1
	}
	if f.DstIP.Is4() {
		k.v4 |= 2
	}
	i := c.cache.lookup(k)
	if i < 0 {
		i = c.cache.insert(k)
	} else if r := c.cache.rows.at(i); r.epoch == c.epoch {
		r.cur = r.cur.add(countersOf(f))
		if s := w.text[r.curState]; f.State > s || (f.State == s && f.Flags > w.text[r.curFlags]) {
			r.curState, r.curFlags = state, flags
		}
		c.res.Duplicates++
		return
	}
	r := c.cache.rows.at(i)
	r.epoch, r.cur, r.curState, r.curFlags = c.epoch, countersOf(f), state, flags
}

// undo drops the rows this cycle added: after a failed read the cache is
// as it was (the seen marks of this epoch no longer matter).
func (c *cycleWriter) undo() {
	for i := c.cache.rows.n - 1; i >= c.n0; i-- {
		c.cache.remove(i)
	}
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
	c.diff()
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
		c.cycle, c.now, c.cache.len())
	if err != nil {
		return fmt.Errorf("write ingest state: %w", err)
	}
	c.res.RowsWritten++
	return nil
}

// diff compares what the snapshot said of each cached tuple with its
// stored row and collects what to write and the per-host growth.
func (c *cycleWriter) diff() {
	c.protos = make(map[uint16]int)
	rows := &c.cache.rows
	for i := range rows.n {
		r := rows.at(i)
		var growth counters
		switch {
		case r.epoch != c.epoch:
			c.gone = append(c.gone, int32(i))
			continue
		case i >= c.n0:
			c.protos[r.key.proto]++
			c.opens = append(c.opens, int32(i))
			growth = r.cur
		case r.cur.wentDown(r.stored):
			c.opens = append(c.opens, int32(i))
			growth = r.cur
		case r.cur != r.stored || r.curState != r.state || r.curFlags != r.flags:
			c.updates = append(c.updates, int32(i))
			growth = counters{
				upBytes:   r.cur.upBytes - r.stored.upBytes,
				downBytes: r.cur.downBytes - r.stored.downBytes,
			}
		default:
			continue
		}
		c.remotes.add(r.key.dstAddr(), growth.upBytes, growth.downBytes)
		c.locals.add(r.key.srcAddr(), growth.upBytes, growth.downBytes)
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

// openKey is an opened row's place in the UNIQUE index's order: protocol
// text, then the addresses' ranks in text order, then the ports.
type openKey struct {
	row              int32
	srcRank, dstRank int32
}

// writeOpens writes the flows that start this cycle. A tuple the cache
// held (its counters went down) is reset in place by id. Any other is
// INSERTed; if a closed row of the tuple is kept as history, the UNIQUE
// index refuses the insert and that row is reopened instead (see
// migrations/0001_init.sql). Rows go in the unique index's order, which
// keeps its pages hot: a cold 100k cycle in any other order spills dirty
// index pages to the WAL again and again.
func (c *cycleWriter) writeOpens(ctx context.Context) error {
	if len(c.opens) == 0 {
		return nil
	}
	rows, words := &c.cache.rows, c.cache.words.text
	order := make([]openKey, len(c.opens))
	for i, ri := range c.opens {
		k := &rows.at(int(ri)).key
		order[i] = openKey{row: ri, srcRank: c.locals.index[k.srcAddr()], dstRank: c.remotes.index[k.dstAddr()]}
	}
	c.opens = nil
	slices.SortFunc(order, func(a, b openKey) int {
		ka, kb := &rows.at(int(a.row)).key, &rows.at(int(b.row)).key
		if ka.proto != kb.proto {
			return strings.Compare(words[ka.proto], words[kb.proto])
		}
		return cmp.Or(cmp.Compare(a.srcRank, b.srcRank), cmp.Compare(ka.sport, kb.sport),
			cmp.Compare(a.dstRank, b.dstRank), cmp.Compare(ka.dport, kb.dport))
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
		r := rows.at(int(o.row))
		k := &r.key
		args := []any{words[k.proto], c.locals.list[o.srcRank].text, k.sport, c.remotes.list[o.dstRank].text, k.dport,
			words[r.curState], words[r.curFlags], r.cur.upPackets, r.cur.upBytes, r.cur.downPackets, r.cur.downBytes,
			addSat(r.cur.upBytes, r.cur.downBytes), c.now, c.now}
		id := r.id
		if int(o.row) < c.n0 {
			if _, err := reset.ExecContext(ctx, append(args, id)...); err != nil {
				return fmt.Errorf("restart connection %s: %w", c.cache.keyString(k), err)
			}
		} else if res, err := ins.ExecContext(ctx, args...); err == nil {
			if id, err = res.LastInsertId(); err != nil {
				return fmt.Errorf("insert connection %s: %w", c.cache.keyString(k), err)
			}
		} else if isUniqueViolation(err) {
			if err := reopen.QueryRowContext(ctx, args...).Scan(&id); err != nil {
				return fmt.Errorf("reopen connection %s: %w", c.cache.keyString(k), err)
			}
		} else {
			return fmt.Errorf("insert connection %s: %w", c.cache.keyString(k), err)
		}
		r.id, r.stored, r.state, r.flags = id, r.cur, r.curState, r.curFlags
		c.res.Opened++
		c.res.RowsWritten++
	}
	return nil
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
	words := c.cache.words.text
	for _, ri := range c.updates {
		r := c.cache.rows.at(int(ri))
		_, err := st.ExecContext(ctx, words[r.curState], words[r.curFlags],
			r.cur.upPackets, r.cur.upBytes, r.cur.downPackets, r.cur.downBytes,
			addSat(r.cur.upBytes, r.cur.downBytes), c.now, r.id)
		if err != nil {
			return fmt.Errorf("update connection %s: %w", c.cache.keyString(&r.key), err)
		}
		r.stored, r.state, r.flags = r.cur, r.curState, r.curFlags
		c.res.Updated++
		c.res.RowsWritten++
	}
	return nil
}

// writeCloses closes the cached tuples this cycle's snapshot did not list
// and drops them from the cache, last first: remove moves the last row
// into the freed place, and every row after a gone one is kept by then.
func (c *cycleWriter) writeCloses(ctx context.Context) error {
	if len(c.gone) == 0 {
		return nil
	}
	st, err := c.tx.PrepareContext(ctx, `UPDATE connections SET closed_at = ? WHERE id = ?`)
	if err != nil {
		return fmt.Errorf("prepare connection close: %w", err)
	}
	defer st.Close()
	for _, ri := range slices.Backward(c.gone) {
		r := c.cache.rows.at(int(ri))
		if _, err := st.ExecContext(ctx, c.now, r.id); err != nil {
			return fmt.Errorf("close connection %s: %w", c.cache.keyString(&r.key), err)
		}
		c.protos[r.key.proto]--
		c.cache.remove(int(ri))
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
	words := c.cache.words.text
	var names []string
	change := map[string]int{}
	for p, d := range c.protos {
		if d != 0 {
			names = append(names, words[p])
			change[words[p]] = d
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
