package web

import (
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestLimiterDelays(t *testing.T) {
	clk := &fakeClock{t: now}
	l := newLimiter(16, clk.now)
	c := limitKey(netip.MustParseAddr("10.0.0.9"))
	var got []time.Duration
	for range 8 {
		got = append(got, l.fail(c))
	}
	want := []time.Duration{0, 0, time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second, 32 * time.Second}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("waits after each failure (-want +got):\n%s", diff)
	}
	if w := l.wait(c); w != 32*time.Second {
		t.Errorf("wait = %v, want 32s", w)
	}
	clk.advance(32 * time.Second)
	if w := l.wait(c); w != 0 {
		t.Errorf("wait after it passed = %v", w)
	}
	// Another client is not held up.
	if w := l.wait(limitKey(netip.MustParseAddr("10.0.0.10"))); w != 0 {
		t.Errorf("another client waits %v", w)
	}
	for range 40 {
		l.fail(c)
	}
	if w := l.wait(c); w != maxDelay {
		t.Errorf("wait after many failures = %v, want the cap %v", w, maxDelay)
	}
	// An hour after the last failure (and the wait) it starts afresh.
	clk.advance(maxDelay + forgetAfter)
	if d := l.fail(c); d != 0 {
		t.Errorf("first failure after the record was forgotten waits %v", d)
	}
	l.succeed(c)
	if n := l.len(); n != 0 {
		t.Errorf("%d records after success, want 0", n)
	}
}

func TestLimiterBounded(t *testing.T) {
	clk := &fakeClock{t: now}
	l := newLimiter(8, clk.now)
	first := limitKey(netip.MustParseAddr("10.0.1.0"))
	for range 3 {
		l.fail(first)
	}
	for i := range 100 {
		clk.advance(time.Millisecond)
		l.fail(limitKey(netip.AddrFrom4([4]byte{10, 0, 2, byte(i)})))
		if n := l.len(); n > 8 {
			t.Fatalf("%d records, more than the cap 8", n)
		}
	}
	if w := l.wait(first); w != 0 {
		t.Errorf("the stalest record survived: wait %v", w)
	}
}

func TestLimitKey(t *testing.T) {
	tests := map[string]string{
		"10.0.0.5":             "10.0.0.5/32",
		"fd00::5":              "fd00::/64",
		"fd00::ffff:1234:5678": "fd00::/64",
		"fd00:0:0:1::5":        "fd00:0:0:1::/64",
		"2001:db8:1:2:3:4:5:6": "2001:db8:1:2::/64",
	}
	for in, want := range tests {
		if got := limitKey(netip.MustParseAddr(in)).String(); got != want {
			t.Errorf("limitKey(%s) = %s, want %s", in, got, want)
		}
	}
}
