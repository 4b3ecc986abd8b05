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

	"github.com/netmon-dev/netmon/pkg/device"
	"github.com/netmon-dev/netmon/pkg/history"
)

// PairsPerDay is how many remote hosts a device keeps by name per day;
// the rest of its traffic that day is summed in remote_id 0, "other".
const PairsPerDay = 50

// CommitResult counts what a commit wrote.
type CommitResult struct {
	Rows   int // rows inserted, updated or deleted
	Pruned int // rows deleted for being older than the retention
}

// Commit writes a batch of growth in ONE transaction: a crash leaves the
// record as the last commit left it, never half a batch. It adds the
// growth to every bucket the batch names and to the devices' lifetime
// totals, records devices, their addresses and new remote hosts, keeps
// each device's top PairsPerDay remote hosts per day (a remote host that
// would make the day's list longer displaces the smallest into "other" only
// if it moved more), and, at most every 6 hours, prunes buckets older than
// info.Retention. It also records what info says of devices (names,
// vendors, addresses, merges of "ip:" devices into MAC devices) and of
// remote hosts' names. info.BootID is stored for the restart rule (see
// RecordState). A commit with nothing to write writes nothing at all. On
// error nothing was written: the caller keeps the batch and commits it
// with the next one.
func (r *Record) Commit(ctx context.Context, now time.Time, b *history.Batch, info CommitInfo) (res CommitResult, err error) {
	if (b == nil || b.Empty()) && len(info.Merges) == 0 && !r.devicesChanged(info.Devices) {
		return res, nil
	}
	if b == nil {
		b = &history.Batch{}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	tx, err := r.sql.BeginTx(ctx, nil)
	if err != nil {
		return res, r.writeFailed(fmt.Errorf("begin commit: %w", err))
	}
	committed := false
	defer func() {
		if !committed {
			tx.Rollback()                   //nolint:errcheck // the commit's error is the one to report
			r.devices, r.remotes = nil, nil // ids of rolled-back inserts are not ids
			res = CommitResult{}
			err = r.writeFailed(err)
		}
	}()
	w := &committer{r: r, tx: tx, res: &res}
	if err := w.run(ctx, now, b, info); err != nil {
		return res, err
	}
	if err := tx.Commit(); err != nil {
		return res, fmt.Errorf("commit record: %w", err)
	}
	committed = true
	if r.written == nil {
		r.written = map[device.ID]string{}
	}
	for id, fp := range w.written {
		r.written[id] = fp
	}
	for _, id := range w.forgot {
		delete(r.written, id)
	}
	return res, nil
}

// committer is one commit's state inside its transaction.
type committer struct {
	r   *Record
	tx  *sql.Tx
	res *CommitResult
	// written and forgot are the devices' fingerprints this commit wrote
	// and the devices it merged away: Record.written once it commits.
	written map[device.ID]string
	forgot  []device.ID
}

func (w *committer) run(ctx context.Context, now time.Time, b *history.Batch, info CommitInfo) error {
	if err := w.devices(ctx, b); err != nil {
		return err
	}
	if err := w.deviceInfo(ctx, info.Devices); err != nil {
		return err
	}
	if err := w.remotes(ctx, b); err != nil {
		return err
	}
	if err := w.deviceUsage(ctx, b); err != nil {
		return err
	}
	if err := w.upsertAll(ctx, "remote_usage", "start, remote_id", len(b.Remotes), func(yield func([]any, history.Usage) bool) {
		for k, u := range b.Remotes {
			if !yield([]any{k.Start, w.r.remotes[k.Remote]}, u) {
				return
			}
		}
	}); err != nil {
		return fmt.Errorf("write remote usage: %w", err)
	}
	if err := w.pairs(ctx, b); err != nil {
		return err
	}
	if err := w.upsertAll(ctx, "service_usage", "start, device_id, service", len(b.Services), func(yield func([]any, history.Usage) bool) {
		for k, u := range b.Services {
			if !yield([]any{k.Start, w.r.devices[k.Device], int(k.Service)}, u) {
				return
			}
		}
	}); err != nil {
		return fmt.Errorf("write service usage: %w", err)
	}
	if err := w.remoteNames(ctx, info.RemoteNames); err != nil {
		return err
	}
	if err := w.merge(ctx, info.Merges); err != nil {
		return err
	}
	if err := w.prune(ctx, now, info.Retention); err != nil {
		return err
	}
	_, err := w.tx.ExecContext(ctx, `UPDATE record_state SET commits = commits + 1, last_commit_at = ?, boot_id = ? WHERE id = 1`,
		now.UnixMilli(), info.BootID)
	if err != nil {
		return fmt.Errorf("write record state: %w", err)
	}
	w.res.Rows++
	return nil
}

// devices records every device of the batch (its times, its lifetime
// totals, its addresses) and fills the id cache.
func (w *committer) devices(ctx context.Context, b *history.Batch) error {
	if w.r.devices == nil {
		w.r.devices = map[string]int64{}
	}
	names := make([]string, 0, len(b.Seen))
	for d := range b.Seen {
		names = append(names, d)
	}
	for d := range b.Totals {
		if _, ok := b.Seen[d]; !ok {
			names = append(names, d)
		}
	}
	slices.Sort(names)
	st, err := w.tx.PrepareContext(ctx, `
		INSERT INTO devices (device, first_seen_at, last_seen_at, `+usageCols+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (device) DO UPDATE SET
			first_seen_at = min(first_seen_at, excluded.first_seen_at),
			last_seen_at = max(last_seen_at, excluded.last_seen_at),
			uplink_bytes = uplink_bytes + excluded.uplink_bytes,
			downlink_bytes = downlink_bytes + excluded.downlink_bytes,
			uplink_packets = uplink_packets + excluded.uplink_packets,
			downlink_packets = downlink_packets + excluded.downlink_packets,
			connections = connections + excluded.connections
		RETURNING id`)
	if err != nil {
		return fmt.Errorf("prepare device upsert: %w", err)
	}
	defer st.Close()
	for _, d := range names {
		seen := b.Seen[d]
		args := append([]any{d, seen.First.UnixMilli(), seen.Last.UnixMilli()}, usageArgs(b.Totals[d])...)
		var id int64
		if err := st.QueryRowContext(ctx, args...).Scan(&id); err != nil {
			return fmt.Errorf("write device %s: %w", d, err)
		}
		w.r.devices[d] = id
		w.res.Rows++
	}
	addrs, err := w.tx.PrepareContext(ctx, `
		INSERT INTO device_addrs (device_id, addr, last_seen_at) VALUES (?, ?, ?)
		ON CONFLICT (device_id, addr) DO UPDATE SET last_seen_at = max(last_seen_at, excluded.last_seen_at)`)
	if err != nil {
		return fmt.Errorf("prepare device address upsert: %w", err)
	}
	defer addrs.Close()
	for k, t := range b.Addrs {
		if _, err := addrs.ExecContext(ctx, w.r.devices[k.Device], k.Addr.String(), t.UnixMilli()); err != nil {
			return fmt.Errorf("write address %s of device %s: %w", k.Addr, k.Device, err)
		}
		w.res.Rows++
	}
	return nil
}

// remotes makes sure every remote host of the batch has a row, inserting
// the new ones at the end of the table, and fills the id cache.
func (w *committer) remotes(ctx context.Context, b *history.Batch) error {
	if w.r.remotes == nil || len(w.r.remotes) > remoteCache {
		w.r.remotes = map[netip.Addr]int64{}
	}
	var need []netip.Addr
	for a := range b.RemoteSeen {
		need = append(need, a)
	}
	for k := range b.Remotes {
		if _, ok := b.RemoteSeen[k.Remote]; !ok {
			need = append(need, k.Remote)
		}
	}
	slices.SortFunc(need, func(x, y netip.Addr) int {
		return cmp.Compare(b.RemoteSeen[x].UnixMilli(), b.RemoteSeen[y].UnixMilli())
	})
	find, err := w.tx.PrepareContext(ctx, `SELECT id FROM remotes WHERE ip = ?`)
	if err != nil {
		return fmt.Errorf("prepare remote lookup: %w", err)
	}
	defer find.Close()
	ins, err := w.tx.PrepareContext(ctx, `INSERT INTO remotes (ip, first_seen_at) VALUES (?, ?) RETURNING id`)
	if err != nil {
		return fmt.Errorf("prepare remote insert: %w", err)
	}
	defer ins.Close()
	for _, a := range need {
		if _, ok := w.r.remotes[a]; ok {
			continue
		}
		var id int64
		err := find.QueryRowContext(ctx, a.String()).Scan(&id)
		if err == sql.ErrNoRows {
			first := b.RemoteSeen[a]
			err = ins.QueryRowContext(ctx, a.String(), first.UnixMilli()).Scan(&id)
			w.res.Rows++
		}
		if err != nil {
			return fmt.Errorf("write remote host %s: %w", a, err)
		}
		w.r.remotes[a] = id
	}
	return nil
}

func (w *committer) deviceUsage(ctx context.Context, b *history.Batch) error {
	err := w.upsertAll(ctx, "device_usage", "res, start, device_id", len(b.Devices), func(yield func([]any, history.Usage) bool) {
		for k, u := range b.Devices {
			if !yield([]any{int(k.Res), k.Start, w.r.devices[k.Device]}, u) {
				return
			}
		}
	})
	if err != nil {
		return fmt.Errorf("write device usage: %w", err)
	}
	return nil
}

// upsertAll adds growth to the rows of table named by the key columns
// keyCols, inserting the missing ones: one statement per upsertChunk rows,
// since a statement's round trip through database/sql costs more than the
// row itself. Keys must be distinct (they come from a map).
func (w *committer) upsertAll(ctx context.Context, table, keyCols string, n int, rows func(yield func([]any, history.Usage) bool)) error {
	if n == 0 {
		return nil
	}
	nkey := strings.Count(keyCols, ",") + 1
	stmts := map[int]*sql.Stmt{}
	defer func() {
		for _, st := range stmts {
			st.Close()
		}
	}()
	stmt := func(k int) (*sql.Stmt, error) {
		if st, ok := stmts[k]; ok {
			return st, nil
		}
		tuple := "(" + strings.TrimSuffix(strings.Repeat("?, ", nkey+5), ", ") + ")"
		q := `INSERT INTO ` + table + ` (` + keyCols + `, ` + usageCols + `) VALUES ` +
			strings.TrimSuffix(strings.Repeat(tuple+", ", k), ", ") + ` ON CONFLICT (` + keyCols + `)` + usageAdd
		st, err := w.tx.PrepareContext(ctx, q)
		if err == nil {
			stmts[k] = st
		}
		return st, err
	}
	args := make([]any, 0, upsertChunk*(nkey+5))
	flush := func() error {
		k := len(args) / (nkey + 5)
		if k == 0 {
			return nil
		}
		st, err := stmt(k)
		if err == nil {
			_, err = st.ExecContext(ctx, args...)
		}
		w.res.Rows += k
		args = args[:0]
		return err
	}
	var err error
	rows(func(key []any, u history.Usage) bool {
		args = append(append(args, key...), usageArgs(u)...)
		if len(args) == upsertChunk*(nkey+5) {
			err = flush()
		}
		return err == nil
	})
	if err == nil {
		err = flush()
	}
	return err
}

// upsertChunk is how many rows one upsert statement carries (SQLite allows
// 32,766 parameters; 64 rows of 8 stay far below).
const upsertChunk = 64

// pairRow is a stored pair's remote and total bytes, for the top list.
type pairRow struct {
	remote int64
	total  uint64
}

// pairs writes each device's days with its remote hosts, keeping at most
// PairsPerDay remote hosts per device and day: it decides in memory which
// remote hosts keep their names, folds the displaced ones' stored rows
// into "other" (rare), then adds the growth in bulk.
func (w *committer) pairs(ctx context.Context, b *history.Batch) error {
	type dest struct{ start, dev, rem int64 }
	byDay := map[int64][]history.PairKey{}
	for k := range b.Pairs {
		byDay[k.Start] = append(byDay[k.Start], k)
	}
	growth := map[dest]history.Usage{}
	for start, keys := range byDay {
		stored, err := w.storedPairs(ctx, start)
		if err != nil {
			return err
		}
		// The biggest growth first, so that it is the one that gets in.
		slices.SortFunc(keys, func(x, y history.PairKey) int {
			return cmp.Compare(b.Pairs[y].TotalBytes(), b.Pairs[x].TotalBytes())
		})
		for _, k := range keys {
			u := b.Pairs[k]
			dev, rem := w.r.devices[k.Device], w.r.remotes[k.Remote]
			list := stored[dev]
			i := slices.IndexFunc(list, func(p pairRow) bool { return p.remote == rem })
			switch {
			case i >= 0:
				list[i].total += u.TotalBytes()
			case len(list) < PairsPerDay:
				list = append(list, pairRow{rem, u.TotalBytes()})
			default:
				small := 0
				for j := range list {
					if list[j].total < list[small].total {
						small = j
					}
				}
				if u.TotalBytes() <= list[small].total {
					rem = 0 // into "other"
					break
				}
				if err := w.foldIntoOther(ctx, start, dev, list[small].remote); err != nil {
					return err
				}
				if g, ok := growth[dest{start, dev, list[small].remote}]; ok {
					delete(growth, dest{start, dev, list[small].remote})
					o := growth[dest{start, dev, 0}]
					o.Add(g)
					growth[dest{start, dev, 0}] = o
				}
				list[small] = pairRow{rem, u.TotalBytes()}
			}
			stored[dev] = list
			g := growth[dest{start, dev, rem}]
			g.Add(u)
			growth[dest{start, dev, rem}] = g
		}
	}
	err := w.upsertAll(ctx, "pair_usage", "start, device_id, remote_id", len(growth), func(yield func([]any, history.Usage) bool) {
		for d, u := range growth {
			if !yield([]any{d.start, d.dev, d.rem}, u) {
				return
			}
		}
	})
	if err != nil {
		return fmt.Errorf("write device and remote host days: %w", err)
	}
	return nil
}

// foldIntoOther moves a stored pair's traffic into its device's "other"
// for the day and deletes it.
func (w *committer) foldIntoOther(ctx context.Context, start, dev, rem int64) error {
	_, err := w.tx.ExecContext(ctx, `INSERT INTO pair_usage (start, device_id, remote_id, `+usageCols+`)
		SELECT start, device_id, 0, `+usageCols+` FROM pair_usage WHERE start = ?1 AND device_id = ?2 AND remote_id = ?3
		ON CONFLICT (start, device_id, remote_id)`+usageAdd, start, dev, rem)
	if err == nil {
		_, err = w.tx.ExecContext(ctx, `DELETE FROM pair_usage WHERE start = ? AND device_id = ? AND remote_id = ?`, start, dev, rem)
	}
	if err != nil {
		return fmt.Errorf("fold a remote host into other: %w", err)
	}
	w.res.Rows += 2
	return nil
}

// storedPairs reads the named remote hosts of every device on one day.
func (w *committer) storedPairs(ctx context.Context, start int64) (map[int64][]pairRow, error) {
	rows, err := w.tx.QueryContext(ctx, `SELECT device_id, remote_id, uplink_bytes + downlink_bytes
		FROM pair_usage WHERE start = ? AND remote_id != 0`, start)
	if err != nil {
		return nil, fmt.Errorf("read the day's remote hosts: %w", err)
	}
	defer rows.Close()
	out := map[int64][]pairRow{}
	for rows.Next() {
		var (
			dev int64
			p   pairRow
		)
		if err := rows.Scan(&dev, &p.remote, (*counter)(&p.total)); err != nil {
			return nil, fmt.Errorf("read the day's remote hosts: %w", err)
		}
		out[dev] = append(out[dev], p)
	}
	return out, rows.Err()
}

// pruneEvery is how often a commit deletes what is past the retention:
// deleting is a write too, and once in a few hours is timely enough.
const pruneEvery = 6 * time.Hour

// prune deletes buckets older than ret, at most every pruneEvery.
func (w *committer) prune(ctx context.Context, now time.Time, ret Retention) error {
	var last int64
	if err := w.tx.QueryRowContext(ctx, `SELECT pruned_at FROM record_state WHERE id = 1`).Scan(&last); err != nil {
		return fmt.Errorf("read record state: %w", err)
	}
	if now.Sub(fromMillis(last)) < pruneEvery {
		return nil
	}
	type del struct {
		q   string
		arg []any
	}
	var dels []del
	for _, r := range history.Resolutions {
		if d := ret.Device[r]; d > 0 {
			dels = append(dels, del{`DELETE FROM device_usage WHERE res = ? AND start < ?`, []any{int(r), now.Add(-d).Unix()}})
		}
	}
	if d := ret.Remote; d > 0 {
		dels = append(dels, del{`DELETE FROM remote_usage WHERE start < ?`, []any{now.Add(-d).Unix()}})
	}
	if d := ret.Pair; d > 0 {
		dels = append(dels, del{`DELETE FROM pair_usage WHERE start < ?`, []any{now.Add(-d).Unix()}},
			del{`DELETE FROM service_usage WHERE start < ?`, []any{now.Add(-d).Unix()}})
	}
	if d := max(ret.Remote, ret.Pair); ret.Remote > 0 && ret.Pair > 0 {
		// A remote host no bucket mentions any more, and that holds no
		// totals from before history began, is forgotten.
		dels = append(dels, del{`DELETE FROM remotes WHERE first_seen_at < ? AND base_uplink_bytes = 0 AND base_downlink_bytes = 0
			AND id NOT IN (SELECT remote_id FROM remote_usage) AND id NOT IN (SELECT remote_id FROM pair_usage)`,
			[]any{now.Add(-d).UnixMilli()}})
	}
	for _, d := range dels {
		r, err := w.tx.ExecContext(ctx, d.q, d.arg...)
		if err != nil {
			return fmt.Errorf("prune: %w", err)
		}
		n, _ := r.RowsAffected()
		w.res.Pruned += int(n)
		w.res.Rows += int(n)
	}
	if w.res.Pruned > 0 {
		w.r.remotes = nil // it may hold ids of remote hosts just forgotten
	}
	if _, err := w.tx.ExecContext(ctx, `UPDATE record_state SET pruned_at = ? WHERE id = 1`, now.UnixMilli()); err != nil {
		return fmt.Errorf("write record state: %w", err)
	}
	return nil
}
