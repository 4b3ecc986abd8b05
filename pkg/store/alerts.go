package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/netmon-dev/netmon/pkg/alert"
)

// The alert outbox and the alert rules' memory (migrations/record/0004):
// *Record implements alert.Store and alert.Outbox. Every method is one
// small transaction of its own, apart from the commits: alerts are rare,
// and each must be durable before a sink sees it.

// Outbox retention: an alert no delivery waits for any more is kept for
// alertKeep, and at most alertMax alerts are kept in all.
const (
	alertKeep = 90 * 24 * time.Hour
	alertMax  = 10000
)

// Memory returns everything the alert rules remember.
func (r *Record) Memory(ctx context.Context) ([]alert.Memory, error) {
	rows, err := r.sql.QueryContext(ctx, `SELECT kind, key, at FROM alert_memory`)
	if err != nil {
		return nil, r.readFailed(fmt.Errorf("read alert memory: %w", err))
	}
	defer rows.Close()
	var out []alert.Memory
	for rows.Next() {
		var (
			m  alert.Memory
			at int64
		)
		if err := rows.Scan(&m.Kind, &m.Key, &at); err != nil {
			return nil, fmt.Errorf("read alert memory: %w", err)
		}
		m.At = fromMillis(at)
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, r.readFailed(fmt.Errorf("read alert memory: %w", err))
	}
	return out, nil
}

// Save writes ch in one transaction: each alert whose id is new with a
// pending delivery to each of its sinks, due at now (an alert stored
// before is left as it is), what to remember and what to forget. When it
// stored alerts it also prunes the outbox (see alertKeep).
func (r *Record) Save(ctx context.Context, now time.Time, ch alert.Changes) error {
	return r.alertTx(ctx, "save alerts", func(tx *sql.Tx) error {
		for _, o := range ch.Alerts {
			if _, err := insertAlert(ctx, tx, o.Alert, o.Sinks, now); err != nil {
				return err
			}
		}
		for _, m := range ch.Remember {
			if _, err := tx.ExecContext(ctx, `INSERT INTO alert_memory (kind, key, at) VALUES (?, ?, ?)
				ON CONFLICT (kind, key) DO UPDATE SET at = excluded.at`, string(m.Kind), m.Key, m.At.UnixMilli()); err != nil {
				return fmt.Errorf("remember %s %s: %w", m.Kind, m.Key, err)
			}
		}
		for _, m := range ch.Forget {
			if _, err := tx.ExecContext(ctx, `DELETE FROM alert_memory WHERE kind = ? AND key = ?`, string(m.Kind), m.Key); err != nil {
				return fmt.Errorf("forget %s %s: %w", m.Kind, m.Key, err)
			}
		}
		if len(ch.Alerts) == 0 {
			return nil
		}
		return pruneAlerts(ctx, tx, now)
	})
}

