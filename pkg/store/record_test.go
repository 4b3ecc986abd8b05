package store

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/netmon-dev/netmon/pkg/conntrack"
	"github.com/netmon-dev/netmon/pkg/device"
	"github.com/netmon-dev/netmon/pkg/history"
)

func openRecord(t testing.TB) *Record {
	t.Helper()
	r, err := OpenRecord(context.Background(), filepath.Join(t.TempDir(), "netmon.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

var recT0 = time.Date(2026, 11, 25, 17, 2, 0, 0, time.UTC)

func u(up, down uint64, conns uint64) history.Usage {
	return history.Usage{Counters: conntrack.Counters{UplinkBytes: up, DownlinkBytes: down, UplinkPackets: 1, DownlinkPackets: 1}, Connections: conns}
}

// batchAt builds the batch an Accumulator would for growth g of device
// dev with remote rem at t: every resolution, the day of the remote, the
// pair, the https service, the totals and the times.
func batchAt(t time.Time, dev string, rem netip.Addr, g history.Usage) *history.Batch {
	cal := history.Calendar{}
	b := &history.Batch{
		Devices: map[history.DeviceKey]history.Usage{}, Remotes: map[history.RemoteKey]history.Usage{},
		Pairs: map[history.PairKey]history.Usage{}, Services: map[history.ServiceKey]history.Usage{},
		Totals: map[string]history.Usage{dev: g}, Seen: map[string]history.Seen{dev: {First: t, Last: t}},
		Addrs:      map[history.AddrKey]time.Time{{Device: dev, Addr: netip.MustParseAddr("10.0.0.5")}: t},
		RemoteSeen: map[netip.Addr]time.Time{rem: t},
	}
	for _, r := range history.Resolutions {
		b.Devices[history.DeviceKey{Device: dev, Res: r, Start: cal.Start(r, t).Unix()}] = g
	}
	day := cal.Start(history.Day, t).Unix()
	b.Remotes[history.RemoteKey{Remote: rem, Start: day}] = g
	b.Pairs[history.PairKey{Device: dev, Start: day, Remote: rem}] = g
	b.Services[history.ServiceKey{Device: dev, Start: day, Service: history.HTTPS}] = g
	return b
}

func commit(t testing.TB, r *Record, now time.Time, b *history.Batch) CommitResult {
	t.Helper()
	res, err := r.Commit(context.Background(), now, b, CommitInfo{BootID: "boot-1", Retention: DefaultRetention})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

var totalOpts = []cmp.Option{cmpopts.EquateComparable(netip.Addr{}), cmpopts.EquateEmpty()}

func TestCommitAndRead(t *testing.T) {
	ctx := context.Background()
	r := openRecord(t)
	rem1, rem2 := netip.MustParseAddr("203.0.113.80"), netip.MustParseAddr("2001:db8::80")
	commit(t, r, recT0, batchAt(recT0, "ip:10.0.0.5", rem1, u(100, 1000, 1)))
	commit(t, r, recT0.Add(10*time.Minute), batchAt(recT0.Add(10*time.Minute), "ip:10.0.0.5", rem2, u(50, 500, 1)))
	commit(t, r, recT0.Add(time.Hour), batchAt(recT0.Add(time.Hour), "aa:bb:cc:dd:ee:01", rem1, u(7, 7, 2)))

	day := history.Span{From: time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)}
	got, err := r.DeviceTotals(ctx, []history.Tile{{Res: history.Hour, Span: day}})
	if err != nil {
		t.Fatal(err)
	}
	want := []history.Total{
		{Device: "ip:10.0.0.5", Usage: history.Usage{Counters: conntrack.Counters{UplinkBytes: 150, DownlinkBytes: 1500, UplinkPackets: 2, DownlinkPackets: 2}, Connections: 2}},
		{Device: "aa:bb:cc:dd:ee:01", Usage: u(7, 7, 2)},
	}
	if diff := cmp.Diff(want, got, totalOpts...); diff != "" {
		t.Errorf("device totals for the day (-want +got):\n%s", diff)
	}
	// The first hour alone: the third commit's growth is in the next.
	hour := history.Span{From: recT0.Truncate(time.Hour), To: recT0.Truncate(time.Hour).Add(time.Hour)}
	if got, _ := r.DeviceTotals(ctx, []history.Tile{{Res: history.FiveMin, Span: hour}}); len(got) != 1 || got[0].UplinkBytes != 150 {
		t.Errorf("the first hour from 5-minute buckets: %+v", got)
	}
	pts, err := r.DeviceHistory(ctx, "ip:10.0.0.5", history.FiveMin, day)
	if err != nil {
		t.Fatal(err)
	}
	wantPts := []history.Point{
		{Start: time.Date(2026, 11, 25, 17, 0, 0, 0, time.UTC), Usage: u(100, 1000, 1)},
		{Start: time.Date(2026, 11, 25, 17, 10, 0, 0, time.UTC), Usage: u(50, 500, 1)},
	}
	if diff := cmp.Diff(wantPts, pts); diff != "" {
		t.Errorf("5-minute history (-want +got):\n%s", diff)
	}
	rems, err := r.RemoteTotals(ctx, day)
	if err != nil {
		t.Fatal(err)
	}
	if len(rems) != 2 || rems[0].Remote != rem1 || rems[0].TotalBytes() != 1114 || rems[1].Remote != rem2 {
		t.Errorf("remote totals: %+v", rems)
	}
	pairs, err := r.DeviceRemotes(ctx, "ip:10.0.0.5", day)
	if err != nil {
		t.Fatal(err)
	}
	if len(pairs) != 2 || pairs[0].Remote != rem1 || pairs[1].Remote != rem2 {
		t.Errorf("the device's remote hosts: %+v", pairs)
	}
	devs, err := r.RemoteDevices(ctx, rem1, day)
	if err != nil {
		t.Fatal(err)
	}
	if len(devs) != 2 || devs[0].Device != "ip:10.0.0.5" {
		t.Errorf("the remote host's devices: %+v", devs)
	}
	life, err := r.DeviceTotalsForever(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(life) != 2 || life[1].Device != "ip:10.0.0.5" || life[1].UplinkBytes != 150 {
		t.Errorf("lifetime totals: %+v", life)
	}
	st, err := r.State(ctx)
	if err != nil || st.Commits != 3 || st.BootID != "boot-1" || !st.LastCommitAt.Equal(recT0.Add(time.Hour)) {
		t.Errorf("state %+v, %v", st, err)
	}
}

// TestCommitNothing: an empty batch writes not one byte.
func TestCommitNothing(t *testing.T) {
	r := openRecord(t)
	commit(t, r, recT0, batchAt(recT0, "ip:10.0.0.5", netip.MustParseAddr("203.0.113.80"), u(1, 1, 1)))
	r.closeIdle()
	before := fileBytes(t, r.Path())
	for _, b := range []*history.Batch{nil, {}} {
		if res := commit(t, r, recT0.Add(time.Minute), b); res != (CommitResult{}) {
			t.Errorf("empty commit: %+v", res)
		}
	}
	if after := fileBytes(t, r.Path()); after != before {
		t.Error("an empty commit changed the files")
	}
}

// fileBytes is the database and its WAL, as one string.
func fileBytes(t *testing.T, path string) string {
	t.Helper()
	db, _ := os.ReadFile(path)
	wal, _ := os.ReadFile(path + "-wal")
	return string(db) + string(wal)
}

// TestCommitFails: a commit that fails writes nothing, and the same batch
// committed again counts once.
func TestCommitFails(t *testing.T) {
	ctx := context.Background()
	r := openRecord(t)
	b := batchAt(recT0, "ip:10.0.0.5", netip.MustParseAddr("203.0.113.80"), u(100, 100, 1))
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := r.Commit(cancelled, recT0, b, CommitInfo{Retention: DefaultRetention}); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled commit: %v", err)
	}
	commit(t, r, recT0, b)
	got, _ := r.DeviceTotalsForever(ctx)
	if len(got) != 1 || got[0].UplinkBytes != 100 {
		t.Errorf("after a failed and a good commit: %+v, want 100 once", got)
	}
}

// TestTopRemotesPerDay: a device keeps its PairsPerDay biggest remote
// hosts of a day by name; a remote host that moved more displaces the
// smallest into "other", one that moved less goes there itself, and no
// byte is lost.
func TestTopRemotesPerDay(t *testing.T) {
	ctx := context.Background()
	r := openRecord(t)
	var sum uint64
	for i := range PairsPerDay + 2 {
		rem := netip.AddrFrom4([4]byte{203, 0, 113, byte(i + 1)})
		size := uint64(1000 + i)
		if i == PairsPerDay { // one small newcomer, one big one
			size = 10
		}
		if i == PairsPerDay+1 {
			size = 100000
		}
		sum += 2 * size
		commit(t, r, recT0.Add(time.Duration(i)*time.Second), batchAt(recT0, "ip:10.0.0.5", rem, u(size, size, 1)))
	}
	day := history.Span{From: time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)}
	pairs, err := r.DeviceRemotes(ctx, "ip:10.0.0.5", day)
	if err != nil {
		t.Fatal(err)
	}
	var total uint64
	named := 0
	for _, p := range pairs {
		total += p.TotalBytes()
		if p.Remote.IsValid() {
			named++
		}
	}
	other := pairs[len(pairs)-1]
	if named != PairsPerDay || total != sum || other.Remote.IsValid() {
		t.Fatalf("%d named remote hosts, %d bytes in all (want %d, %d), last %+v", named, total, PairsPerDay, sum, other)
	}
	if pairs[0].Remote != netip.AddrFrom4([4]byte{203, 0, 113, PairsPerDay + 2}) {
		t.Errorf("the big newcomer is not first: %+v", pairs[0])
	}
	if want := uint64(2 * (10 + 1000)); other.TotalBytes() != want {
		t.Errorf("other holds %d bytes, want the small newcomer and the displaced smallest: %d", other.TotalBytes(), want)
	}
}

// TestPrune: buckets past the retention go, at most every pruneEvery.
func TestPrune(t *testing.T) {
	ctx := context.Background()
	r := openRecord(t)
	old := recT0.Add(-72 * time.Hour)
	commit(t, r, old, batchAt(old, "ip:10.0.0.5", netip.MustParseAddr("203.0.113.80"), u(1, 1, 1)))
	res := commit(t, r, recT0, batchAt(recT0, "ip:10.0.0.5", netip.MustParseAddr("203.0.113.80"), u(2, 2, 1)))
	if res.Pruned != 1 {
		t.Errorf("pruned %d rows, want the one 5-minute bucket older than 48 h", res.Pruned)
	}
	pts, err := r.DeviceHistory(ctx, "ip:10.0.0.5", history.FiveMin, history.Span{From: old.Add(-time.Hour), To: recT0.Add(time.Hour)})
	if err != nil || len(pts) != 1 {
		t.Errorf("5-minute buckets after pruning: %+v, %v", pts, err)
	}
	if res := commit(t, r, recT0.Add(time.Hour), batchAt(recT0.Add(-50*time.Hour), "ip:10.0.0.5", netip.MustParseAddr("203.0.113.80"), u(1, 1, 1))); res.Pruned != 0 {
		t.Errorf("pruned %d rows an hour after the last pruning", res.Pruned)
	}
}

// TestCommitManyDevices: ids stay right past the remote-id cache.
func TestCommitManyDevices(t *testing.T) {
	ctx := context.Background()
	r := openRecord(t)
	for i := range 300 {
		dev := "ip:10.0." + strconv.Itoa(i/250) + "." + strconv.Itoa(i%250)
		commit(t, r, recT0, batchAt(recT0, dev, netip.AddrFrom4([4]byte{198, 18, byte(i / 250), byte(i % 250)}), u(uint64(i), 0, 1)))
	}
	got, err := r.DeviceTotalsForever(ctx)
	if err != nil || len(got) != 300 {
		t.Fatalf("%d devices, %v", len(got), err)
	}
	for _, d := range got {
		if d.Device == "ip:10.0.1.49" && d.UplinkBytes != 299 {
			t.Errorf("%s: %+v", d.Device, d.Usage)
		}
	}
}

// TestPruneRemotes: a remote host no bucket mentions any more is
// forgotten, and one seen again afterwards is a new row with its traffic.
func TestPruneRemotes(t *testing.T) {
	ctx := context.Background()
	r := openRecord(t)
	x, y := netip.MustParseAddr("203.0.113.80"), netip.MustParseAddr("203.0.113.81")
	old := recT0.Add(-410 * 24 * time.Hour)
	commit(t, r, old, batchAt(old, "ip:10.0.0.5", x, u(1, 1, 1)))
	commit(t, r, recT0, batchAt(recT0, "ip:10.0.0.5", y, u(2, 2, 1)))
	var n int
	if err := r.sql.QueryRowContext(ctx, `SELECT count(*) FROM remotes WHERE ip = ?`, x.String()).Scan(&n); err != nil || n != 0 {
		t.Fatalf("the forgotten remote host: %d rows, %v", n, err)
	}
	commit(t, r, recT0.Add(time.Minute), batchAt(recT0.Add(time.Minute), "ip:10.0.0.5", x, u(5, 5, 1)))
	day := history.Span{From: time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC), To: recT0.Add(time.Hour)}
	got, err := r.RemoteTotals(ctx, day)
	if err != nil || len(got) != 2 || got[0].Remote != x || got[0].TotalBytes() != 10 {
		t.Errorf("after the remote host came back: %+v, %v", got, err)
	}
}

// TestCommitDevices: a commit records the registry's devices (names,
// vendors, addresses) even without traffic, writes a device again only
// when it changed, and merges an "ip:" device's history and totals into
// the MAC device it became part of.
func TestCommitDevices(t *testing.T) {
	ctx := context.Background()
	r := openRecord(t)
	rem := netip.MustParseAddr("203.0.113.80")
	lan := netip.MustParseAddr("10.0.0.5")
	commit(t, r, recT0, batchAt(recT0, "ip:10.0.0.5", rem, u(100, 1000, 1)))

	mac, _ := device.ParseMAC("da:a1:19:6e:0f:42")
	phone := device.Device{ID: device.MACID(mac), MAC: mac, Addrs: []netip.Addr{lan}, Name: "kitchen-phone",
		NameSource: device.SourceLease, Vendor: "", Randomized: true, FirstSeen: recT0, LastSeen: recT0.Add(time.Minute)}
	printer := device.Device{ID: "aa:bb:cc:dd:ee:02", Addrs: []netip.Addr{netip.MustParseAddr("10.0.0.9")}, Name: "<b>printer</b>",
		NameSource: device.SourceConfig, FirstSeen: recT0, LastSeen: recT0}
	info := CommitInfo{Retention: DefaultRetention, Devices: []device.Device{phone, printer},
		Merges: []device.Merge{{From: "ip:10.0.0.5", To: phone.ID}}}
	res, err := r.Commit(ctx, recT0.Add(2*time.Minute), batchAt(recT0.Add(2*time.Minute), string(phone.ID), rem, u(5, 5, 1)), info)
	if err != nil {
		t.Fatal(err)
	}
	if res.Rows == 0 {
		t.Fatal("the commit wrote nothing")
	}
	devs, err := r.Devices(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, d := range devs {
		ids = append(ids, string(d.ID))
	}
	if diff := cmp.Diff([]string{"aa:bb:cc:dd:ee:02", "da:a1:19:6e:0f:42"}, ids); diff != "" {
		t.Fatalf("devices after the merge (-want +got):\n%s", diff)
	}
	got := devs[1]
	if got.Name != "kitchen-phone" || got.NameSource != device.SourceLease || !got.Randomized || got.MAC != mac ||
		len(got.Addrs) != 1 || got.Addrs[0] != lan || !got.FirstSeen.Equal(recT0) {
		t.Errorf("the phone: %+v", got)
	}
	if devs[0].Name != "<b>printer</b>" {
		t.Errorf("a hostile name is stored as given: %q", devs[0].Name)
	}
	life, _ := r.DeviceTotalsForever(ctx)
	for _, d := range life {
		if d.Device == string(phone.ID) && d.UplinkBytes != 105 {
			t.Errorf("the phone's lifetime totals %+v, want the ip: device's 100 plus its own 5", d.Usage)
		}
	}
	day := history.Span{From: time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)}
	if pts, _ := r.DeviceHistory(ctx, string(phone.ID), history.Day, day); len(pts) != 1 || pts[0].UplinkBytes != 105 {
		t.Errorf("the phone's day after the merge: %+v", pts)
	}
	// The same devices again: nothing to write, not even record_state.
	if res, err := r.Commit(ctx, recT0.Add(3*time.Minute), nil, CommitInfo{Devices: []device.Device{phone, printer}}); err != nil || res != (CommitResult{}) {
		t.Errorf("an unchanged registry: %+v, %v; want nothing written", res, err)
	}
	// A new name is written.
	phone.Name = "anna-phone"
	if res, err := r.Commit(ctx, recT0.Add(4*time.Minute), nil, CommitInfo{Devices: []device.Device{phone, printer}}); err != nil || res.Rows == 0 {
		t.Errorf("a renamed device: %+v, %v", res, err)
	}
}

// TestDeviceAndRemote: the one-device and one-remote-host lookups of the
// Device and Remote host pages find what a commit wrote, and report an
// unknown key as not found, without an error.
func TestDeviceAndRemote(t *testing.T) {
	ctx := context.Background()
	r := openRecord(t)
	rem := netip.MustParseAddr("2001:db8::80")
	mac, _ := device.ParseMAC("00:1b:63:00:00:02")
	printer := device.Device{ID: device.MACID(mac), MAC: mac, Addrs: []netip.Addr{netip.MustParseAddr("10.0.0.9")}, Name: "<b>printer</b>",
		NameSource: device.SourceConfig, Vendor: "Acme", FirstSeen: recT0, LastSeen: recT0.Add(time.Minute)}
	if _, err := r.Commit(ctx, recT0, batchAt(recT0, string(printer.ID), rem, u(1, 2, 1)),
		CommitInfo{Retention: DefaultRetention, Devices: []device.Device{printer}, RemoteNames: map[netip.Addr]RemoteName{
			rem: {Name: "<i>cdn</i>.example", Source: "dns", LearnedAt: recT0}}}); err != nil {
		t.Fatal(err)
	}
	// batchAt saw the device at 10.0.0.5 too, before the registry's 10.0.0.9.
	printer.Addrs = append(printer.Addrs, netip.MustParseAddr("10.0.0.5"))
	t.Run("devices", func(t *testing.T) {
		for _, tc := range []struct {
			id    string
			want  device.Device
			found bool
		}{
			{id: "00:1b:63:00:00:02", want: printer, found: true},
			{id: "00:1b:63:00:00:03"},
			{id: "ip:10.0.0.9"},
		} {
			got, found, err := r.Device(ctx, tc.id)
			if err != nil {
				t.Fatal(err)
			}
			if found != tc.found {
				t.Errorf("Device(%s): found %v, want %v", tc.id, found, tc.found)
			}
			if diff := cmp.Diff(tc.want, got, cmpopts.EquateComparable(netip.Addr{}, device.MAC{})); diff != "" {
				t.Errorf("Device(%s) (-want +got):\n%s", tc.id, diff)
			}
		}
	})
	t.Run("remotes", func(t *testing.T) {
		for _, tc := range []struct {
			addr  netip.Addr
			want  history.Remote
			found bool
		}{
			{addr: rem, found: true, want: history.Remote{Addr: rem, Name: "<i>cdn</i>.example", NameSource: "dns", FirstSeen: recT0}},
			{addr: netip.MustParseAddr("203.0.113.1")},
		} {
			got, found, err := r.Remote(ctx, tc.addr)
			if err != nil {
				t.Fatal(err)
			}
			if found != tc.found {
				t.Errorf("Remote(%s): found %v, want %v", tc.addr, found, tc.found)
			}
			if diff := cmp.Diff(tc.want, got, cmpopts.EquateComparable(netip.Addr{})); diff != "" {
				t.Errorf("Remote(%s) (-want +got):\n%s", tc.addr, diff)
			}
		}
	})
}
