-- 0002_labels: what a reader of the live state needs to name things
-- without the ingest process's device registry and name caches (the web
-- server of the two-process setup): every LAN address's device and its
-- name, the name each client looked up for a remote address, and every
-- device's running totals (the committed record plus what is pending, for
-- Prometheus counters that do not wait for a commit). The ingest process
-- writes them when they change; they are small.
CREATE TABLE addr_labels (
	addr   TEXT NOT NULL PRIMARY KEY,
	device TEXT NOT NULL,
	name   TEXT NOT NULL DEFAULT ''
) WITHOUT ROWID;

CREATE TABLE dst_labels (
	client TEXT NOT NULL,
	addr   TEXT NOT NULL,
	name   TEXT NOT NULL,
	PRIMARY KEY (client, addr)
) WITHOUT ROWID;

CREATE TABLE device_totals (
	device           TEXT    NOT NULL PRIMARY KEY,
	name             TEXT    NOT NULL DEFAULT '',
	uplink_bytes     INTEGER NOT NULL DEFAULT 0,
	downlink_bytes   INTEGER NOT NULL DEFAULT 0,
	uplink_packets   INTEGER NOT NULL DEFAULT 0,
	downlink_packets INTEGER NOT NULL DEFAULT 0,
	connections      INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
