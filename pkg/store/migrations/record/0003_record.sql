-- 0003_record: db_path becomes netmon's durable accounting record.
--
-- The per-second state (active and recently closed connections, their
-- counters) moved to live.db in the state directory, on tmpfs, where
-- writing is free. This file, on flash, receives only the aggregated
-- record, in one transaction per commit interval (pkg/store/commit.go).
-- An older file keeps its lifetime totals: remote hosts' as the base of
-- their totals, LAN addresses' as "ip:ADDR" devices.
--
-- Times: *_at columns are Unix milliseconds, UTC, as in 0001.
-- Buckets: start is the bucket's first instant in Unix seconds; 5-minute
-- and hourly buckets are aligned to the epoch, days and months to local
-- midnight (pkg/history.Calendar); res is 1 (5 min), 2 (hour), 3 (day), 4
-- (month). Every usage table's key starts with the bucket, so one commit's
-- rows, all in the current buckets, sit in a few adjacent pages: a commit
-- writes pages, not rows, and pages are what wear flash. The usage
-- columns are the growth of the conntrack counters seen in the bucket
-- (uplink = ORIGINAL direction) and the connections opened in it.

-- devices: every LAN device ever seen, by its id ("aa:bb:cc:dd:ee:ff", or
-- "ip:10.0.0.9" for an address with no MAC known). The usage columns are
-- its lifetime totals, the monotonic counters Prometheus exports.
CREATE TABLE devices (
	id               INTEGER PRIMARY KEY,
	device           TEXT    NOT NULL UNIQUE,
	name             TEXT    NOT NULL DEFAULT '',
	name_source      TEXT    NOT NULL DEFAULT '',
	vendor           TEXT    NOT NULL DEFAULT '',
	first_seen_at    INTEGER NOT NULL,
	last_seen_at     INTEGER NOT NULL,
	uplink_bytes     INTEGER NOT NULL DEFAULT 0,
	downlink_bytes   INTEGER NOT NULL DEFAULT 0,
	uplink_packets   INTEGER NOT NULL DEFAULT 0,
	downlink_packets INTEGER NOT NULL DEFAULT 0,
	connections      INTEGER NOT NULL DEFAULT 0
);

-- device_addrs: the addresses a device was seen with.
CREATE TABLE device_addrs (
	device_id    INTEGER NOT NULL REFERENCES devices (id),
	addr         TEXT    NOT NULL,
	last_seen_at INTEGER NOT NULL,
	PRIMARY KEY (device_id, addr)
) WITHOUT ROWID;

-- remotes: every internet host a device talked to. Insert-only but for
-- its name, so a commit appends its new hosts at the end of the table
-- instead of touching a page per host; its traffic is in remote_usage.
-- base_* are the totals an upgraded database had before history began.
CREATE TABLE remotes (
	id                  INTEGER PRIMARY KEY,
	ip                  TEXT    NOT NULL UNIQUE,
	first_seen_at       INTEGER NOT NULL,
	base_uplink_bytes   INTEGER NOT NULL DEFAULT 0,
	base_downlink_bytes INTEGER NOT NULL DEFAULT 0,
	name                TEXT    NOT NULL DEFAULT '',
	name_source         TEXT    NOT NULL DEFAULT '',
	name_learned_at     INTEGER
);

-- device_usage: per device and bucket, every resolution.
CREATE TABLE device_usage (
	res              INTEGER NOT NULL,
	start            INTEGER NOT NULL,
	device_id        INTEGER NOT NULL,
	uplink_bytes     INTEGER NOT NULL DEFAULT 0,
	downlink_bytes   INTEGER NOT NULL DEFAULT 0,
	uplink_packets   INTEGER NOT NULL DEFAULT 0,
	downlink_packets INTEGER NOT NULL DEFAULT 0,
	connections      INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (res, start, device_id)
) WITHOUT ROWID;

-- remote_usage: per remote host and day.
CREATE TABLE remote_usage (
	start            INTEGER NOT NULL,
	remote_id        INTEGER NOT NULL,
	uplink_bytes     INTEGER NOT NULL DEFAULT 0,
	downlink_bytes   INTEGER NOT NULL DEFAULT 0,
	uplink_packets   INTEGER NOT NULL DEFAULT 0,
	downlink_packets INTEGER NOT NULL DEFAULT 0,
	connections      INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (start, remote_id)
) WITHOUT ROWID;

-- pair_usage: per device, day and remote host: a device's top remote
-- hosts of each day, remote_id 0 ("other") holding the rest.
CREATE TABLE pair_usage (
	start            INTEGER NOT NULL,
	device_id        INTEGER NOT NULL,
	remote_id        INTEGER NOT NULL,
	uplink_bytes     INTEGER NOT NULL DEFAULT 0,
	downlink_bytes   INTEGER NOT NULL DEFAULT 0,
	uplink_packets   INTEGER NOT NULL DEFAULT 0,
	downlink_packets INTEGER NOT NULL DEFAULT 0,
	connections      INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (start, device_id, remote_id)
) WITHOUT ROWID;

-- service_usage: per device, day and service class (pkg/history.Service).
CREATE TABLE service_usage (
	start            INTEGER NOT NULL,
	device_id        INTEGER NOT NULL,
	service          INTEGER NOT NULL,
	uplink_bytes     INTEGER NOT NULL DEFAULT 0,
	downlink_bytes   INTEGER NOT NULL DEFAULT 0,
	uplink_packets   INTEGER NOT NULL DEFAULT 0,
	downlink_packets INTEGER NOT NULL DEFAULT 0,
	connections      INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (start, device_id, service)
) WITHOUT ROWID;

-- record_state: one bookkeeping row, written by commits that wrote
-- something. boot_id is the kernel's boot id at the last commit: after a
-- restart without live state, the same boot id means conntrack's counters
-- may already have been counted (see cmd/netmon's baseline rule).
CREATE TABLE record_state (
	id             INTEGER PRIMARY KEY CHECK (id = 1),
	commits        INTEGER NOT NULL DEFAULT 0,
	last_commit_at INTEGER,
	boot_id        TEXT    NOT NULL DEFAULT '',
	pruned_at      INTEGER NOT NULL DEFAULT 0
);
INSERT INTO record_state (id) VALUES (1);

-- The upgrade of a file that was netmon's first schema: keep the lifetime
-- totals, drop the per-connection detail (live state now).
INSERT INTO remotes (ip, first_seen_at, base_uplink_bytes, base_downlink_bytes)
	SELECT ip, first_seen_at, uplink_bytes, downlink_bytes
	FROM remote_hosts ORDER BY first_seen_at, ip;
INSERT INTO devices (device, first_seen_at, last_seen_at, uplink_bytes, downlink_bytes)
	SELECT 'ip:' || l.ip,
	       coalesce((SELECT min(first_seen_at) FROM connections WHERE src_ip = l.ip), 0),
	       coalesce((SELECT max(last_seen_at) FROM connections WHERE src_ip = l.ip), 0),
	       l.uplink_bytes, l.downlink_bytes
	FROM local_hosts l ORDER BY l.ip;
INSERT INTO device_addrs (device_id, addr, last_seen_at)
	SELECT id, substr(device, 4), last_seen_at FROM devices;
DROP TABLE connections;
DROP TABLE active_by_proto;
DROP TABLE ingest_state;
DROP TABLE local_hosts;
DROP TABLE remote_hosts;
