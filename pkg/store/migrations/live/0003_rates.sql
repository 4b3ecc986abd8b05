-- 0003_rates: the live rates (pkg/rates), written by the ingest process in
-- one small transaction after every cycle, so that a web server or
-- `netmon top` in another process sees them every second. Rates are
-- INTEGER bits per second; "window" columns are the mean over rate_window,
-- "last" columns the last cycle's. Everything here is state of the
-- running ingest process: it is cleared when a new one starts.

-- connection_rates: the connections with traffic in the window, by
-- connections.id: their window mean, rewritten when it moves by more than
-- a sixteenth (rates.FlowStep), deleted when it falls to zero or the
-- flow ends. A table of its own rather than columns of connections: it
-- holds only the connections with a rate (a zero is no row, so its index
-- is small and ?sort=rate a short walk), its rows are a few bytes so a
-- cycle's rewrites share few pages, and the reconcile's rows are never
-- touched by the rates. A reader tells "no rate yet" (a first reading)
-- from zero by first_seen_at: a connection whose first reading is the
-- last cycle's has none (store.Live, EachActiveConnectionRate). The last
-- cycle's rate of a connection is not stored: it changes whenever its
-- traffic does, and writing it would cost a write per connection with
-- traffic per cycle.
CREATE TABLE connection_rates (
	id           INTEGER PRIMARY KEY,
	uplink_bps   INTEGER NOT NULL,
	downlink_bps INTEGER NOT NULL,
	total_bps    INTEGER NOT NULL
);

-- ?sort=rate walks this (rowid breaks ties); the connections without a
-- rate follow by bytes through connections_active_by_bytes.
CREATE INDEX connection_rates_by_rate ON connection_rates (total_bps DESC);

-- rate_state: one row. cycles is how many cycles the ingest process's
-- tracker has seen (rates need two), at the last one's time (unix ms,
-- the same value as its connections' times), window_ms the window, and
-- the router's rates (NULL: none yet).
CREATE TABLE rate_state (
	id                INTEGER PRIMARY KEY CHECK (id = 1),
	cycles            INTEGER NOT NULL DEFAULT 0,
	at                INTEGER,
	window_ms         INTEGER NOT NULL DEFAULT 0,
	uplink_bps        INTEGER,
	downlink_bps      INTEGER,
	last_uplink_bps   INTEGER,
	last_downlink_bps INTEGER
);
INSERT INTO rate_state (id) VALUES (1);

-- device_rates: the devices with traffic or a first reading in the last
-- five minutes, by device id ("aa:bb:cc:dd:ee:ff", "ip:10.0.0.9"); addrs
-- their LAN addresses, space separated, most recent first; rates NULL
-- before the second reading.
CREATE TABLE device_rates (
	device            TEXT NOT NULL PRIMARY KEY,
	addrs             TEXT NOT NULL DEFAULT '',
	uplink_bps        INTEGER,
	downlink_bps      INTEGER,
	last_uplink_bps   INTEGER,
	last_downlink_bps INTEGER
) WITHOUT ROWID;

-- remote_rates: the remote hosts with traffic in the window, their
-- window mean, rewritten like connection_rates'.
CREATE TABLE remote_rates (
	ip           TEXT    NOT NULL PRIMARY KEY,
	uplink_bps   INTEGER NOT NULL,
	downlink_bps INTEGER NOT NULL,
	total_bps    INTEGER NOT NULL
) WITHOUT ROWID;

CREATE INDEX remote_rates_by_rate ON remote_rates (total_bps DESC);

-- The sparklines: a tick about every second (unix ms) with the router's
-- rate, and each device's where it was not zero; ticks older than five
-- minutes are pruned every cycle.
CREATE TABLE rate_ticks (
	at           INTEGER PRIMARY KEY,
	uplink_bps   INTEGER NOT NULL,
	downlink_bps INTEGER NOT NULL
);

CREATE TABLE device_rate_samples (
	at           INTEGER NOT NULL,
	device       TEXT    NOT NULL,
	uplink_bps   INTEGER NOT NULL,
	downlink_bps INTEGER NOT NULL,
	PRIMARY KEY (at, device)
) WITHOUT ROWID;
