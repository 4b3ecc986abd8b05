package store

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/netmon-dev/netmon/pkg/history"
)

// The record's benchmarks run over a year of history for 100 devices,
// built once per test binary with SQL (recursive CTEs write the rows far
// faster than a year of commits would): for each day of the last 400, a
// daily bucket per device and 2,000 remote hosts; hourly buckets for the
// last 62 days, 5-minute ones for the last 2, each device's 50 top remote
// hosts plus other and 6 services for the last 35 days, a monthly bucket
// per device and month. That is what the default retention keeps.
const (
	yearDevices = 100
	yearRemotes = 2000
)

var (
	yearOnce sync.Once
	yearPath string
	yearErr  error
	yearNow  = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
)

// TestMain removes the year's record, if a benchmark built one.
func TestMain(m *testing.M) {
	code := m.Run()
	if yearPath != "" {
		os.RemoveAll(filepath.Dir(yearPath))
	}
	os.Exit(code)
}

func yearRecord(b *testing.B) *Record {
	b.Helper()
	yearOnce.Do(func() {
		dir, err := os.MkdirTemp("", "netmon-year")
		if err != nil {
			yearErr = err
			return
		}
		yearPath = filepath.Join(dir, "netmon.db")
		yearErr = buildYear(yearPath)
	})
	if yearErr != nil {
		b.Fatal(yearErr)
	}
	r, err := OpenRecord(context.Background(), yearPath)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { r.Close() })
	return r
}

