package store

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// IngestStatus is the ingest process's counters as the live state keeps
// them (migrations/live/0004): written in every cycle's transaction by
// the process that ingests, read by any process that serves metrics.
// They count from the ingest process's start.
type IngestStatus struct {
	StartedAt     time.Time // when the ingest process started (zero: unknown)
	Cycles        int64     // cycles run, successful or failed
	FailedCycles  int64     // cycles that failed
	Overruns      int64     // cycles that took longer than their interval
	SkippedLines  int64     // conntrack lines the successful cycles could not parse
	LastSuccessAt time.Time // the last successful cycle (zero: none)
	Durations     Histogram // how long the cycles took, in seconds
	Commits       int64     // commits to the record that wrote
	CommitErrors  int64     // commits to the record that failed
	LastCommitAt  time.Time // the last successful commit (zero: none)
	Events        EventCounters
}

// EventCounters is what the conntrack DESTROY events did (see
// ingest.EventsStatus).
type EventCounters struct {
	Enabled, Listening bool
	// Received and Kept are the source's; Folded the kept events a cycle
	// committed; Overruns the socket's buffer overflows; Dropped the
	// events thrown away between two cycles (by the source or the
	// ingester); Undecoded the messages that could not be decoded;
	// Restarts the times the socket was opened again.
	Received, Kept, Folded, Overruns, Dropped, Undecoded, Restarts uint64
}

// Histogram is a Prometheus-style histogram with fixed upper bounds:
// Counts[i] is the observations <= Bounds[i] (cumulative), Count all of
// them (the +Inf bucket) and Sum their total.
type Histogram struct {
	Bounds []float64
	Counts []uint64
	Count  uint64
	Sum    float64
}

// NewHistogram returns an empty histogram over bounds (ascending).
func NewHistogram(bounds ...float64) Histogram {
	return Histogram{Bounds: slices.Clone(bounds), Counts: make([]uint64, len(bounds))}
}

// Observe adds one observation v.
func (h *Histogram) Observe(v float64) {
	for i, b := range h.Bounds {
		if v <= b {
			h.Counts[i]++
		}
	}
	h.Count++
	h.Sum += v
}

// Clone returns a copy that shares no memory with h.
func (h Histogram) Clone() Histogram {
	h.Bounds, h.Counts = slices.Clone(h.Bounds), slices.Clone(h.Counts)
	return h
}

// encodeBuckets is the duration_buckets column: "le:count" pairs.
func encodeBuckets(h Histogram) string {
	var b strings.Builder
	for i, le := range h.Bounds {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(strconv.FormatFloat(le, 'g', -1, 64))
		b.WriteByte(':')
		b.WriteString(strconv.FormatUint(h.Counts[i], 10))
	}
	return b.String()
}

// decodeBuckets parses the duration_buckets column into h.
func decodeBuckets(s string, h *Histogram) error {
	for _, f := range strings.Fields(s) {
		le, n, ok := strings.Cut(f, ":")
		b, err1 := strconv.ParseFloat(le, 64)
		c, err2 := strconv.ParseUint(n, 10, 64)
		if !ok || err1 != nil || err2 != nil {
			return fmt.Errorf("duration_buckets: bad pair %q", f)
		}
		h.Bounds, h.Counts = append(h.Bounds, b), append(h.Counts, c)
	}
	return nil
}

// RecordStatus makes every later Reconcile write fn's counters into the
// live state in its own transaction, just before its commit; fn is called
// there, on Reconcile's goroutine, and says what the counters will be
// once that cycle commits. nil stops it. The ingest process sets it once.
func (db *Live) RecordStatus(fn func() IngestStatus) {
	db.mu.Lock()
	defer db.mu.Unlock()
	db.status = fn
}

const statusCols = `started_at, cycles, failed_cycles, overruns, skipped_lines, last_success_at,
	duration_buckets, duration_sum, duration_count, commits, commit_errors, last_commit_at,
	events_enabled, events_listening, events_received, events_kept, events_folded,
	events_overruns, events_dropped, events_undecoded, events_restarts`

// writeStatus writes s as the one ingest_status row, inside tx.
func writeStatus(ctx context.Context, tx *sql.Tx, s IngestStatus) error {
	e := s.Events
	_, err := tx.ExecContext(ctx, `UPDATE ingest_status SET (`+statusCols+`) =
		(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) WHERE id = 1`,
		nullMillis(s.StartedAt), s.Cycles, s.FailedCycles, s.Overruns, s.SkippedLines, nullMillis(s.LastSuccessAt),
		encodeBuckets(s.Durations), s.Durations.Sum, int64(s.Durations.Count), s.Commits, s.CommitErrors, nullMillis(s.LastCommitAt),
		e.Enabled, e.Listening, int64(e.Received), int64(e.Kept), int64(e.Folded),
		int64(e.Overruns), int64(e.Dropped), int64(e.Undecoded), int64(e.Restarts))
	if err != nil {
		return fmt.Errorf("write ingest status: %w", err)
	}
	return nil
}

// IngestStatus reads the counters the ingest process last recorded (all
// zero before its first cycle).
func (db *Live) IngestStatus(ctx context.Context) (IngestStatus, error) {
	var (
		s                          IngestStatus
		started, success, commit   sql.NullInt64
		buckets                    string
		count                      int64
		recv, kept, folded, over   int64
		dropped, undecoded, restar int64
	)
	err := db.sql.QueryRowContext(ctx, `SELECT `+statusCols+` FROM ingest_status WHERE id = 1`).Scan(
		&started, &s.Cycles, &s.FailedCycles, &s.Overruns, &s.SkippedLines, &success,
		&buckets, &s.Durations.Sum, &count, &s.Commits, &s.CommitErrors, &commit,
		&s.Events.Enabled, &s.Events.Listening, &recv, &kept, &folded, &over, &dropped, &undecoded, &restar)
	if err != nil {
		return IngestStatus{}, db.readFailed(fmt.Errorf("read ingest status: %w", err))
	}
	if err := decodeBuckets(buckets, &s.Durations); err != nil {
		return IngestStatus{}, fmt.Errorf("read ingest status: %w", err)
	}
	s.StartedAt, s.LastSuccessAt, s.LastCommitAt = timeOf(started), timeOf(success), timeOf(commit)
	s.Durations.Count = unsigned(count)
	s.Events.Received, s.Events.Kept, s.Events.Folded = unsigned(recv), unsigned(kept), unsigned(folded)
	s.Events.Overruns, s.Events.Dropped = unsigned(over), unsigned(dropped)
	s.Events.Undecoded, s.Events.Restarts = unsigned(undecoded), unsigned(restar)
	return s, nil
}

// nullMillis is t in unix ms, NULL for the zero time.
func nullMillis(t time.Time) sql.NullInt64 {
	if t.IsZero() {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: t.UnixMilli(), Valid: true}
}

// timeOf is a nullable unix ms column as a time, zero for NULL.
func timeOf(v sql.NullInt64) time.Time {
	if !v.Valid {
		return time.Time{}
	}
	return fromMillis(v.Int64)
}