// insertAlert stores a with a pending delivery per sink, due at now,
// unless its id is stored; it reports whether it was new.
func insertAlert(ctx context.Context, tx *sql.Tx, a alert.Alert, sinks []string, now time.Time) (bool, error) {
	payload, err := json.Marshal(a)
	if err != nil {
		return false, fmt.Errorf("encode alert %s: %w", a.ID, err)
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO alerts (id, kind, created_at, payload) VALUES (?, ?, ?, ?)
		ON CONFLICT (id) DO NOTHING`, a.ID, string(a.Kind), now.UnixMilli(), string(payload))
	if err != nil {
		return false, fmt.Errorf("write alert %s: %w", a.ID, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return false, nil
	}
	for _, s := range sinks {
		if _, err := tx.ExecContext(ctx, `INSERT INTO alert_deliveries (alert_id, sink, state, next_at) VALUES (?, ?, 'pending', ?)
			ON CONFLICT (alert_id, sink) DO NOTHING`, a.ID, s, now.UnixMilli()); err != nil {
			return false, fmt.Errorf("write delivery of alert %s to %s: %w", a.ID, s, err)
		}
	}
	return true, nil
}

// pruneAlerts deletes the alerts no delivery waits for that are older
// than alertKeep or beyond the newest alertMax.
func pruneAlerts(ctx context.Context, tx *sql.Tx, now time.Time) error {
	_, err := tx.ExecContext(ctx, `DELETE FROM alerts
		WHERE (created_at < ?1 OR id NOT IN (SELECT id FROM alerts ORDER BY created_at DESC LIMIT ?2))
		AND id NOT IN (SELECT alert_id FROM alert_deliveries WHERE state = 'pending')`,
		now.Add(-alertKeep).UnixMilli(), alertMax)
	if err != nil {
		return fmt.Errorf("prune alerts: %w", err)
	}
	return nil
}

// alertTx runs fn in a write transaction, classifying its error.
func (r *Record) alertTx(ctx context.Context, what string, fn func(*sql.Tx) error) error {
	tx, err := r.sql.BeginTx(ctx, nil)
	if err != nil {
		return r.writeFailed(fmt.Errorf("%s: begin: %w", what, err))
	}
	if err := fn(tx); err != nil {
		tx.Rollback() //nolint:errcheck // fn's error is the one to report
		return r.writeFailed(fmt.Errorf("%s: %w", what, err))
	}
	if err := tx.Commit(); err != nil {
		return r.writeFailed(fmt.Errorf("%s: commit: %w", what, err))
	}
	return nil
}

// Due returns at most limit pending deliveries to sink whose next attempt
// is at or before now, oldest alert first.
func (r *Record) Due(ctx context.Context, sink string, now time.Time, limit int) ([]alert.Due, error) {
	rows, err := r.sql.QueryContext(ctx, `SELECT a.payload, a.created_at, d.attempts
		FROM alert_deliveries d JOIN alerts a ON a.id = d.alert_id
		WHERE d.sink = ? AND d.state = 'pending' AND d.next_at <= ?
		ORDER BY a.created_at, a.id LIMIT ?`, sink, now.UnixMilli(), limit)
	if err != nil {
		return nil, r.readFailed(fmt.Errorf("read due alerts: %w", err))
	}
	defer rows.Close()
	var out []alert.Due
	for rows.Next() {
		var (
			payload string
			created int64
			u       = alert.Due{Sink: sink}
		)
		if err := rows.Scan(&payload, &created, &u.Attempts); err != nil {
			return nil, fmt.Errorf("read due alerts: %w", err)
		}
		if err := json.Unmarshal([]byte(payload), &u.Alert); err != nil {
			return nil, fmt.Errorf("read due alerts: decode: %w", err)
		}
		u.Created = fromMillis(created)
		out = append(out, u)
	}
	if err := rows.Err(); err != nil {
		return nil, r.readFailed(fmt.Errorf("read due alerts: %w", err))
	}
	return out, nil
}

// NextDue returns the earliest next attempt of a pending delivery to
// sink, and false when there is none.
func (r *Record) NextDue(ctx context.Context, sink string) (time.Time, bool, error) {
	var next sql.NullInt64
	err := r.sql.QueryRowContext(ctx, `SELECT min(next_at) FROM alert_deliveries WHERE sink = ? AND state = 'pending'`, sink).Scan(&next)
	if err != nil {
		return time.Time{}, false, r.readFailed(fmt.Errorf("read next alert: %w", err))
	}
	if !next.Valid {
		return time.Time{}, false, nil
	}
	return fromMillis(next.Int64), true, nil
}

// Delivered records that sink accepted alert id at at.
func (r *Record) Delivered(ctx context.Context, id, sink string, at time.Time) error {
	return r.attempted(ctx, id, sink, alert.OutcomeDelivered, `state = 'delivered', next_at = NULL, sent_at = ?3, last_error = ''`, at, nil)
}

// Retry records a failed attempt at at and the next one at next.
func (r *Record) Retry(ctx context.Context, id, sink string, at, next time.Time, msg string) error {
	return r.attempted(ctx, id, sink, alert.OutcomeRetried, `next_at = ?4, last_error = ?5`, at, []any{next.UnixMilli(), msg})
}

// GiveUp records a failed attempt at at after which no other follows.
func (r *Record) GiveUp(ctx context.Context, id, sink string, at time.Time, msg string) error {
	return r.attempted(ctx, id, sink, alert.OutcomeFailed, `state = 'failed', next_at = NULL, last_error = ?4`, at, []any{msg})
}

// attempted records an attempt of a pending delivery (?1 the alert, ?2
// the sink, ?3 the time, then more) with set, and counts its outcome.
// A delivery no longer pending (another attempt recorded it) is left
// alone and not counted.
func (r *Record) attempted(ctx context.Context, id, sink string, o alert.Outcome, set string, at time.Time, more []any) error {
	return r.alertTx(ctx, "record alert delivery", func(tx *sql.Tx) error {
		args := append([]any{id, sink, at.UnixMilli()}, more...)
		res, err := tx.ExecContext(ctx, `UPDATE alert_deliveries SET attempts = attempts + 1, last_at = ?3, `+set+`
			WHERE alert_id = ?1 AND sink = ?2 AND state = 'pending'`, args...)
		if err != nil {
			return fmt.Errorf("alert %s to %s: %w", id, sink, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil
		}
		return countOutcome(ctx, tx, sink, o, `SELECT kind FROM alerts WHERE id = ?`, id)
	})
}

// countOutcome counts outcome o at sink once for each row (a delivery)
// the query kinds selects, by its kind. (WHERE true: an upsert's SELECT
// needs a WHERE, or SQLite may read ON CONFLICT as a join's ON.)
func countOutcome(ctx context.Context, tx *sql.Tx, sink string, o alert.Outcome, kinds string, args ...any) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO alert_counts (kind, sink, outcome, n)
		SELECT kind, ?, ?, count(*) FROM (`+kinds+`) WHERE true GROUP BY kind
		ON CONFLICT (kind, sink, outcome) DO UPDATE SET n = n + excluded.n`,
		append([]any{sink, string(o)}, args...)...)
	if err != nil {
		return fmt.Errorf("count alert outcome: %w", err)
	}
	return nil
}

