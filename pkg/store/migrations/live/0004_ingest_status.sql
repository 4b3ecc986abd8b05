-- 0004_ingest_status: the ingest process's own counters, so that /metrics
-- served by another process (the web server of the two-process setup)
-- exports every ingest metric. One row, rewritten inside every cycle's
-- own transaction (no transaction of its own), with the counts as they
-- stand once that cycle commits; the cycle-duration histogram holds the
-- cycles before it (a cycle's duration is known only after its commit).
-- The counters are the running ingest process's: a new process starts
-- them from zero at its first cycle (Prometheus handles counter resets),
-- while a restart of the web process keeps them.
--
-- Times are unix ms (NULL: never). duration_buckets is the histogram's
-- cumulative counts, "le:count" pairs space separated in ascending le
-- (seconds), without +Inf (that is duration_count).
CREATE TABLE ingest_status (
	id                INTEGER PRIMARY KEY CHECK (id = 1),
	started_at        INTEGER,
	cycles            INTEGER NOT NULL DEFAULT 0,
	failed_cycles     INTEGER NOT NULL DEFAULT 0,
	overruns          INTEGER NOT NULL DEFAULT 0,
	skipped_lines     INTEGER NOT NULL DEFAULT 0,
	last_success_at   INTEGER,
	duration_buckets  TEXT    NOT NULL DEFAULT '',
	duration_sum      REAL    NOT NULL DEFAULT 0,
	duration_count    INTEGER NOT NULL DEFAULT 0,
	commits           INTEGER NOT NULL DEFAULT 0,
	commit_errors     INTEGER NOT NULL DEFAULT 0,
	last_commit_at    INTEGER,
	events_enabled    INTEGER NOT NULL DEFAULT 0,
	events_listening  INTEGER NOT NULL DEFAULT 0,
	events_received   INTEGER NOT NULL DEFAULT 0,
	events_kept       INTEGER NOT NULL DEFAULT 0,
	events_folded     INTEGER NOT NULL DEFAULT 0,
	events_overruns   INTEGER NOT NULL DEFAULT 0,
	events_dropped    INTEGER NOT NULL DEFAULT 0,
	events_undecoded  INTEGER NOT NULL DEFAULT 0,
	events_restarts   INTEGER NOT NULL DEFAULT 0
);
INSERT INTO ingest_status (id) VALUES (1);
