package alert

import (
	"maps"
	"slices"
	"time"

	"github.com/netmon-dev/netmon/pkg/history"
)

// Tally keeps the figures UsageSeen wants: each device's and the LAN's
// bytes in the current local day and billing period, as what the record
// held at start (Seed) plus the growth the ingest loop sees since (Add).
// The periods roll over on the Calendar's boundaries. It is not safe for
// concurrent use: the ingest goroutine owns it.
type Tally struct {
	Cal history.Calendar

	day, billing time.Time // the current periods' starts
	rolled       time.Time // the time roll last looked at: a cycle's changes share one
	dev          map[string]*[2]uint64
	lan          [2]uint64
	grown        map[string]bool
}

// Seed sets the totals of the periods holding now: bytes per device so
// far today and in the billing period (from the record).
func (t *Tally) Seed(now time.Time, day, billing map[string]uint64) {
	t.roll(now)
	for d, n := range day {
		t.of(d)[0] = n
		t.lan[0] += n
	}
	for d, n := range billing {
		t.of(d)[1] = n
		t.lan[1] += n
	}
}

// Add counts bytes of growth of device read at now.
func (t *Tally) Add(now time.Time, device string, bytes uint64) {
	if bytes == 0 {
		return
	}
	t.roll(now)
	c := t.of(device)
	c[0] += bytes
	c[1] += bytes
	t.lan[0] += bytes
	t.lan[1] += bytes
	t.grown[device] = true
}

// Take returns the usage at now of every device that grew since the last
// Take, by device id, then the LAN's, or nothing when nothing grew.
func (t *Tally) Take(now time.Time) []Usage {
	t.roll(now)
	if len(t.grown) == 0 {
		return nil
	}
	out := make([]Usage, 0, len(t.grown)+1)
	for _, d := range slices.Sorted(maps.Keys(t.grown)) {
		c := t.dev[d]
		out = append(out, Usage{Device: d, At: now, Day: Volume{t.day, c[0]}, Billing: Volume{t.billing, c[1]}})
	}
	clear(t.grown)
	return append(out, Usage{Device: LAN, At: now, Day: Volume{t.day, t.lan[0]}, Billing: Volume{t.billing, t.lan[1]}})
}

// of returns device's counters, creating them.
func (t *Tally) of(device string) *[2]uint64 {
	c, ok := t.dev[device]
	if !ok {
		c = new([2]uint64)
		t.dev[device] = c
	}
	return c
}

// roll starts new periods when now has left the current ones (a clock
// stepping back into an older period starts it afresh: the figures of a
// wrong clock are not trusted).
func (t *Tally) roll(now time.Time) {
	if t.dev == nil {
		t.dev, t.grown = map[string]*[2]uint64{}, map[string]bool{}
	}
	if now.Equal(t.rolled) && !now.IsZero() {
		return
	}
	t.rolled = now
	day := t.Cal.Start(history.Day, now)
	if !day.Equal(t.day) {
		t.day = day
		for _, c := range t.dev {
			c[0] = 0
		}
		t.lan[0] = 0
	}
	sp, _ := t.Cal.Period("billing", now)
	if !sp.From.Equal(t.billing) {
		t.billing = sp.From
		for _, c := range t.dev {
			c[1] = 0
		}
		t.lan[1] = 0
	}
	if len(t.dev) > 4*maxSeen { // devices gone for the period cost nothing
		for d, c := range t.dev {
			if *c == [2]uint64{} {
				delete(t.dev, d)
			}
		}
	}
}
