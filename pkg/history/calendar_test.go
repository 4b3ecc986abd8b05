package history

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func berlin(t *testing.T) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Skipf("no time zone data: %v", err)
	}
	return loc
}

func TestStartNext(t *testing.T) {
	loc := berlin(t)
	at := func(s string) time.Time {
		v, err := time.ParseInLocation("2006-01-02 15:04:05", s, loc)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	cal := Calendar{Loc: loc}
	tests := []struct {
		name        string
		res         Res
		t           string
		start, next string
	}{
		{"5m", FiveMin, "2026-11-25 17:03:59", "2026-11-25 17:00:00", "2026-11-25 17:05:00"},
		{"hour", Hour, "2026-11-25 17:59:59", "2026-11-25 17:00:00", "2026-11-25 18:00:00"},
		{"day is local", Day, "2026-11-25 00:30:00", "2026-11-25 00:00:00", "2026-11-26 00:00:00"},
		{"day with the spring change has 23 hours", Day, "2026-03-29 12:00:00", "2026-03-29 00:00:00", "2026-03-30 00:00:00"},
		{"month", Month, "2026-12-31 23:59:59", "2026-12-01 00:00:00", "2027-01-01 00:00:00"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			start := cal.Start(tc.res, at(tc.t))
			got := []string{start.In(loc).Format(time.DateTime), cal.Next(tc.res, start).In(loc).Format(time.DateTime)}
			if diff := cmp.Diff([]string{tc.start, tc.next}, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	spring := cal.Start(Day, at("2026-03-29 12:00:00"))
	if d := cal.Next(Day, spring).Sub(spring); d != 23*time.Hour {
		t.Errorf("the spring day lasts %v, want 23h", d)
	}
}

func TestPeriod(t *testing.T) {
	loc := berlin(t)
	now := time.Date(2026, 12, 1, 19, 30, 0, 0, loc) // a Tuesday
	day := func(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, loc) }
	tests := []struct {
		name       string
		billingDay int
		want       Span
	}{
		{"today", 0, Span{day(2026, 12, 1), now}},
		{"yesterday", 0, Span{day(2026, 11, 30), day(2026, 12, 1)}},
		{"24h", 0, Span{now.Add(-24 * time.Hour), now}},
		{"7d", 0, Span{now.Add(-7 * 24 * time.Hour), now}},
		{"30d", 0, Span{now.Add(-30 * 24 * time.Hour), now}},
		{"week", 0, Span{day(2026, 11, 30), now}},
		{"month", 0, Span{day(2026, 12, 1), now}},
		{"billing", 0, Span{day(2026, 12, 1), now}},
		{"billing", 15, Span{day(2026, 11, 15), now}},
		{"last-billing", 15, Span{day(2026, 10, 15), day(2026, 11, 15)}},
		{"billing", 1, Span{day(2026, 12, 1), now}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Calendar{Loc: loc, BillingDay: tc.billingDay}.Period(tc.name, now)
			if err != nil {
				t.Fatal(err)
			}
			if !got.From.Equal(tc.want.From) || !got.To.Equal(tc.want.To) {
				t.Errorf("billing day %d: %v .. %v, want %v .. %v", tc.billingDay, got.From, got.To, tc.want.From, tc.want.To)
			}
		})
	}
	for _, tc := range []struct {
		name string
		want time.Duration
	}{
		{"48h", 48 * time.Hour},
		{"1h", time.Hour},
		{"400d", 400 * 24 * time.Hour},
		{"3660d", 3660 * 24 * time.Hour},
	} {
		got, err := (Calendar{}).Period(tc.name, now)
		if err != nil || !got.From.Equal(now.Add(-tc.want)) || !got.To.Equal(now) {
			t.Errorf("%s: %v .. %v, %v; want %v back to now", tc.name, got.From, got.To, err, tc.want)
		}
	}
	for _, bad := range []string{"fortnight", "0d", "-1d", "d", "h", "1.5d", "1e3h", "3661d", "87841h", "12345678d", "7D2", "7w"} {
		if _, err := (Calendar{}).Period(bad, now); err == nil {
			t.Errorf("period %q gave no error", bad)
		}
	}
}

func TestKeepFor(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		back time.Duration
		want Res
	}{
		{time.Hour, FiveMin},
		{48 * time.Hour, FiveMin},
		{49 * time.Hour, Hour},
		{30 * 24 * time.Hour, Hour},
		{100 * 24 * time.Hour, Day},
		{500 * 24 * time.Hour, Month},
	}
	for _, tc := range tests {
		if got := DefaultKeep.For(Span{now.Add(-tc.back), now}, now); got != tc.want {
			t.Errorf("a span of %v: %v, want %v", tc.back, got, tc.want)
		}
	}
}

func TestResText(t *testing.T) {
	for _, r := range Resolutions {
		back, err := ParseRes(r.String())
		if err != nil || back != r {
			t.Errorf("%v: ParseRes gives %v, %v", r, back, err)
		}
	}
	if _, err := ParseRes("week"); err == nil {
		t.Error("ParseRes(week): no error")
	}
}

func TestTiles(t *testing.T) {
	loc := berlin(t)
	now := time.Date(2026, 12, 1, 19, 30, 0, 0, loc)
	day := func(m time.Month, d int) time.Time { return time.Date(2026, m, d, 0, 0, 0, 0, loc) }
	cal := Calendar{Loc: loc}
	tests := []struct {
		name string
		s    Span
		want []Tile
	}{
		{"today: whole hours, then 5 minutes", Span{day(12, 1), now}, []Tile{
			{Hour, Span{day(12, 1), now.Truncate(time.Hour)}},
			{FiveMin, Span{now.Truncate(time.Hour), now}},
		}},
		{"yesterday is one day", Span{day(11, 30), day(12, 1)}, []Tile{{Day, Span{day(11, 30), day(12, 1)}}}},
		{"30d: hours, whole days, hours, 5 minutes", Span{now.Add(-30 * 24 * time.Hour), now}, []Tile{
			{Hour, Span{now.Add(-30 * 24 * time.Hour), day(11, 2)}},
			{Day, Span{day(11, 2), day(12, 1)}},
			{Hour, Span{day(12, 1), now.Truncate(time.Hour)}},
			{FiveMin, Span{now.Truncate(time.Hour), now}},
		}},
		{"a billing month so far", Span{day(11, 15), now}, []Tile{
			{Day, Span{day(11, 15), day(12, 1)}},
			{Hour, Span{day(12, 1), now.Truncate(time.Hour)}},
			{FiveMin, Span{now.Truncate(time.Hour), now}},
		}},
		{"400 days ago is past the daily buckets: months", Span{now.Add(-500 * 24 * time.Hour), now.Add(-450 * 24 * time.Hour)}, []Tile{
			{Month, Span{now.Add(-500 * 24 * time.Hour), now.Add(-450 * 24 * time.Hour)}},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := DefaultKeep.Tiles(cal, tc.s, now)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}
