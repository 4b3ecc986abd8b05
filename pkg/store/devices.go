package store

import (
	"context"
	"database/sql"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/netmon-dev/netmon/pkg/device"
	"github.com/netmon-dev/netmon/pkg/history"
)

// CommitInfo is what a commit records beside its batch of growth.
type CommitInfo struct {
	BootID    string
	Retention Retention
	// Devices are the devices the registry knows, with their names,
	// vendors and addresses: a device whose name, vendor or addresses
	// changed since the last commit is written, so a name survives the
	// device going offline.
	Devices []device.Device
	// Merges are "ip:" devices that became part of MAC devices: their
	// history and totals move to the MAC device.
	Merges []device.Merge
	// RemoteNames are names learned for remote hosts (the name a client
	// looked up, else reverse DNS), written where they changed.
	RemoteNames map[netip.Addr]RemoteName
}

// RemoteName is a remote host's name, where it came from ("dns": a
// client's own lookup, "ptr": reverse DNS) and when it was learned.
type RemoteName struct {
	Name, Source string
	LearnedAt    time.Time
}

// fingerprint is what of a device the record keeps but its times: a
// change of it is worth a write.
func fingerprint(d device.Device) string {
	var b strings.Builder
	b.WriteString(d.Name)
	b.WriteByte(0)
	b.WriteString(d.NameSource.String())
	b.WriteByte(0)
	b.WriteString(d.Vendor)
	for _, a := range d.Addrs {
		b.WriteByte(0)
		b.WriteString(a.String())
	}
	return b.String()
}

// devicesChanged reports whether any of ds differs from what the last
// commit wrote of it.
func (r *Record) devicesChanged(ds []device.Device) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, d := range ds {
		if r.written[d.ID] != fingerprint(d) {
			return true
		}
	}
	return false
}

// deviceInfo writes the devices whose fingerprint changed: their name,
// its source, the vendor, their times and addresses. What it wrote is
// remembered once the transaction commits (see Commit).
func (w *committer) deviceInfo(ctx context.Context, ds []device.Device) error {
	w.written = map[device.ID]string{}
	for _, d := range ds {
		fp := fingerprint(d)
		if w.r.written[d.ID] == fp {
			continue
		}
		first, last := d.FirstSeen.UnixMilli(), d.LastSeen.UnixMilli()
		if d.FirstSeen.IsZero() {
			first = last
		}
		var id int64
		err := w.tx.QueryRowContext(ctx, `INSERT INTO devices (device, name, name_source, vendor, first_seen_at, last_seen_at)
			VALUES (?, ?, ?, ?, ?, ?)
			ON CONFLICT (device) DO UPDATE SET name = excluded.name, name_source = excluded.name_source,
				vendor = excluded.vendor, first_seen_at = min(first_seen_at, excluded.first_seen_at),
				last_seen_at = max(last_seen_at, excluded.last_seen_at)
			RETURNING id`,
			string(d.ID), d.Name, sourceText(d.NameSource), d.Vendor, first, last).Scan(&id)
		if err != nil {
			return fmt.Errorf("write device %s: %w", d.ID, err)
		}
		w.r.devices[string(d.ID)] = id
		for _, a := range d.Addrs {
			if _, err := w.tx.ExecContext(ctx, `INSERT INTO device_addrs (device_id, addr, last_seen_at) VALUES (?, ?, ?)
				ON CONFLICT (device_id, addr) DO UPDATE SET last_seen_at = max(last_seen_at, excluded.last_seen_at)`,
				id, a.String(), last); err != nil {
				return fmt.Errorf("write address %s of device %s: %w", a, d.ID, err)
			}
		}
		w.written[d.ID] = fp
		w.res.Rows += 1 + len(d.Addrs)
	}
	return nil
}

// sourceText is a name source as stored: "" for none.
func sourceText(s device.NameSource) string {
	if s == device.SourceNone {
		return ""
	}
	return s.String()
}

// remoteNames writes the names that differ from the stored ones.
func (w *committer) remoteNames(ctx context.Context, names map[netip.Addr]RemoteName) error {
	for a, n := range names {
		id, ok := w.r.remotes[a]
		if !ok {
			continue // a host not in this batch: named when it next has traffic
		}
		r, err := w.tx.ExecContext(ctx, `UPDATE remotes SET name = ?, name_source = ?, name_learned_at = ?
			WHERE id = ? AND (name != ?1 OR name_source != ?2)`, n.Name, n.Source, n.LearnedAt.UnixMilli(), id)
		if err != nil {
			return fmt.Errorf("write the name of %s: %w", a, err)
		}
		k, _ := r.RowsAffected()
		w.res.Rows += int(k)
	}
	return nil
}

