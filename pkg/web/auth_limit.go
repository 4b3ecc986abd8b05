package web

import (
	"net/netip"
	"sync"
	"time"
)

// Brute-force limits of the login and the bearer token, per client.
const (
	// freeFailures are the failures a client may make before it waits.
	freeFailures = 3
	// firstDelay is the wait after the first failure past freeFailures;
	// it doubles with each further one, up to maxDelay.
	firstDelay = time.Second
	maxDelay   = 15 * time.Minute
	// forgetAfter drops a client's record this long after its last
	// failure (once any wait is over).
	forgetAfter = time.Hour
	// maxLimited bounds the clients remembered; past it the record
	// whose last failure is oldest is dropped.
	maxLimited = 4096
)

// limiter counts failed logins and tokens per client and makes a client
// wait, longer after each failure, once it has failed freeFailures times.
// Memory is bounded by maxLimited records.
type limiter struct {
	mu      sync.Mutex
	clients map[netip.Prefix]*failures
	max     int
	now     func() time.Time
}

type failures struct {
	n     int
	last  time.Time
	until time.Time // no attempt before this
}

func newLimiter(max int, now func() time.Time) *limiter {
	return &limiter{clients: map[netip.Prefix]*failures{}, max: max, now: now}
}

// limitKey is the unit a limit applies to: one IPv4 address, or one IPv6
// /64 (a host picks any address inside its /64 at will).
func limitKey(a netip.Addr) netip.Prefix {
	bits := 32
	if a.Is6() {
		bits = 64
	}
	p, _ := a.Prefix(bits) // only fails for the zero Addr: the zero Prefix
	return p
}

// wait is how long client must wait before its next attempt (0: now).
func (l *limiter) wait(client netip.Prefix) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	f, ok := l.clients[client]
	if !ok {
		return 0
	}
	return max(0, f.until.Sub(l.now()))
}

// fail records a failed attempt and returns the wait it earned.
func (l *limiter) fail(client netip.Prefix) time.Duration {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	f, ok := l.clients[client]
	switch {
	case !ok:
		l.makeRoom(now)
		f = &failures{}
		l.clients[client] = f
	case l.forgotten(f, now):
		*f = failures{}
	}
	f.n++
	f.last = now
	if f.n < freeFailures {
		return 0
	}
	d := maxDelay
	if shift := f.n - freeFailures; shift < 20 {
		d = min(maxDelay, firstDelay<<shift)
	}
	f.until = now.Add(d)
	return d
}

// succeed forgets client's failures.
func (l *limiter) succeed(client netip.Prefix) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.clients, client)
}

// makeRoom drops forgotten records and, at capacity, the stalest one.
// Called with mu held.
func (l *limiter) makeRoom(now time.Time) {
	if len(l.clients) < l.max {
		return
	}
	for k, f := range l.clients {
		if l.forgotten(f, now) {
			delete(l.clients, k)
		}
	}
	for len(l.clients) >= l.max {
		var stale netip.Prefix
		var at time.Time
		for k, f := range l.clients {
			if at.IsZero() || f.last.Before(at) {
				stale, at = k, f.last
			}
		}
		delete(l.clients, stale)
	}
}

// forgotten reports whether f's failures are old enough to start afresh.
func (l *limiter) forgotten(f *failures, now time.Time) bool {
	return now.Sub(f.last) >= forgetAfter && !now.Before(f.until)
}

// len is the number of clients remembered.
func (l *limiter) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.clients)
}
