package store

import (
	"context"
	"database/sql"
	"fmt"
	"net/netip"
	"sync"
	"time"

	"github.com/netmon-dev/netmon/pkg/device"
	"github.com/netmon-dev/netmon/pkg/history"
)

// Record is the durable accounting record at db_path, on flash: devices,
// remote hosts, and their traffic per bucket (pkg/history), written in one
// transaction per commit interval. Its read methods are safe for
// concurrent use and may run in any number of processes at once.
type Record struct {
	handle

	mu      sync.Mutex // serialises commits and guards the caches
	devices map[string]int64
	remotes map[netip.Addr]int64 // a bounded cache: see remoteCache
	written map[device.ID]string // what the commits wrote of each device (see fingerprint)
}

// remoteCache bounds the remote-id cache: about the remote hosts of a busy
// day; past it the cache starts again (ids are looked up once more).
const remoteCache = 16384

// OpenRecord opens (creating it if needed) the record at path and brings
// its schema up to date, upgrading a file of netmon's first schema in
// place (migrations/record/0003). See open for the rules and errors.
func OpenRecord(ctx context.Context, path string, opts ...Option) (*Record, error) {
	h, err := open(ctx, path, "record", append([]Option{withCache(recordCacheKiB)}, opts...)...)
	if err != nil {
		return nil, err
	}
	return &Record{handle: *h}, nil
}

// Close closes the record. A commit in progress finishes first.
func (r *Record) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.close()
}

// RecordState is the record's bookkeeping row.
type RecordState struct {
	Commits      int64
	LastCommitAt time.Time // zero before the first commit
	BootID       string    // the kernel's boot id at the last commit
}

// State reads the bookkeeping row.
func (r *Record) State(ctx context.Context) (RecordState, error) {
	var (
		st RecordState
		at sql.NullInt64
	)
	err := r.sql.QueryRowContext(ctx, `SELECT commits, last_commit_at, boot_id FROM record_state WHERE id = 1`).
		Scan(&st.Commits, &at, &st.BootID)
	if err != nil {
		return st, r.readFailed(fmt.Errorf("read record state: %w", err))
	}
	if at.Valid {
		st.LastCommitAt = fromMillis(at.Int64)
	}
	return st, nil
}

// Retention is how long the record keeps each kind of bucket (0: for
// ever): device buckets by resolution, remote hosts' days, and devices'
// days with their top remote hosts and services.
type Retention struct {
	Device history.Keep
	Remote time.Duration
	Pair   time.Duration
}

// DefaultRetention is issue 14's: history.DefaultKeep for devices, 400
// days of remote hosts, 35 days of each device's top remote hosts.
var DefaultRetention = Retention{Device: history.DefaultKeep, Remote: 400 * 24 * time.Hour, Pair: 35 * 24 * time.Hour}

// usageCols are the columns of every usage table after its key, in the
// order usageArgs gives them.
const usageCols = `uplink_bytes, downlink_bytes, uplink_packets, downlink_packets, connections`

// usageAdd is the upsert that adds a row's growth to the stored one.
const usageAdd = ` DO UPDATE SET uplink_bytes = uplink_bytes + excluded.uplink_bytes,
	downlink_bytes = downlink_bytes + excluded.downlink_bytes,
	uplink_packets = uplink_packets + excluded.uplink_packets,
	downlink_packets = downlink_packets + excluded.downlink_packets,
	connections = connections + excluded.connections`

func usageArgs(u history.Usage) []any {
	return []any{saturate(u.UplinkBytes), saturate(u.DownlinkBytes), saturate(u.UplinkPackets),
		saturate(u.DownlinkPackets), saturate(u.Connections)}
}

// scanUsage scans the five usage columns.
func scanUsage(u *history.Usage) []any {
	return []any{(*counter)(&u.UplinkBytes), (*counter)(&u.DownlinkBytes), (*counter)(&u.UplinkPackets),
		(*counter)(&u.DownlinkPackets), (*counter)(&u.Connections)}
}

// counter scans a stored counter (never negative, saturated) into a
// uint64.
type counter uint64

func (c *counter) Scan(v any) error {
	n, ok := v.(int64)
	if !ok {
		return fmt.Errorf("counter: %T is not an integer", v)
	}
	*c = counter(unsigned(n))
	return nil
}
