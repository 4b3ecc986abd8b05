-- 0004_alerts: the alert outbox and what the alert rules remember
-- (pkg/alert; the methods are in pkg/store/alerts.go).
--
-- Every alert is written here before any sink sees it, each in a small
-- transaction of its own (alerts are rare and must survive a crash at
-- once), and is delivered from here: a restart finds what was not
-- delivered yet. Times are Unix milliseconds, UTC, as in 0001.

-- alerts: one row per alert; id is its stable id (pkg/alert: the same
-- event gives the same id), payload its JSON (alert.Alert).
CREATE TABLE alerts (
	id         TEXT    PRIMARY KEY,
	kind       TEXT    NOT NULL,
	created_at INTEGER NOT NULL,
	payload    TEXT    NOT NULL
) WITHOUT ROWID;
CREATE INDEX alerts_by_created ON alerts (created_at);

-- alert_deliveries: one row per alert and sink. A pending one is tried
-- at next_at; folded_into names the summary a rate limit folded it into.
CREATE TABLE alert_deliveries (
	alert_id    TEXT    NOT NULL REFERENCES alerts (id) ON DELETE CASCADE,
	sink        TEXT    NOT NULL,
	state       TEXT    NOT NULL CHECK (state IN ('pending', 'delivered', 'failed', 'folded')),
	attempts    INTEGER NOT NULL DEFAULT 0,
	next_at     INTEGER,
	last_at     INTEGER,
	sent_at     INTEGER,
	last_error  TEXT    NOT NULL DEFAULT '',
	folded_into TEXT,
	PRIMARY KEY (alert_id, sink)
) WITHOUT ROWID;
CREATE INDEX alert_deliveries_due ON alert_deliveries (sink, next_at) WHERE state = 'pending';

-- alert_memory: what the rules remember, by kind (alert.MemoryKind) and
-- key: the first start, known devices and randomised groups, quota
-- warnings sent per period, each device's known networks (/24, /48, as
-- text) and the open ingest failure.
CREATE TABLE alert_memory (
	kind TEXT    NOT NULL,
	key  TEXT    NOT NULL,
	at   INTEGER NOT NULL,
	PRIMARY KEY (kind, key)
) WITHOUT ROWID;

-- alert_counts: deliveries by alert kind, sink and outcome, for the
-- netmon_alerts_total counter; kept when old alerts are pruned, so the
-- counter never goes back.
CREATE TABLE alert_counts (
	kind    TEXT    NOT NULL,
	sink    TEXT    NOT NULL,
	outcome TEXT    NOT NULL,
	n       INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (kind, sink, outcome)
) WITHOUT ROWID;

-- An upgraded record: the devices it knows are known, and netmon's first
-- start (from which the learning period runs) is its first device's
-- first sighting, so an installation that has run for a while does not
-- report every device again.
INSERT INTO alert_memory (kind, key, at) SELECT 'device', device, first_seen_at FROM devices;
INSERT INTO alert_memory (kind, key, at) SELECT 'start', '', min(first_seen_at) FROM devices HAVING count(*) > 0;
