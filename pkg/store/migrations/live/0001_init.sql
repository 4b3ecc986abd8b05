-- 0001_init: the live state (live.db in the state directory, on tmpfs):
-- the active and recently closed connections, and the per-address totals
-- the cycles add up. Until issue 14 this was the schema of db_path itself;
-- migrations/record/ upgrades such a file into the durable record.
--
-- Times are INTEGER unix milliseconds, UTC. Addresses are TEXT in their
-- canonical netip form ("10.0.0.5", "2001:db8::80"). Counters are INTEGER
-- (SQLite's signed 64 bits; netmon saturates anything larger).
--
-- Migrations are append-only: never edit a released file, add the next
-- number. PRAGMA user_version holds the number of the last one applied.

-- remote_hosts: every internet host a LAN machine has talked to. Rows live
-- as long as the live state. uplink_bytes/downlink_bytes are the sum of the GROWTH of the
-- counters of all its connections, so they survive connections closing and
-- never go backwards. last_seen_at advances only when one of its connections
-- was opened or changed (counters or state) in a cycle.
CREATE TABLE remote_hosts (
	ip             TEXT    NOT NULL PRIMARY KEY,
	first_seen_at  INTEGER NOT NULL,
	last_seen_at   INTEGER NOT NULL,
	uplink_bytes   INTEGER NOT NULL DEFAULT 0,
	downlink_bytes INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;

-- connections: one row per 5-tuple (proto, src_ip, src_port, dst_ip,
-- dst_port), active (closed_at IS NULL) or closed (history).
--
-- History and the UNIQUE tuple coexist like this: when a closed tuple shows
-- up again, or an active tuple's counters go down (conntrack forgot the old
-- flow and a new one took its place between two reads), it is a NEW flow of
-- that tuple and the SAME row is reopened: closed_at back to NULL,
-- first_seen_at = now, counters restart from the new flow's values. The old
-- flow's totals are not lost: they were already folded into remote_hosts and
-- local_hosts as they grew. So the table keeps the latest flow of each tuple,
-- and closed rows live until the retention prunes them.
--
-- last_seen_at is the last cycle in which the row's counters or state
-- changed (not the last time the table was read: see ingest_state).
-- total_bytes = uplink_bytes + downlink_bytes, stored so the dashboard's
-- "top active connections" is an index walk, not a sort of every row.
CREATE TABLE connections (
	id               INTEGER PRIMARY KEY,
	proto            TEXT    NOT NULL,
	src_ip           TEXT    NOT NULL,
	src_port         INTEGER NOT NULL,
	dst_ip           TEXT    NOT NULL REFERENCES remote_hosts (ip),
	dst_port         INTEGER NOT NULL,
	state            TEXT    NOT NULL DEFAULT '',
	flags            TEXT    NOT NULL DEFAULT '',
	uplink_packets   INTEGER NOT NULL DEFAULT 0,
	uplink_bytes     INTEGER NOT NULL DEFAULT 0,
	downlink_packets INTEGER NOT NULL DEFAULT 0,
	downlink_bytes   INTEGER NOT NULL DEFAULT 0,
	total_bytes      INTEGER NOT NULL DEFAULT 0,
	first_seen_at    INTEGER NOT NULL,
	last_seen_at     INTEGER NOT NULL,
	closed_at        INTEGER
);

CREATE UNIQUE INDEX connections_tuple
	ON connections (proto, src_ip, src_port, dst_ip, dst_port);

-- Top active connections by bytes, ties by tuple: walked in order, LIMIT n.
CREATE INDEX connections_active_by_bytes
	ON connections (total_bytes DESC, proto, src_ip, src_port, dst_ip, dst_port)
	WHERE closed_at IS NULL;

-- Pruning closed rows older than the retention.
CREATE INDEX connections_closed_at
	ON connections (closed_at)
	WHERE closed_at IS NOT NULL;

-- local_hosts: per-LAN-address monotonic totals (growth sums, like
-- remote_hosts), for Prometheus counters.
CREATE TABLE local_hosts (
	ip             TEXT    NOT NULL PRIMARY KEY,
	uplink_bytes   INTEGER NOT NULL DEFAULT 0,
	downlink_bytes INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;

-- ingest_state: one bookkeeping row. last_cycle_at is when the conntrack
-- table was last reconciled (even if nothing changed), cycles counts the
-- committed cycles, active_connections the rows with closed_at IS NULL.
CREATE TABLE ingest_state (
	id                 INTEGER PRIMARY KEY CHECK (id = 1),
	last_cycle_at      INTEGER,
	cycles             INTEGER NOT NULL DEFAULT 0,
	active_connections INTEGER NOT NULL DEFAULT 0
);

INSERT INTO ingest_state (id, last_cycle_at, cycles, active_connections) VALUES (1, NULL, 0, 0);
-- active_by_proto: per-protocol count of active connections, kept by
-- each reconcile cycle (it changes only when connections open or close), so
-- the dashboard and Prometheus read a handful of rows instead of grouping
-- every active connection (measured: ~170 ms at 100,000 active rows).
-- Rows whose n fell to 0 are kept; readers skip them.
CREATE TABLE active_by_proto (
	proto TEXT    NOT NULL PRIMARY KEY,
	n     INTEGER NOT NULL
) WITHOUT ROWID;
