package names

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/netmon-dev/netmon/pkg/device"
)

// Resolver looks up the PTR name of an address. ttl is the answer's TTL
// when the resolver knows it, else 0. An error that wraps ErrNoName
// means the address has no name (a negative answer, cached longer than
// a failure).
type Resolver interface {
	LookupPTR(ctx context.Context, addr netip.Addr) (name string, ttl time.Duration, err error)
}

// ErrNoName is a negative answer: the address has no PTR record.
var ErrNoName = errors.New("no name")

// SystemResolver asks the system's resolver (net.Resolver: /etc/hosts,
// then the servers of /etc/resolv.conf). It does not learn TTLs, so
// positive answers are kept for Reverse's DefaultTTL.
type SystemResolver struct {
	R *net.Resolver // net.DefaultResolver when nil
}

// LookupPTR asks for addr's PTR name and returns the first, without the
// trailing dot.
func (s SystemResolver) LookupPTR(ctx context.Context, addr netip.Addr) (string, time.Duration, error) {
	r := s.R
	if r == nil {
		r = net.DefaultResolver
	}
	names, err := r.LookupAddr(ctx, addr.String())
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) && dnsErr.IsNotFound {
		return "", 0, ErrNoName
	}
	if err != nil {
		return "", 0, err
	}
	if len(names) == 0 {
		return "", 0, ErrNoName
	}
	return strings.TrimSuffix(names[0], "."), 0, nil
}

// ReverseOptions bound a Reverse. Zero fields take the defaults.
type ReverseOptions struct {
	Workers     int           // concurrent lookups (default 2)
	Queue       int           // addresses waiting (default 256); Want drops past it
	Timeout     time.Duration // per lookup (default 2 s)
	MinTTL      time.Duration // positive answers are kept at least this long (default 5 min)
	MaxTTL      time.Duration // and at most this long (default 24 h)
	DefaultTTL  time.Duration // when the resolver gives no TTL (default 1 h)
	NegativeTTL time.Duration // no-name answers (default 1 h)
	FailTTL     time.Duration // timeouts and server failures (default 2 min)
	MaxEntries  int           // cache entries (default 20000)
	Now         func() time.Time
}

// Reverse resolves addresses to names in the background: Want queues an
// address and never blocks, Run's workers look it up, Lookup reads the
// cache. Nothing on the ingest or request path ever waits for DNS.
//
// What it leaks: each PTR query for a remote address tells the resolver
// (the system's, usually the ISP's or a public one through the router's
// dnsmasq) which remote hosts the LAN talks to; that resolver has mostly
// seen the forward lookups already, but not for hosts reached by address.
// PTR queries for LAN addresses are answered by a local dnsmasq from its
// leases and, with bogus-priv (OpenWrt's default), never forwarded. An
// offline router pays at most Timeout per lookup, on a worker, and caches
// the failure.
type Reverse struct {
	res   Resolver
	opt   ReverseOptions
	queue chan netip.Addr

	mu      sync.RWMutex
	cache   map[netip.Addr]ptrEntry
	queued  map[netip.Addr]struct{}
	dropped uint64
}

type ptrEntry struct {
	name    string // "" for a negative or failed answer
	learned int64  // Unix nanoseconds
	expires int64
}

// PTR is one cached answer, for persisting the cache.
type PTR struct {
	Addr      netip.Addr
	Name      string // "" for a negative answer
	LearnedAt time.Time
	Expires   time.Time
}

// NewReverse returns a Reverse asking res.
func NewReverse(res Resolver, opt ReverseOptions) *Reverse {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	if opt.Workers <= 0 {
		opt.Workers = 2
	}
	if opt.Queue <= 0 {
		opt.Queue = 256
	}
	if opt.MaxEntries <= 0 {
		opt.MaxEntries = 20000
	}
	def(&opt.Timeout, 2*time.Second)
	def(&opt.MinTTL, 5*time.Minute)
	def(&opt.MaxTTL, 24*time.Hour)
	def(&opt.DefaultTTL, time.Hour)
	def(&opt.NegativeTTL, time.Hour)
	def(&opt.FailTTL, 2*time.Minute)
	if opt.Now == nil {
		opt.Now = time.Now
	}
	return &Reverse{
		res:    res,
		opt:    opt,
		queue:  make(chan netip.Addr, opt.Queue),
		cache:  make(map[netip.Addr]ptrEntry),
		queued: make(map[netip.Addr]struct{}),
	}
}