func buildYear(path string) error {
	ctx := context.Background()
	r, err := OpenRecord(ctx, path)
	if err != nil {
		return err
	}
	defer r.Close()
	day := history.Calendar{}.Start(history.Day, yearNow).Unix()
	// u(n) is a usage row's columns from a number that varies per row.
	const usage = `(n % 9973) * 1000, (n % 7919) * 9000, n % 97, n % 89, n % 7`
	stmts := []string{
		fmt.Sprintf(`WITH RECURSIVE i(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM i WHERE n < %d)
			INSERT INTO devices (device, first_seen_at, last_seen_at) SELECT printf('aa:bb:cc:dd:%%02x:%%02x', n / 256, n %% 256), 0, 0 FROM i`, yearDevices),
		fmt.Sprintf(`WITH RECURSIVE i(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM i WHERE n < %d)
			INSERT INTO remotes (ip, first_seen_at) SELECT printf('198.%%d.%%d.%%d', 18 + n / 65536, (n / 256) %% 256, n %% 256), 0 FROM i`, 400*yearRemotes),
		// days: 400 x (devices + remote hosts)
		fmt.Sprintf(`WITH RECURSIVE d(k) AS (SELECT 0 UNION ALL SELECT k + 1 FROM d WHERE k < 399),
			dev(id) AS (SELECT 1 UNION ALL SELECT id + 1 FROM dev WHERE id < %d),
			rows(start, id, n) AS (SELECT %d - k * 86400, id, k * 1000 + id FROM d, dev)
			INSERT INTO device_usage (res, start, device_id, %s) SELECT 3, start, id, %s FROM rows`, yearDevices, day, usageCols, usage),
		fmt.Sprintf(`WITH RECURSIVE d(k) AS (SELECT 0 UNION ALL SELECT k + 1 FROM d WHERE k < 399),
			rem(j) AS (SELECT 1 UNION ALL SELECT j + 1 FROM rem WHERE j < %d),
			rows(start, id, n) AS (SELECT %d - k * 86400, k * %d + j, k * 7 + j FROM d, rem)
			INSERT INTO remote_usage (start, remote_id, %s) SELECT start, id, %s FROM rows`, yearRemotes, day, yearRemotes, usageCols, usage),
		// hours: 62 days x 24, 5 minutes: 2 days x 288, months: 14
		fmt.Sprintf(`WITH RECURSIVE h(k) AS (SELECT 0 UNION ALL SELECT k + 1 FROM h WHERE k < 62 * 24 - 1),
			dev(id) AS (SELECT 1 UNION ALL SELECT id + 1 FROM dev WHERE id < %d)
			INSERT INTO device_usage (res, start, device_id, %s) SELECT 2, %d - k * 3600, id, %s FROM (SELECT k, id, k + id AS n FROM h, dev)`,
			yearDevices, usageCols, yearNow.Truncate(time.Hour).Unix(), usage),
		fmt.Sprintf(`WITH RECURSIVE f(k) AS (SELECT 0 UNION ALL SELECT k + 1 FROM f WHERE k < 2 * 288 - 1),
			dev(id) AS (SELECT 1 UNION ALL SELECT id + 1 FROM dev WHERE id < %d)
			INSERT INTO device_usage (res, start, device_id, %s) SELECT 1, %d - k * 300, id, %s FROM (SELECT k, id, k + id AS n FROM f, dev)`,
			yearDevices, usageCols, yearNow.Truncate(5*time.Minute).Unix(), usage),
		fmt.Sprintf(`WITH RECURSIVE m(k) AS (SELECT 0 UNION ALL SELECT k + 1 FROM m WHERE k < 13),
			dev(id) AS (SELECT 1 UNION ALL SELECT id + 1 FROM dev WHERE id < %d)
			INSERT INTO device_usage (res, start, device_id, %s) SELECT 4, %d - k * 2629800, id, %s FROM (SELECT k, id, k + id AS n FROM m, dev)`,
			yearDevices, usageCols, history.Calendar{}.Start(history.Month, yearNow).Unix(), usage),
		// pairs: 35 days x devices x (50 + other), services: 35 days x devices x 6
		fmt.Sprintf(`WITH RECURSIVE d(k) AS (SELECT 0 UNION ALL SELECT k + 1 FROM d WHERE k < 34),
			dev(id) AS (SELECT 1 UNION ALL SELECT id + 1 FROM dev WHERE id < %d),
			p(j) AS (SELECT 0 UNION ALL SELECT j + 1 FROM p WHERE j < %d)
			INSERT INTO pair_usage (start, device_id, remote_id, %s)
			SELECT %d - k * 86400, id, CASE j WHEN 0 THEN 0 ELSE k * %d + (id * 17 + j) %% %d + 1 END, %s
			FROM (SELECT k, id, j, k + id + j AS n FROM d, dev, p)`,
			yearDevices, PairsPerDay, usageCols, day, yearRemotes, yearRemotes, usage),
		fmt.Sprintf(`WITH RECURSIVE d(k) AS (SELECT 0 UNION ALL SELECT k + 1 FROM d WHERE k < 34),
			dev(id) AS (SELECT 1 UNION ALL SELECT id + 1 FROM dev WHERE id < %d),
			s(j) AS (SELECT 0 UNION ALL SELECT j + 1 FROM s WHERE j < 5)
			INSERT INTO service_usage (start, device_id, service, %s) SELECT %d - k * 86400, id, j, %s FROM (SELECT k, id, j, k + id + j AS n FROM d, dev, s)`,
			yearDevices, usageCols, day, usage),
		`UPDATE record_state SET pruned_at = ` + fmt.Sprint(yearNow.UnixMilli()),
	}
	for _, s := range stmts {
		if _, err := r.sql.ExecContext(ctx, s); err != nil {
			return fmt.Errorf("build the year: %w", err)
		}
	}
	if _, err := r.sql.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		return err
	}
	return nil
}

