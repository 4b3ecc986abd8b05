package names

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"
)

// fakeResolver answers from a table; block holds every lookup until
// closed.
type fakeResolver struct {
	mu      sync.Mutex
	answers map[netip.Addr]fakeAnswer
	asked   map[netip.Addr]int
	block   chan struct{}
}

type fakeAnswer struct {
	name string
	ttl  time.Duration
	err  error
}

var _ Resolver = (*fakeResolver)(nil)

func (f *fakeResolver) LookupPTR(ctx context.Context, a netip.Addr) (string, time.Duration, error) {
	if f.block != nil {
		select {
		case <-f.block:
		case <-ctx.Done():
			return "", 0, ctx.Err()
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.asked[a]++
	ans, ok := f.answers[a]
	if !ok {
		return "", 0, ErrNoName
	}
	return ans.name, ans.ttl, ans.err
}

func (f *fakeResolver) count(a netip.Addr) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.asked[a]
}

// clock is a settable time.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(2 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatal("condition not met in 5 s")
}

func TestReverse(t *testing.T) {
	named, short, long, failing, none := ip("192.0.2.1"), ip("192.0.2.2"), ip("192.0.2.3"), ip("192.0.2.4"), ip("192.0.2.5")
	res := &fakeResolver{asked: map[netip.Addr]int{}, answers: map[netip.Addr]fakeAnswer{
		named:   {name: "one.example"},
		short:   {name: "short.example", ttl: time.Second},        // clamped up to MinTTL
		long:    {name: "long.example", ttl: 30 * 24 * time.Hour}, // clamped down to MaxTTL
		failing: {err: errors.New("server failure")},
	}}
	c := &clock{t: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)}
	r := NewReverse(res, ReverseOptions{Now: c.now})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- r.Run(ctx) }()

	for _, a := range []netip.Addr{named, short, long, failing, none} {
		r.Want(a)
	}
	waitFor(t, func() bool {
		for _, a := range []netip.Addr{named, short, long, failing, none} {
			if res.count(a) != 1 {
				return false
			}
		}
		r.mu.RLock()
		defer r.mu.RUnlock()
		return len(r.queued) == 0 && len(r.cache) == 5
	})
	for a, want := range map[netip.Addr]string{named: "one.example", short: "short.example", long: "long.example", failing: "", none: ""} {
		got, ok := r.Lookup(a)
		if got != want || ok != (want != "") {
			t.Errorf("Lookup(%v) = %q, %v; want %q", a, got, ok, want)
		}
	}
	// Cached: asking again asks nobody.
	r.Want(named)
	r.Want(none)
	time.Sleep(20 * time.Millisecond)
	if res.count(named) != 1 || res.count(none) != 1 {
		t.Errorf("cached answers asked again: %d, %d", res.count(named), res.count(none))
	}
	// After the failure TTL (2 min) the failing one is asked again, the
	// short one (clamped to 5 min) not yet.
	c.add(3 * time.Minute)
	r.Want(failing)
	r.Want(short)
	waitFor(t, func() bool { return res.count(failing) == 2 })
	if res.count(short) != 1 {
		t.Errorf("short TTL not clamped up: asked %d times", res.count(short))
	}
	// After 1 day and a bit, the long one (clamped to 24 h) is asked again;
	// a failure then keeps the name it had.
	c.add(25 * time.Hour)
	res.mu.Lock()
	res.answers[long] = fakeAnswer{err: errors.New("timeout")}
	res.mu.Unlock()
	r.Want(long)
	waitFor(t, func() bool { return res.count(long) == 2 })
	time.Sleep(10 * time.Millisecond)
	if got, ok := r.Lookup(long); !ok || got != "long.example" {
		t.Errorf("a failed refresh forgot the name: %q, %v", got, ok)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestReversePending: what waits is counted until Run has asked it.
func TestReversePending(t *testing.T) {
	res := &fakeResolver{asked: map[netip.Addr]int{}, answers: map[netip.Addr]fakeAnswer{}}
	r := NewReverse(res, ReverseOptions{})
	for _, a := range []string{"192.0.2.1", "192.0.2.2", "192.0.2.1"} {
		r.Want(ip(a))
	}
	if n := r.Pending(); n != 2 {
		t.Fatalf("Pending = %d before Run, want 2 (one address asked twice)", n)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go r.Run(ctx)
	waitFor(t, func() bool { return r.Pending() == 0 })
	if res.count(ip("192.0.2.1")) != 1 || res.count(ip("192.0.2.2")) != 1 {
		t.Errorf("asked %d and %d times, want once each", res.count(ip("192.0.2.1")), res.count(ip("192.0.2.2")))
	}
}

func TestReverseWantNeverBlocks(t *testing.T) {
	res := &fakeResolver{asked: map[netip.Addr]int{}, block: make(chan struct{})}
	r := NewReverse(res, ReverseOptions{Workers: 1, Queue: 4})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go r.Run(ctx)
	start := time.Now()
	for i := range 1000 {
		r.Want(netip.AddrFrom4([4]byte{198, 18, byte(i >> 8), byte(i)}))
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("1000 Wants with a stuck resolver took %v", d)
	}
	if r.Dropped() < 990 {
		t.Errorf("Dropped = %d, want nearly all of 1000 (queue 4, one worker stuck)", r.Dropped())
	}
	close(res.block)
}

func TestReverseBoundAndSnapshot(t *testing.T) {
	res := &fakeResolver{asked: map[netip.Addr]int{}, answers: map[netip.Addr]fakeAnswer{}}
	for i := range 100 {
		res.answers[netip.AddrFrom4([4]byte{198, 18, 0, byte(i)})] = fakeAnswer{name: "h.example"}
	}
	r := NewReverse(res, ReverseOptions{MaxEntries: 16})
	ctx := context.Background()
	for a := range res.answers {
		r.resolve(ctx, a)
	}
	snap := r.Snapshot()
	if len(snap) > 16 {
		t.Errorf("%d entries, want at most 16", len(snap))
	}
	r2 := NewReverse(res, ReverseOptions{})
	r2.Restore(snap)
	for _, p := range snap {
		if got, ok := r2.Lookup(p.Addr); !ok || got != p.Name || p.LearnedAt.IsZero() || !p.Expires.After(p.LearnedAt) {
			t.Errorf("restored %+v: %q, %v", p, got, ok)
		}
	}
}

func TestReverseLookupNoAlloc(t *testing.T) {
	r := NewReverse(&fakeResolver{}, ReverseOptions{})
	r.Restore([]PTR{{Addr: ip("192.0.2.1"), Name: "x.example", LearnedAt: time.Now(), Expires: time.Now().Add(time.Hour)}})
	if n := testing.AllocsPerRun(1000, func() { r.Lookup(ip("192.0.2.1")) }); n != 0 {
		t.Errorf("Lookup allocates %v times", n)
	}
}

// BenchmarkReverseLookup is the per-row cost at 10,000 cached names.
func BenchmarkReverseLookup(b *testing.B) {
	r := NewReverse(&fakeResolver{}, ReverseOptions{})
	var ps []PTR
	now := time.Now()
	for i := range 10000 {
		ps = append(ps, PTR{Addr: netip.AddrFrom4([4]byte{198, 18, byte(i >> 8), byte(i)}), Name: "host.example", LearnedAt: now, Expires: now.Add(time.Hour)})
	}
	r.Restore(ps)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		r.Lookup(ps[i%len(ps)].Addr)
		i++
	}
}

// BenchmarkReverseMemory reports the heap of 10,000 cached names (each
// its own string, as lookups make them).
func BenchmarkReverseMemory(b *testing.B) {
	for b.Loop() {
		before := heapInUse()
		r := NewReverse(&fakeResolver{}, ReverseOptions{})
		now := time.Now()
		for i := range 10000 {
			r.cache[netip.AddrFrom4([4]byte{198, 18, byte(i >> 8), byte(i)})] = ptrEntry{name: string([]byte("server-12.cdn.example.net")), learned: now.UnixNano(), expires: now.UnixNano()}
		}
		after := heapInUse()
		b.ReportMetric(float64(after-before)/10000, "B/name")
		_ = r.Dropped()
	}
}

func TestSystemResolver(t *testing.T) {
	// A resolver whose server is a closed loopback port: a failure, not a
	// negative answer; nothing leaves the machine.
	r := SystemResolver{R: &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "udp", "127.0.0.1:9")
	}}}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_, _, err := r.LookupPTR(ctx, ip("192.0.2.1"))
	if err == nil || errors.Is(err, ErrNoName) {
		t.Errorf("LookupPTR against nothing = %v, want a failure", err)
	}
}

func TestReverseDeviceNames(t *testing.T) {
	res := &fakeResolver{asked: map[netip.Addr]int{}, block: make(chan struct{})}
	r := NewReverse(res, ReverseOptions{})
	r.Restore([]PTR{{Addr: ip("10.0.0.5"), Name: "laptop.lan", LearnedAt: time.Now(), Expires: time.Now().Add(time.Hour)}})
	got := r.DeviceNames([]netip.Addr{ip("10.0.0.5"), ip("10.0.0.6")})
	if len(got) != 1 || got[0].Name != "laptop.lan" || got[0].Addr != ip("10.0.0.5") {
		t.Errorf("DeviceNames = %+v", got)
	}
	r.mu.RLock()
	_, queued := r.queued[ip("10.0.0.6")]
	r.mu.RUnlock()
	if !queued {
		t.Error("the unknown address was not queued")
	}
	close(res.block)
}