// Want asks for addr's name to be looked up unless it is cached and
// fresh or already queued. It never blocks: with the queue full the
// address is dropped (and asked for again by a later Want).
func (r *Reverse) Want(addr netip.Addr) {
	addr = addr.Unmap()
	if !addr.IsValid() {
		return
	}
	now := r.opt.Now().UnixNano()
	r.mu.RLock()
	e, cached := r.cache[addr]
	_, queued := r.queued[addr]
	r.mu.RUnlock()
	if queued || cached && e.expires > now {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, queued := r.queued[addr]; queued {
		return
	}
	select {
	case r.queue <- addr:
		r.queued[addr] = struct{}{}
	default:
		r.dropped++
	}
}

// Lookup returns addr's cached name; ok is false when none is known (not
// looked up yet, no name, or the lookup failed). An expired answer is
// still returned until a new one replaces it. It does not allocate.
func (r *Reverse) Lookup(addr netip.Addr) (string, bool) {
	r.mu.RLock()
	e, ok := r.cache[addr.Unmap()]
	r.mu.RUnlock()
	return e.name, ok && e.name != ""
}

// Pending is how many addresses wait for a lookup (queued or being
// looked up): a command that shows names once waits for it to be 0.
func (r *Reverse) Pending() int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return len(r.queued)
}

// Run looks up queued addresses on Workers goroutines until ctx ends.
func (r *Reverse) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for range r.opt.Workers {
		wg.Go(func() {
			for {
				select {
				case <-ctx.Done():
					return
				case a := <-r.queue:
					r.resolve(ctx, a)
				}
			}
		})
	}
	wg.Wait()
	return nil
}

func (r *Reverse) resolve(ctx context.Context, a netip.Addr) {
	lctx, cancel := context.WithTimeout(ctx, r.opt.Timeout)
	name, ttl, err := r.res.LookupPTR(lctx, a)
	cancel()
	now := r.opt.Now()
	e := ptrEntry{name: name, learned: now.UnixNano()}
	switch {
	case err == nil && name != "":
		if ttl == 0 {
			ttl = r.opt.DefaultTTL
		}
		ttl = min(max(ttl, r.opt.MinTTL), r.opt.MaxTTL)
	case err == nil, errors.Is(err, ErrNoName):
		e.name, ttl = "", r.opt.NegativeTTL
	default:
		e.name, ttl = "", r.opt.FailTTL
	}
	e.expires = now.Add(ttl).UnixNano()
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.queued, a)
	if ctx.Err() != nil && err != nil {
		return // shutting down: a cancelled lookup says nothing
	}
	if old, ok := r.cache[a]; ok && e.name == "" && old.name != "" && err != nil && !errors.Is(err, ErrNoName) {
		// A failure does not forget a name we had: keep it, ask later.
		old.expires = e.expires
		r.cache[a] = old
		return
	}
	if _, ok := r.cache[a]; !ok && len(r.cache) >= r.opt.MaxEntries {
		r.evict(now.UnixNano())
	}
	r.cache[a] = e
}

// evict drops expired entries, then arbitrary ones down to seven
// eighths of MaxEntries.
func (r *Reverse) evict(now int64) {
	for k, e := range r.cache {
		if e.expires <= now {
			delete(r.cache, k)
		}
	}
	target := r.opt.MaxEntries - r.opt.MaxEntries/8
	for k := range r.cache {
		if len(r.cache) <= target {
			break
		}
		delete(r.cache, k)
	}
}

// Dropped counts the Wants dropped because the queue was full.
func (r *Reverse) Dropped() uint64 {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.dropped
}

// Snapshot returns the cache, for the store to persist names with the
// time they were learned.
func (r *Reverse) Snapshot() []PTR {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]PTR, 0, len(r.cache))
	for a, e := range r.cache {
		out = append(out, PTR{Addr: a, Name: e.name, LearnedAt: time.Unix(0, e.learned).UTC(), Expires: time.Unix(0, e.expires).UTC()})
	}
	return out
}

// Restore loads persisted answers (at start-up). Expired ones are kept
// as names to show until a new lookup replaces them.
func (r *Reverse) Restore(ps []PTR) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, p := range ps {
		if !p.Addr.IsValid() || len(r.cache) >= r.opt.MaxEntries {
			continue
		}
		r.cache[p.Addr.Unmap()] = ptrEntry{name: p.Name, learned: p.LearnedAt.UnixNano(), expires: p.Expires.UnixNano()}
	}
}

// DeviceNames asks for the names of a device's LAN addresses (Want) and
// returns those already known, for device.Registry.SetNames(
// device.SourcePTR, ...).
func (r *Reverse) DeviceNames(addrs []netip.Addr) []device.Name {
	var out []device.Name
	for _, a := range addrs {
		r.Want(a)
		if n, ok := r.Lookup(a); ok {
			out = append(out, device.Name{Addr: a.Unmap(), Name: n})
		}
	}
	return out
}