// merge moves each "ip:" device's history and totals to the MAC device it
// became part of, adding where both have a bucket, and forgets it. Its
// usage rows are found by a scan (the keys start with the bucket, for the
// commits' sake): merges are rare, one per device that showed traffic
// before its neighbour entry appeared.
func (w *committer) merge(ctx context.Context, ms []device.Merge) error {
	for _, m := range ms {
		var from, to int64
		err := w.tx.QueryRowContext(ctx, `SELECT id FROM devices WHERE device = ?`, string(m.From)).Scan(&from)
		if err == sql.ErrNoRows {
			continue // never committed: nothing to move
		}
		if err == nil {
			err = w.tx.QueryRowContext(ctx, `INSERT INTO devices (device, first_seen_at, last_seen_at)
				SELECT ?, first_seen_at, last_seen_at FROM devices WHERE id = ?
				ON CONFLICT (device) DO UPDATE SET first_seen_at = min(first_seen_at, excluded.first_seen_at)
				RETURNING id`, string(m.To), from).Scan(&to)
		}
		if err != nil {
			return fmt.Errorf("merge device %s into %s: %w", m.From, m.To, err)
		}
		for _, t := range []struct{ table, key string }{
			{"device_usage", "res, start, device_id"},
			{"pair_usage", "start, device_id, remote_id"},
			{"service_usage", "start, device_id, service"},
		} {
			cols := strings.ReplaceAll(t.key, "device_id", "?1")
			if _, err := w.tx.ExecContext(ctx, `INSERT INTO `+t.table+` (`+t.key+`, `+usageCols+`)
				SELECT `+cols+`, `+usageCols+` FROM `+t.table+` WHERE device_id = ?2 AND true
				ON CONFLICT (`+t.key+`)`+usageAdd, to, from); err != nil {
				return fmt.Errorf("merge device %s into %s: %w", m.From, m.To, err)
			}
			if _, err := w.tx.ExecContext(ctx, `DELETE FROM `+t.table+` WHERE device_id = ?`, from); err != nil {
				return fmt.Errorf("merge device %s into %s: %w", m.From, m.To, err)
			}
		}
		if _, err := w.tx.ExecContext(ctx, `UPDATE devices SET
				uplink_bytes = uplink_bytes + (SELECT uplink_bytes FROM devices WHERE id = ?2),
				downlink_bytes = downlink_bytes + (SELECT downlink_bytes FROM devices WHERE id = ?2),
				uplink_packets = uplink_packets + (SELECT uplink_packets FROM devices WHERE id = ?2),
				downlink_packets = downlink_packets + (SELECT downlink_packets FROM devices WHERE id = ?2),
				connections = connections + (SELECT connections FROM devices WHERE id = ?2)
			WHERE id = ?1`, to, from); err != nil {
			return fmt.Errorf("merge device %s into %s: %w", m.From, m.To, err)
		}
		if _, err := w.tx.ExecContext(ctx, `INSERT INTO device_addrs (device_id, addr, last_seen_at)
			SELECT ?, addr, last_seen_at FROM device_addrs WHERE device_id = ? AND true
			ON CONFLICT (device_id, addr) DO UPDATE SET last_seen_at = max(last_seen_at, excluded.last_seen_at)`, to, from); err != nil {
			return fmt.Errorf("merge device %s into %s: %w", m.From, m.To, err)
		}
		for _, q := range []string{`DELETE FROM device_addrs WHERE device_id = ?`, `DELETE FROM devices WHERE id = ?`} {
			if _, err := w.tx.ExecContext(ctx, q, from); err != nil {
				return fmt.Errorf("merge device %s into %s: %w", m.From, m.To, err)
			}
		}
		delete(w.r.devices, string(m.From))
		w.forgot = append(w.forgot, m.From)
		w.res.Rows++
	}
	return nil
}