// Fold marks the pending deliveries ids to sink folded into summary and
// stores summary with one pending delivery, to sink only, due at at; in
// one transaction, so a crash leaves either the deliveries or the
// summary pending, never both or neither.
func (r *Record) Fold(ctx context.Context, sink string, ids []string, summary alert.Alert, at time.Time) error {
	return r.alertTx(ctx, "fold alerts", func(tx *sql.Tx) error {
		if _, err := insertAlert(ctx, tx, summary, []string{sink}, at); err != nil {
			return err
		}
		const chunk = 500
		for len(ids) > 0 {
			part := ids[:min(chunk, len(ids))]
			ids = ids[len(part):]
			in := strings.TrimSuffix(strings.Repeat("?, ", len(part)), ", ")
			args := []any{summary.ID, sink}
			for _, id := range part {
				args = append(args, id)
			}
			if err := countOutcome(ctx, tx, sink, alert.OutcomeFolded, `SELECT a.kind FROM alert_deliveries d JOIN alerts a ON a.id = d.alert_id
				WHERE d.sink = ? AND d.state = 'pending' AND d.alert_id IN (`+in+`)`, args[1:]...); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `UPDATE alert_deliveries SET state = 'folded', next_at = NULL, folded_into = ?
				WHERE sink = ? AND state = 'pending' AND alert_id IN (`+in+`)`, args...); err != nil {
				return fmt.Errorf("fold into %s: %w", summary.ID, err)
			}
		}
		return nil
	})
}

