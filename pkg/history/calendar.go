// Package history is the arithmetic of netmon's accounting record, pure:
// which bucket a moment belongs to (5 minutes, hour, day, month, in the
// router's time zone), which span a period names (today, 7d, this billing
// month, ...), which service a flow's port belongs to, and an Accumulator
// that folds each cycle's flows.Delta into the growth per device, remote
// host and bucket that the store commits every commit interval.
package history

import (
	"fmt"
	"strings"
	"time"
)

// Res is the resolution of a bucket.
type Res uint8

// Resolutions. The values are stored in the database: append only.
const (
	FiveMin Res = 1
	Hour    Res = 2
	Day     Res = 3
	Month   Res = 4
)

// Resolutions lists every Res, finest first.
var Resolutions = [...]Res{FiveMin, Hour, Day, Month}

// String returns "5m", "hour", "day" or "month", the words of --by.
func (r Res) String() string {
	switch r {
	case FiveMin:
		return "5m"
	case Hour:
		return "hour"
	case Day:
		return "day"
	case Month:
		return "month"
	}
	return fmt.Sprintf("res(%d)", uint8(r))
}

// ParseRes is the inverse of String.
func ParseRes(s string) (Res, error) {
	for _, r := range Resolutions {
		if r.String() == s {
			return r, nil
		}
	}
	return 0, fmt.Errorf("%q is not a resolution: want 5m, hour, day or month", s)
}

// Calendar places moments in buckets. Five-minute and hourly buckets are
// aligned to the epoch (in every whole-hour time zone that is also the
// local hour); days and months start at local midnight in Loc, so "today"
// and a billing month are exact in the router's time zone, and a day
// across a daylight-saving change has 23 or 25 hours. A bucket is named by
// its start in Unix seconds.
type Calendar struct {
	Loc *time.Location // nil: UTC
	// BillingDay is the day of the month a billing period starts on
	// (1-28, like vnstat's MonthRotate); 0 means 1.
	BillingDay int
}

func (c Calendar) loc() *time.Location {
	if c.Loc == nil {
		return time.UTC
	}
	return c.Loc
}

// Start returns the start of the bucket of resolution r holding t.
func (c Calendar) Start(r Res, t time.Time) time.Time {
	switch r {
	case FiveMin:
		return t.Truncate(5 * time.Minute)
	case Hour:
		return t.Truncate(time.Hour)
	case Day:
		l := t.In(c.loc())
		return time.Date(l.Year(), l.Month(), l.Day(), 0, 0, 0, 0, c.loc())
	case Month:
		l := t.In(c.loc())
		return time.Date(l.Year(), l.Month(), 1, 0, 0, 0, 0, c.loc())
	}
	panic("history: unknown resolution")
}

// Next returns the start of the bucket after the one starting at start.
func (c Calendar) Next(r Res, start time.Time) time.Time {
	switch r {
	case FiveMin:
		return start.Add(5 * time.Minute)
	case Hour:
		return start.Add(time.Hour)
	case Day:
		l := start.In(c.loc())
		return time.Date(l.Year(), l.Month(), l.Day()+1, 0, 0, 0, 0, c.loc())
	case Month:
		l := start.In(c.loc())
		return time.Date(l.Year(), l.Month()+1, 1, 0, 0, 0, 0, c.loc())
	}
	panic("history: unknown resolution")
}

// billing returns the start of the billing period holding t.
func (c Calendar) billing(t time.Time) time.Time {
	day := c.BillingDay
	if day < 1 {
		day = 1
	}
	l := t.In(c.loc())
	start := time.Date(l.Year(), l.Month(), day, 0, 0, 0, 0, c.loc())
	if l.Before(start) {
		start = time.Date(l.Year(), l.Month()-1, day, 0, 0, 0, 0, c.loc())
	}
	return start
}

// Span is a half-open stretch of time [From, To).
type Span struct{ From, To time.Time }

// Periods are the names Period accepts, for --help and errors.
const Periods = "today, yesterday, 24h, 7d, 30d (any Nh or Nd), week, month, billing, last-billing"

