package alert

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/netmon-dev/netmon/pkg/history"
)

func TestTally(t *testing.T) {
	cal := history.Calendar{Loc: time.UTC, BillingDay: 26}
	tl := &Tally{Cal: cal}
	now := time.Date(2026, 11, 25, 23, 0, 0, 0, time.UTC)
	tl.Seed(now, map[string]uint64{"a": 100}, map[string]uint64{"a": 1000, "b": 50})
	if got := tl.Take(now); got != nil {
		t.Errorf("Take with no growth = %v", got)
	}
	tl.Add(now, "a", 10)
	tl.Add(now, "c", 0)
	day := time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)
	bill := time.Date(2026, 10, 26, 0, 0, 0, 0, time.UTC)
	want := []Usage{
		{Device: "a", At: now, Day: Volume{day, 110}, Billing: Volume{bill, 1010}},
		{Device: LAN, At: now, Day: Volume{day, 110}, Billing: Volume{bill, 1060}},
	}
	if diff := cmp.Diff(want, tl.Take(now)); diff != "" {
		t.Errorf("usage (-want +got)\n%s", diff)
	}
	// Midnight starts a new day and, on the 26th, a new billing period.
	next := now.Add(2 * time.Hour)
	tl.Add(next, "b", 7)
	day2, bill2 := time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC), time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)
	want = []Usage{
		{Device: "b", At: next, Day: Volume{day2, 7}, Billing: Volume{bill2, 7}},
		{Device: LAN, At: next, Day: Volume{day2, 7}, Billing: Volume{bill2, 7}},
	}
	if diff := cmp.Diff(want, tl.Take(next)); diff != "" {
		t.Errorf("usage after midnight (-want +got)\n%s", diff)
	}
}
