package store

import (
	"context"
	"database/sql"
	"net/netip"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/netmon-dev/netmon/pkg/alert"
)

var (
	_ alert.Store  = (*Record)(nil)
	_ alert.Outbox = (*Record)(nil)
)

var alertOpts = []cmp.Option{cmpopts.EquateComparable(netip.Addr{}, netip.Prefix{}), cmpopts.EquateEmpty()}

func testAlert(id string, kind alert.Kind, at time.Time) alert.Alert {
	d := alert.Device{ID: "aa:bb:cc:dd:ee:01", Name: `"><script>x</script>` + "\n", Addr: netip.MustParseAddr("10.0.0.7"),
		Destinations: []netip.Addr{netip.MustParseAddr("203.0.113.80")}}
	return alert.Alert{ID: id, Kind: kind, Severity: alert.Warning, At: at, Title: "t " + id, Message: "m", Device: &d}
}

func save(t *testing.T, r *Record, now time.Time, ch alert.Changes) {
	t.Helper()
	if err := r.Save(context.Background(), now, ch); err != nil {
		t.Fatal(err)
	}
}

func TestAlertMemory(t *testing.T) {
	ctx := context.Background()
	r := openRecord(t)
	got, err := r.Memory(ctx)
	if err != nil || len(got) != 0 {
		t.Fatalf("fresh memory = %v, %v; want none", got, err)
	}
	t1, t2 := recT0, recT0.Add(time.Hour)
	save(t, r, t1, alert.Changes{Remember: []alert.Memory{
		{Kind: alert.MemStart, At: t1},
		{Kind: alert.MemDevice, Key: "aa:bb:cc:dd:ee:01", At: t1},
		{Kind: alert.MemDest, Key: "aa:bb:cc:dd:ee:01|203.0.113.0/24", At: t1},
	}})
	save(t, r, t2, alert.Changes{
		Remember: []alert.Memory{{Kind: alert.MemDest, Key: "aa:bb:cc:dd:ee:01|203.0.113.0/24", At: t2}},
		Forget:   []alert.Memory{{Kind: alert.MemDevice, Key: "aa:bb:cc:dd:ee:01"}},
	})
	got, err = r.Memory(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []alert.Memory{
		{Kind: alert.MemDest, Key: "aa:bb:cc:dd:ee:01|203.0.113.0/24", At: t2},
		{Kind: alert.MemStart, At: t1},
	}
	if diff := cmp.Diff(want, got, cmpopts.SortSlices(func(a, b alert.Memory) bool { return a.Kind < b.Kind })); diff != "" {
		t.Errorf("memory (-want +got)\n%s", diff)
	}
}

func TestOutbox(t *testing.T) {
	ctx := context.Background()
	r := openRecord(t)
	a1, a2 := testAlert("a1", alert.NewDevice, recT0), testAlert("a2", alert.Quota, recT0)
	save(t, r, recT0, alert.Changes{Alerts: []alert.Outgoing{{Alert: a1, Sinks: []string{"hook", "log"}}}})
	// The same id again (a rule raising its event twice) changes nothing.
	again := a1
	again.Title = "changed"
	save(t, r, recT0.Add(time.Second), alert.Changes{Alerts: []alert.Outgoing{{Alert: again, Sinks: []string{"hook", "phone"}}, {Alert: a2, Sinks: []string{"hook"}}}})

	due, err := r.Due(ctx, "hook", recT0.Add(time.Second), 10)
	if err != nil {
		t.Fatal(err)
	}
	want := []alert.Due{{Alert: a1, Sink: "hook", Created: recT0}, {Alert: a2, Sink: "hook", Created: recT0.Add(time.Second)}}
	if diff := cmp.Diff(want, due, alertOpts...); diff != "" {
		t.Fatalf("due (-want +got)\n%s", diff)
	}
	if due, _ := r.Due(ctx, "phone", recT0.Add(time.Hour), 10); len(due) != 0 {
		t.Errorf("the repeated alert got a delivery to its new sink: %v", due)
	}
	if due, _ := r.Due(ctx, "hook", recT0, 10); len(due) != 1 {
		t.Errorf("due at the first save's time: %d, want 1", len(due))
	}

	t1 := recT0.Add(time.Minute)
	steps := []struct {
		name string
		do   func() error
	}{
		{"retry a1", func() error { return r.Retry(ctx, "a1", "hook", t1, t1.Add(10*time.Second), "answered 503") }},
		{"deliver a1", func() error { return r.Delivered(ctx, "a1", "hook", t1.Add(10*time.Second)) }},
		{"deliver a1 again", func() error { return r.Delivered(ctx, "a1", "hook", t1.Add(11*time.Second)) }},
		{"give up a2", func() error { return r.GiveUp(ctx, "a2", "hook", t1, "answered 400") }},
		{"deliver to log", func() error { return r.Delivered(ctx, "a1", "log", t1) }},
	}
	for _, s := range steps {
		if err := s.do(); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
	}
	if next, ok, err := r.NextDue(ctx, "hook"); err != nil || ok {
		t.Errorf("NextDue = %v, %v, %v; want none pending", next, ok, err)
	}
	entries, err := r.RecentAlerts(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	wantEntries := []alert.Entry{
		{Alert: a2, Created: recT0.Add(time.Second), Deliveries: []alert.Delivery{
			{Sink: "hook", State: alert.Failed, Attempts: 1, Error: "answered 400"}}},
		{Alert: a1, Created: recT0, Deliveries: []alert.Delivery{
			{Sink: "hook", State: alert.Delivered, Attempts: 2, SentAt: t1.Add(10 * time.Second)},
			{Sink: "log", State: alert.Delivered, Attempts: 1, SentAt: t1}}},
	}
	if diff := cmp.Diff(wantEntries, entries, alertOpts...); diff != "" {
		t.Errorf("recent alerts (-want +got)\n%s", diff)
	}
	if e, _ := r.RecentAlerts(ctx, 1); len(e) != 1 || e[0].ID != "a2" {
		t.Errorf("RecentAlerts(1) = %v, want a2 only", e)
	}
	counts, err := r.AlertCounts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	wantCounts := []alert.Count{
		{Kind: alert.NewDevice, Sink: "hook", Outcome: alert.OutcomeDelivered, N: 1},
		{Kind: alert.NewDevice, Sink: "hook", Outcome: alert.OutcomeRetried, N: 1},
		{Kind: alert.NewDevice, Sink: "log", Outcome: alert.OutcomeDelivered, N: 1},
		{Kind: alert.Quota, Sink: "hook", Outcome: alert.OutcomeFailed, N: 1},
	}
	if diff := cmp.Diff(wantCounts, counts); diff != "" {
		t.Errorf("counts (-want +got)\n%s", diff)
	}
}

func TestOutboxRetryAndFold(t *testing.T) {
	ctx := context.Background()
	r := openRecord(t)
	var out []alert.Outgoing
	for _, id := range []string{"b1", "b2", "b3"} {
		out = append(out, alert.Outgoing{Alert: testAlert(id, alert.NewDestination, recT0), Sinks: []string{"hook"}})
	}
	save(t, r, recT0, alert.Changes{Alerts: out})
	later := recT0.Add(time.Minute)
	if err := r.Retry(ctx, "b1", "hook", recT0, later, "timeout"); err != nil {
		t.Fatal(err)
	}
	if next, ok, err := r.NextDue(ctx, "hook"); err != nil || !ok || !next.Equal(recT0) {
		t.Errorf("NextDue = %v, %v, %v; want %v", next, ok, err, recT0)
	}
	if due, _ := r.Due(ctx, "hook", recT0, 10); len(due) != 2 {
		t.Errorf("due before b1's retry: %d, want 2", len(due))
	}
	sum := alert.Alert{ID: "s1", Kind: alert.Summary, At: recT0, Folded: &alert.Folded{Sink: "hook", Count: 2, Kinds: map[alert.Kind]int{alert.NewDestination: 2}, IDs: []string{"b2", "b3"}}}
	if err := r.Fold(ctx, "hook", []string{"b2", "b3"}, sum, recT0); err != nil {
		t.Fatal(err)
	}
	due, err := r.Due(ctx, "hook", later, 10)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, u := range due {
		ids = append(ids, u.Alert.ID+"/"+string(rune('0'+u.Attempts)))
	}
	if diff := cmp.Diff([]string{"b1/1", "s1/0"}, ids); diff != "" {
		t.Errorf("due after the fold (-want +got)\n%s", diff)
	}
	entries, _ := r.RecentAlerts(ctx, 10)
	folded := 0
	for _, e := range entries {
		for _, d := range e.Deliveries {
			if d.State == alert.FoldedIn && d.FoldedInto == "s1" {
				folded++
			}
		}
	}
	counts, _ := r.AlertCounts(ctx)
	want := []alert.Count{
		{Kind: alert.NewDestination, Sink: "hook", Outcome: alert.OutcomeFolded, N: 2},
		{Kind: alert.NewDestination, Sink: "hook", Outcome: alert.OutcomeRetried, N: 1},
	}
	if diff := cmp.Diff(want, counts); folded != 2 || diff != "" {
		t.Errorf("%d folded into s1, want 2; counts (-want +got)\n%s", folded, diff)
	}
	pending, err := r.PendingAlerts(ctx)
	if err != nil || pending["hook"] != 2 {
		t.Errorf("PendingAlerts = %v, %v; want hook: 2", pending, err)
	}
}

// TestPruneAlerts: an alert older than alertKeep goes with the next save
// that stores alerts, unless a delivery still waits for it; the counts
// stay.
func TestPruneAlerts(t *testing.T) {
	ctx := context.Background()
	r := openRecord(t)
	old := recT0.Add(-alertKeep - time.Hour)
	save(t, r, old, alert.Changes{Alerts: []alert.Outgoing{
		{Alert: testAlert("old-sent", alert.NewDevice, old), Sinks: []string{"hook"}},
		{Alert: testAlert("old-waiting", alert.NewDevice, old), Sinks: []string{"hook"}},
	}})
	if err := r.Delivered(ctx, "old-sent", "hook", old); err != nil {
		t.Fatal(err)
	}
	save(t, r, recT0, alert.Changes{Alerts: []alert.Outgoing{{Alert: testAlert("new", alert.NewDevice, recT0), Sinks: []string{"hook"}}}})
	entries, err := r.RecentAlerts(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, e := range entries {
		ids = append(ids, e.ID)
	}
	if diff := cmp.Diff([]string{"new", "old-waiting"}, ids); diff != "" {
		t.Errorf("after pruning (-want +got)\n%s", diff)
	}
	var orphans int
	if err := r.sql.QueryRow(`SELECT count(*) FROM alert_deliveries WHERE alert_id = 'old-sent'`).Scan(&orphans); err != nil || orphans != 0 {
		t.Errorf("deliveries of the pruned alert: %d, %v", orphans, err)
	}
	if c, _ := r.AlertCounts(ctx); len(c) != 1 || c[0].N != 1 {
		t.Errorf("counts after pruning = %v, want the one delivery", c)
	}
}

// TestAlertMigrationOfOldRecord: a record of schema 3 with devices
// upgrades with them known and its first start at the first device's
// first sighting, so the learning period is over and no device alerts.
func TestAlertMigrationOfOldRecord(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "netmon.db")
	ms, err := loadMigrations(migrationFiles, "record")
	if err != nil {
		t.Fatal(err)
	}
	raw, err := sql.Open("sqlite", dsn(path))
	if err != nil {
		t.Fatal(err)
	}
	if err := migrate(ctx, raw, ms[:3]); err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Exec(`INSERT INTO devices (device, first_seen_at, last_seen_at) VALUES ('ip:10.0.0.5', 5000, 9000), ('aa:bb:cc:dd:ee:01', 7000, 9000)`); err != nil {
		t.Fatal(err)
	}
	raw.Close()
	r, err := OpenRecord(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	got, err := r.Memory(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []alert.Memory{
		{Kind: alert.MemDevice, Key: "aa:bb:cc:dd:ee:01", At: fromMillis(7000)},
		{Kind: alert.MemDevice, Key: "ip:10.0.0.5", At: fromMillis(5000)},
		{Kind: alert.MemStart, At: fromMillis(5000)},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("memory after the upgrade (-want +got)\n%s", diff)
	}
}
