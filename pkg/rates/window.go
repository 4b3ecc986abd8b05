package rates

import (
	"math"
	"time"
)

// The window. Cycles are numbered from 1 (seq); the growth a cycle saw
// lies in the interval between the read before it and its own. The
// window at cycle n is the intervals after its base b: (T[b], T[n]],
// where b is the cycle whose time is closest to T[n] - window (b < n; the older one of two as close),
// so the window spans the setting give or take half an interval, and
// never less than one interval.
//
// Every thing that has a rate (a flow, a device, a remote host, the
// router) is a series: the sum of its growth over the cycles of the
// window, and that of the newest cycle. Growth is recorded as samples in
// one column per cycle and kind of thing; when the base passes a cycle,
// its columns are subtracted from the sums they were added to. So a
// cycle costs the changes it has plus the samples that leave the window,
// and nothing for things without growth.

// cycles holds the times of the cycles from the base to the newest, in a
// ring indexed by seq.
type cycles struct {
	times     []time.Time // cycle s at times[s%len(times)]
	seq, base uint32      // the newest cycle (0: none yet) and the window's base
}

func (c *cycles) at(s uint32) time.Time { return c.times[int(s)%len(c.times)] }

// span is the time from cycle a to cycle b.
func (c *cycles) span(a, b uint32) time.Duration { return c.at(b).Sub(c.at(a)) }

// kinds of series, each with its columns.
const (
	kindFlow = iota
	kindDevice
	kindRemote
	kindTotal
	kinds
)

// sample is growth of one series in one cycle. Growth of 4 GiB or more in
// one cycle is several samples of the same series.
type sample struct {
	slot     int32
	up, down uint32
}

// columns are the samples of one kind, a column per cycle, in a ring
// parallel to cycles.times.
type columns [][]sample

// series is the growth of one thing over the window.
type series struct {
	// first is the cycle of its first reading: its rate is known from
	// the next cycle on, over the time since. 0: it was read before the
	// window's start.
	first uint32
	// last is the newest cycle with a sample of it (0: none); lastUp and
	// lastDown that cycle's growth.
	last             uint32
	lastUp, lastDown uint64
	// sumUp and sumDown are the growth of the window's cycles.
	sumUp, sumDown uint64
}

// reading is s's rate at the newest cycle.
func (c *cycles) reading(s *series) Reading {
	n := c.seq
	start := max(c.base, s.first)
	if n < 2 || start >= n {
		return Reading{}
	}
	d := c.span(start, n).Seconds()
	if !(d > 0) { // the caller's clock did not advance
		return Reading{}
	}
	r := Reading{Known: true, Window: Rate{Up: float64(s.sumUp) / d, Down: float64(s.sumDown) / d}}
	if s.last == n {
		if e := c.span(n-1, n).Seconds(); e > 0 {
			r.Last = Rate{Up: float64(s.lastUp) / e, Down: float64(s.lastDown) / e}
		}
	}
	return r
}

// idle reports whether s has nothing in the window: no sample, and its
// first reading at or before the base, so forgetting it changes no rate.
func (c *cycles) idle(s *series) bool { return s.last <= c.base && s.first <= c.base }

// add records growth of series s (in slot of column set cols) at the
// newest cycle. Growth proves the thing was read before, so a first
// reading this cycle becomes "before the window".
func (c *cycles) add(cols columns, slot int32, s *series, up, down uint64) {
	if up == 0 && down == 0 {
		return
	}
	n := c.seq
	if s.first >= n {
		s.first = 0
	}
	if s.last == n {
		s.lastUp, s.lastDown = s.lastUp+up, s.lastDown+down
	} else {
		s.last, s.lastUp, s.lastDown = n, up, down
	}
	s.sumUp, s.sumDown = s.sumUp+up, s.sumDown+down
	col := &cols[int(n)%len(cols)]
	for up > 0 || down > 0 {
		u, d := min(up, math.MaxUint32), min(down, math.MaxUint32)
		*col = append(*col, sample{slot: slot, up: uint32(u), down: uint32(d)})
		up, down = up-u, down-d
	}
}

// push starts cycle seq+1 at now, growing the rings (and cols with them)
// when the window holds more cycles than they do.
func (c *cycles) push(now time.Time, cols *[kinds]columns) {
	c.seq++
	if c.base == 0 {
		c.base = 1
	}
	if need := int(c.seq-c.base) + 1; need > len(c.times) {
		c.grow(max(16, 2*need), cols)
	}
	c.times[int(c.seq)%len(c.times)] = now
	for k := range cols {
		col := &cols[k][int(c.seq)%len(cols[k])]
		*col = (*col)[:0]
	}
}

// grow makes the rings n long, keeping cycles base..seq-1.
func (c *cycles) grow(n int, cols *[kinds]columns) {
	times := make([]time.Time, n)
	var next [kinds]columns
	for k := range next {
		next[k] = make(columns, n)
	}
	if len(c.times) > 0 {
		for s := c.base; s < c.seq; s++ {
			times[int(s)%n] = c.at(s)
			for k := range next {
				next[k][int(s)%n] = cols[k][int(s)%len(cols[k])]
			}
		}
	}
	c.times, *cols = times, next
}

// advance moves the base as close to the newest cycle's time minus window
// as the cycles allow, and calls expire for each cycle it passes: their
// samples leave the window.
func (c *cycles) advance(window time.Duration, expire func(s uint32)) {
	if c.seq < 2 {
		return
	}
	target := c.at(c.seq).Add(-window)
	for c.base+1 < c.seq && c.at(c.base+1).Sub(target) < target.Sub(c.at(c.base)) {
		c.base++
		expire(c.base)
	}
}

// shrinkColumn drops a column's backing array once a burst has passed, so
// one cold cycle does not pin its samples' memory for ever.
func shrinkColumn(col *[]sample, used int) {
	if cap(*col) > 4096 && used*4 < cap(*col) {
		*col = nil
		return
	}
	*col = (*col)[:0]
}