// Period returns the span a period name means at now: today and
// yesterday are local calendar days, 24h/7d/30d end at now, week is the
// local calendar week so far (from Monday), month the calendar month so
// far, billing the billing period so far and last-billing the one before.
func (c Calendar) Period(name string, now time.Time) (Span, error) {
	today := c.Start(Day, now)
	switch strings.ToLower(name) {
	case "today":
		return Span{today, now}, nil
	case "yesterday":
		l := today.In(c.loc())
		return Span{time.Date(l.Year(), l.Month(), l.Day()-1, 0, 0, 0, 0, c.loc()), today}, nil
	case "week":
		l := today.In(c.loc())
		back := (int(l.Weekday()) + 6) % 7 // days since Monday
		return Span{time.Date(l.Year(), l.Month(), l.Day()-back, 0, 0, 0, 0, c.loc()), now}, nil
	case "month":
		return Span{c.Start(Month, now), now}, nil
	case "billing":
		return Span{c.billing(now), now}, nil
	case "last-billing":
		start := c.billing(now)
		return Span{c.billing(start.Add(-time.Hour)), start}, nil
	}
	if d, ok := back(name); ok {
		return Span{now.Add(-d), now}, nil
	}
	return Span{}, fmt.Errorf("%q is not a period: want one of %s", name, Periods)
}

// MaxBack bounds the N of the Nh and Nd periods: ten years.
const MaxBack = 10 * 366 * 24 * time.Hour

// back reads a period of the last N hours ("48h") or days ("400d"), N
// a positive decimal integer up to MaxBack.
func back(name string) (time.Duration, bool) {
	n := len(name)
	if n < 2 || n > 7 {
		return 0, false
	}
	unit := time.Hour
	switch name[n-1] {
	case 'h':
	case 'd':
		unit = 24 * time.Hour
	default:
		return 0, false
	}
	v := 0
	for _, c := range name[:n-1] {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int(c-'0')
	}
	d := time.Duration(v) * unit
	if v == 0 || d > MaxBack {
		return 0, false
	}
	return d, true
}

// Keep is how long each resolution's buckets are kept (0: for ever).
type Keep map[Res]time.Duration

// DefaultKeep is the retention of issue 14: 5-minute buckets 48 h, hourly
// 62 days, daily 400 days, monthly for ever.
var DefaultKeep = Keep{FiveMin: 48 * time.Hour, Hour: 62 * 24 * time.Hour, Day: 400 * 24 * time.Hour, Month: 0}

// For returns the finest resolution whose buckets are still kept for all
// of s at now. A sum over s takes the buckets of that resolution whose
// start lies in s, so it is exact when s starts and ends on bucket
// boundaries (a calendar day, a billing month) and otherwise off by the
// part of one bucket at the start.
func (k Keep) For(s Span, now time.Time) Res {
	for _, r := range Resolutions {
		if d := k[r]; d == 0 || !s.From.Before(now.Add(-d)) {
			return r
		}
	}
	return Month
}

// Days widens s to start at the beginning of its first local day: the
// span of the day buckets that hold s.
func (c Calendar) Days(s Span) Span { return Span{c.Start(Day, s.From), s.To} }

// Tile is a span answered from buckets of one resolution.
type Tile struct {
	Res Res
	Span
}

// Tiles splits s into the coarsest buckets still kept that answer it:
// the whole local days inside s from day buckets, the whole hours around
// them from hourly buckets, and what is left at the ends from the finest
// resolution kept (see For). A sum over the tiles reads a few thousand
// rows for a month of a hundred devices instead of every hour of it, and
// is exact wherever For is.
func (k Keep) Tiles(c Calendar, s Span, now time.Time) []Tile {
	var out []Tile
	for _, t := range k.tiles(c, s, now, []Res{Day, Hour}) {
		if n := len(out); n > 0 && out[n-1].Res == t.Res && out[n-1].To.Equal(t.From) {
			out[n-1].To = t.To
			continue
		}
		out = append(out, t)
	}
	return out
}

func (k Keep) tiles(c Calendar, s Span, now time.Time, coarse []Res) []Tile {
	if !s.From.Before(s.To) {
		return nil
	}
	if len(coarse) == 0 {
		return []Tile{{k.For(s, now), s}}
	}
	r := coarse[0]
	first := c.Start(r, s.From)
	if first.Before(s.From) {
		first = c.Next(r, first)
	}
	last := c.Start(r, s.To)
	if d := k[r]; !last.After(first) || (d > 0 && first.Before(now.Add(-d))) {
		return k.tiles(c, s, now, coarse[1:])
	}
	out := k.tiles(c, Span{s.From, first}, now, coarse[1:])
	out = append(out, Tile{r, Span{first, last}})
	return append(out, k.tiles(c, Span{last, s.To}, now, coarse[1:])...)
}