// Devices returns every device the record knows, with its addresses (most
// recently seen first), name and vendor, in id order. A MAC device's MAC
// and randomised flag come from its id.
func (r *Record) Devices(ctx context.Context) ([]device.Device, error) {
	return r.queryDevices(ctx, "", nil)
}

// Device returns the device with the id the record knows, as Devices
// does; found is false when the record knows no such device.
func (r *Record) Device(ctx context.Context, id string) (d device.Device, found bool, err error) {
	ds, err := r.queryDevices(ctx, "WHERE d.device = ?", []any{id})
	if err != nil || len(ds) == 0 {
		return device.Device{}, false, err
	}
	return ds[0], true, nil
}

// queryDevices runs Devices' query with a WHERE clause on d (devices).
func (r *Record) queryDevices(ctx context.Context, where string, args []any) ([]device.Device, error) {
	var out []device.Device
	err := r.readTx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT d.device, d.name, d.name_source, d.vendor, d.first_seen_at, d.last_seen_at,
			coalesce(group_concat(a.addr, ' '), '')
			FROM devices d LEFT JOIN (SELECT * FROM device_addrs ORDER BY last_seen_at DESC) a ON a.device_id = d.id
			`+where+` GROUP BY d.id ORDER BY d.device`, args...)
		if err != nil {
			return r.readFailed(fmt.Errorf("query devices: %w", err))
		}
		defer rows.Close()
		for rows.Next() {
			var (
				id, src, addrs string
				first, last    int64
				d              device.Device
			)
			if err := rows.Scan(&id, &d.Name, &src, &d.Vendor, &first, &last, &addrs); err != nil {
				return fmt.Errorf("scan device: %w", err)
			}
			if d.ID, err = device.ParseID(id); err != nil {
				return fmt.Errorf("device %q: %w", id, err)
			}
			if src != "" {
				if d.NameSource, err = device.ParseNameSource(src); err != nil {
					return fmt.Errorf("device %s: %w", id, err)
				}
			}
			if mac, err := device.ParseMAC(id); err == nil {
				d.MAC, d.Randomized = mac, mac.Randomized()
			}
			d.FirstSeen, d.LastSeen = fromMillis(first), fromMillis(last)
			for _, f := range strings.Fields(addrs) {
				if a, err := netip.ParseAddr(f); err == nil {
					d.Addrs = append(d.Addrs, a)
				}
			}
			out = append(out, d)
		}
		return rows.Err()
	})
	return out, err
}

// RemoteNames returns the names of remote hosts learned since since, at
// most limit of them, the newest first: to warm the reverse-DNS cache.
func (r *Record) RemoteNames(ctx context.Context, since time.Time, limit int) (map[netip.Addr]RemoteName, error) {
	rows, err := r.sql.QueryContext(ctx, `SELECT ip, name, name_source, name_learned_at FROM remotes
		WHERE name_learned_at >= ? ORDER BY name_learned_at DESC LIMIT ?`, since.UnixMilli(), limit)
	if err != nil {
		return nil, r.readFailed(fmt.Errorf("query remote names: %w", err))
	}
	defer rows.Close()
	out := map[netip.Addr]RemoteName{}
	for rows.Next() {
		var (
			ip string
			n  RemoteName
			at int64
		)
		if err := rows.Scan(&ip, &n.Name, &n.Source, &at); err != nil {
			return nil, fmt.Errorf("scan remote name: %w", err)
		}
		a, err := parseAddr("remotes.ip", ip)
		if err != nil {
			return nil, err
		}
		n.LearnedAt = fromMillis(at)
		out[a] = n
	}
	return out, rows.Err()
}

// Remote returns what the record knows of a remote host beside its
// traffic; found is false when it knows no such host (never seen, or
// pruned).
func (r *Record) Remote(ctx context.Context, addr netip.Addr) (h history.Remote, found bool, err error) {
	var first int64
	err = r.sql.QueryRowContext(ctx, `SELECT name, name_source, first_seen_at FROM remotes WHERE ip = ?`,
		addr.String()).Scan(&h.Name, &h.NameSource, &first)
	if err == sql.ErrNoRows {
		return history.Remote{}, false, nil
	}
	if err != nil {
		return history.Remote{}, false, r.readFailed(fmt.Errorf("query remote host %s: %w", addr, err))
	}
	h.Addr, h.FirstSeen = addr, fromMillis(first)
	return h, true, nil
}