// RecentAlerts returns the newest limit alerts, newest first, with their
// deliveries by sink.
func (r *Record) RecentAlerts(ctx context.Context, limit int) ([]alert.Entry, error) {
	tx, err := r.sql.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, r.readFailed(fmt.Errorf("read alerts: %w", err))
	}
	defer tx.Rollback() //nolint:errcheck // read-only
	rows, err := tx.QueryContext(ctx, `SELECT id, created_at, payload FROM alerts ORDER BY created_at DESC, id DESC LIMIT ?`, limit)
	if err != nil {
		return nil, r.readFailed(fmt.Errorf("read alerts: %w", err))
	}
	var (
		out []alert.Entry
		at  = map[string]int{}
	)
	for rows.Next() {
		var (
			id, payload string
			created     int64
			e           alert.Entry
		)
		if err := rows.Scan(&id, &created, &payload); err != nil {
			rows.Close()
			return nil, fmt.Errorf("read alerts: %w", err)
		}
		if err := json.Unmarshal([]byte(payload), &e.Alert); err != nil {
			rows.Close()
			return nil, fmt.Errorf("read alert %s: decode: %w", id, err)
		}
		e.Created = fromMillis(created)
		e.Deliveries = []alert.Delivery{}
		at[id] = len(out)
		out = append(out, e)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, r.readFailed(fmt.Errorf("read alerts: %w", err))
	}
	if len(out) == 0 {
		return out, nil
	}
	oldest := out[len(out)-1].Created.UnixMilli()
	drows, err := tx.QueryContext(ctx, `SELECT d.alert_id, d.sink, d.state, d.attempts, d.next_at, d.sent_at, d.last_error, d.folded_into
		FROM alert_deliveries d JOIN alerts a ON a.id = d.alert_id WHERE a.created_at >= ? ORDER BY d.alert_id, d.sink`, oldest)
	if err != nil {
		return nil, r.readFailed(fmt.Errorf("read alert deliveries: %w", err))
	}
	defer drows.Close()
	for drows.Next() {
		var (
			id         string
			d          alert.Delivery
			next, sent sql.NullInt64
			foldedInto sql.NullString
		)
		if err := drows.Scan(&id, &d.Sink, &d.State, &d.Attempts, &next, &sent, &d.Error, &foldedInto); err != nil {
			return nil, fmt.Errorf("read alert deliveries: %w", err)
		}
		i, ok := at[id]
		if !ok {
			continue
		}
		if next.Valid {
			d.NextAt = fromMillis(next.Int64)
		}
		if sent.Valid {
			d.SentAt = fromMillis(sent.Int64)
		}
		d.FoldedInto = foldedInto.String
		out[i].Deliveries = append(out[i].Deliveries, d)
	}
	if err := drows.Err(); err != nil {
		return nil, r.readFailed(fmt.Errorf("read alert deliveries: %w", err))
	}
	return out, nil
}

// AlertCounts returns the deliveries by kind, sink and outcome since the
// record began, ordered by them.
func (r *Record) AlertCounts(ctx context.Context) ([]alert.Count, error) {
	rows, err := r.sql.QueryContext(ctx, `SELECT kind, sink, outcome, n FROM alert_counts ORDER BY kind, sink, outcome`)
	if err != nil {
		return nil, r.readFailed(fmt.Errorf("read alert counts: %w", err))
	}
	defer rows.Close()
	var out []alert.Count
	for rows.Next() {
		var c alert.Count
		if err := rows.Scan(&c.Kind, &c.Sink, &c.Outcome, &c.N); err != nil {
			return nil, fmt.Errorf("read alert counts: %w", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, r.readFailed(fmt.Errorf("read alert counts: %w", err))
	}
	return out, nil
}

// PendingAlerts returns how many deliveries wait, by sink.
func (r *Record) PendingAlerts(ctx context.Context) (map[string]int, error) {
	rows, err := r.sql.QueryContext(ctx, `SELECT sink, count(*) FROM alert_deliveries WHERE state = 'pending' GROUP BY sink`)
	if err != nil {
		return nil, r.readFailed(fmt.Errorf("read pending alerts: %w", err))
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var (
			s string
			n int
		)
		if err := rows.Scan(&s, &n); err != nil {
			return nil, fmt.Errorf("read pending alerts: %w", err)
		}
		out[s] = n
	}
	if err := rows.Err(); err != nil {
		return nil, r.readFailed(fmt.Errorf("read pending alerts: %w", err))
	}
	return out, nil
}