// BenchmarkRecordYear reports the size of a year's record for 100
// devices and 2,000 remote hosts a day, and times the reads the issue
// sets targets for: the device list for 30 days (< 20 ms) and one
// device's 400 daily buckets (< 10 ms).
func BenchmarkRecordYear(b *testing.B) {
	r := yearRecord(b)
	ctx := context.Background()
	fi, err := os.Stat(yearPath)
	if err != nil {
		b.Fatal(err)
	}
	thirty := history.Span{From: yearNow.Add(-30 * 24 * time.Hour), To: yearNow}
	b.Run("device-list-30d", func(b *testing.B) {
		tiles := history.DefaultKeep.Tiles(history.Calendar{}, thirty, yearNow)
		for b.Loop() {
			got, err := r.DeviceTotals(ctx, tiles)
			if err != nil || len(got) != yearDevices {
				b.Fatalf("%d devices, %v", len(got), err)
			}
		}
		b.ReportMetric(float64(fi.Size())/(1<<20), "MiB-db")
	})
	b.Run("device-400-days", func(b *testing.B) {
		span := history.Span{From: yearNow.Add(-400 * 24 * time.Hour), To: yearNow}
		for b.Loop() {
			pts, err := r.DeviceHistory(ctx, "aa:bb:cc:dd:00:2a", history.Day, span)
			if err != nil || len(pts) < 399 {
				b.Fatalf("%d days, %v", len(pts), err)
			}
		}
	})
	b.Run("remote-list-30d", func(b *testing.B) {
		for b.Loop() {
			if _, err := r.RemoteTotals(ctx, thirty); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkCommit times a commit of five minutes of growth for 100
// devices and 5,000 remote hosts (each device with 50 of them) onto a
// year's record (< 50 ms) and reports the bytes it wrote to the WAL
// (< 1 MB).
func BenchmarkCommit(b *testing.B) {
	r := yearRecord(b)
	ctx := context.Background()
	i := 0
	var wrote int64
	for b.Loop() {
		i++
		now := yearNow.Add(time.Duration(i) * 5 * time.Minute)
		batch := fiveMinutes(now, i)
		b.StopTimer()
		before := walSize(r.Path())
		b.StartTimer()
		if _, err := r.Commit(ctx, now, batch, CommitInfo{BootID: "bench", Retention: DefaultRetention}); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		wrote += walSize(r.Path()) - before
		if walSize(r.Path()) > 64<<20 {
			r.sql.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`) //nolint:errcheck // bench housekeeping
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(wrote)/float64(b.N), "wal-B/commit")
}

// walSize is the size of path's WAL; a WAL restarted by a checkpoint may
// shrink, so the figure is right when no checkpoint ran in between.
func walSize(path string) int64 {
	fi, err := os.Stat(path + "-wal")
	if err != nil {
		return 0
	}
	return fi.Size()
}

// fiveMinutes is a batch of five minutes' growth at now: 100 devices,
// 5,000 remote hosts, each device talking to 50 of them on one service.
func fiveMinutes(now time.Time, seq int) *history.Batch {
	b := &history.Batch{
		Devices: map[history.DeviceKey]history.Usage{}, Remotes: map[history.RemoteKey]history.Usage{},
		Pairs: map[history.PairKey]history.Usage{}, Services: map[history.ServiceKey]history.Usage{},
		Totals: map[string]history.Usage{}, Seen: map[string]history.Seen{}, Addrs: map[history.AddrKey]time.Time{},
		RemoteSeen: map[netip.Addr]time.Time{},
	}
	cal := history.Calendar{}
	day := cal.Start(history.Day, now).Unix()
	for d := range yearDevices {
		dev := fmt.Sprintf("aa:bb:cc:dd:%02x:%02x", (d+1)/256, (d+1)%256)
		g := u(uint64(1000+d), uint64(10000+d*seq), 1)
		for _, res := range history.Resolutions {
			b.Devices[history.DeviceKey{Device: dev, Res: res, Start: cal.Start(res, now).Unix()}] = g
		}
		b.Totals[dev] = g
		b.Seen[dev] = history.Seen{First: now, Last: now}
		b.Addrs[history.AddrKey{Device: dev, Addr: netip.AddrFrom4([4]byte{10, 0, byte(d / 250), byte(d%250 + 1)})}] = now
		b.Services[history.ServiceKey{Device: dev, Start: day, Service: history.HTTPS}] = g
		for j := range PairsPerDay {
			rem := netip.AddrFrom4([4]byte{198, 18, byte((d*50 + j) / 256), byte((d*50 + j) % 256)})
			b.Pairs[history.PairKey{Device: dev, Start: day, Remote: rem}] = u(uint64(j+seq), 1, 1)
			b.Remotes[history.RemoteKey{Remote: rem, Start: day}] = u(uint64(j+seq), 1, 1)
			if _, ok := b.RemoteSeen[rem]; !ok {
				b.RemoteSeen[rem] = now
			}
		}
	}
	return b
}
