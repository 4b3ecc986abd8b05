package rates

import "time"

// The sparkline: a tick at the first cycle at least SparkStep (less a
// tenth, for jitter) after the previous tick, so one per cycle when
// cycles are a second or longer apart, one a second when they are
// shorter. At each tick every device (and the router) gets a sample: its
// growth since the previous tick over the time since. Ticks older than
// SparkSpan are dropped.
const (
	SparkSpan = 5 * time.Minute
	SparkStep = time.Second
	// sparkCap holds every tick of SparkSpan.
	sparkCap = uint64(SparkSpan/(SparkStep*9/10)) + 2
)

// point is one sample of a sparkline, in bytes per second.
type point struct{ up, down float32 }

func (p point) rate() Rate { return Rate{Up: float64(p.up), Down: float64(p.down)} }

// ticks are the sparkline's sample times, numbered from 1.
type ticks struct {
	times  [sparkCap]time.Time // tick i at times[i%sparkCap]
	n      uint64              // ticks taken
	lastAt time.Time           // the last tick, or the first cycle before any
	based  bool
}

// next decides whether the cycle at now takes a tick, and returns the time
// since the previous one.
func (t *ticks) next(now time.Time) (time.Duration, bool) {
	if !t.based {
		t.lastAt, t.based = now, true
		return 0, false
	}
	span := now.Sub(t.lastAt)
	if span < SparkStep*9/10 {
		return 0, false
	}
	t.n++
	t.times[t.n%sparkCap] = now
	t.lastAt = now
	return span, true
}

// since returns the first tick after since (zero: the oldest kept) that
// is within SparkSpan of now, and the last tick.
func (t *ticks) since(now, since time.Time) (first, last uint64) {
	first = 1
	if t.n > sparkCap-1 {
		first = t.n - sparkCap + 2
	}
	for first <= t.n {
		at := t.times[first%sparkCap]
		if now.Sub(at) <= SparkSpan && at.After(since) {
			break
		}
		first++
	}
	return first, t.n
}

// spark is one thing's sparkline: a point per tick from the tick after it
// began.
type spark struct {
	points []point // tick i at points[i%sparkCap]; nil until the first tick
	from   uint64  // its first tick
	// pendUp, pendDown are its growth since the last tick.
	pendUp, pendDown uint64
}

// take records the growth since the last tick as tick n's point.
func (s *spark) take(n uint64, span time.Duration) point {
	if s.points == nil {
		s.points = make([]point, sparkCap)
		s.from = n
	}
	sec := span.Seconds()
	p := point{up: float32(float64(s.pendUp) / sec), down: float32(float64(s.pendDown) / sec)}
	s.points[n%sparkCap] = p
	s.pendUp, s.pendDown = 0, 0
	return p
}

// at is tick i's point (zero before the sparkline began).
func (s *spark) at(i uint64) point {
	if s.points == nil || i < s.from {
		return point{}
	}
	return s.points[i%sparkCap]
}

// rates are the points of ticks first..last.
func (s *spark) rates(first, last uint64) []Rate {
	out := make([]Rate, 0, last-first+1)
	for i := first; i <= last; i++ {
		out = append(out, s.at(i).rate())
	}
	return out
}
