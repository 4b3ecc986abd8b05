package rates

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestWindowBase: the base is the cycle closest to the newest cycle's time
// minus the window, never the newest cycle itself.
func TestWindowBase(t *testing.T) {
	ms := func(v ...int) []time.Duration {
		var out []time.Duration
		for _, x := range v {
			out = append(out, time.Duration(x)*time.Millisecond)
		}
		return out
	}
	tests := []struct {
		name   string
		window time.Duration
		at     []time.Duration // cycle times since t0
		base   uint32
		span   time.Duration
	}{
		{"one cycle", 10 * time.Second, ms(0), 1, 0},
		{"younger than the window", 10 * time.Second, ms(0, 1000, 2000), 1, 2 * time.Second},
		{"exactly the window", 3 * time.Second, ms(0, 1000, 2000, 3000, 4000), 2, 3 * time.Second},
		{"jitter late", 3 * time.Second, ms(0, 1000, 2004, 3001, 4003), 2, 3003 * time.Millisecond},
		{"jitter early", 3 * time.Second, ms(0, 995, 2002, 2999, 3994), 2, 2999 * time.Millisecond},
		{"halfway: the older cycle", 3 * time.Second, ms(0, 1000, 2000, 3500), 1, 3500 * time.Millisecond},
		{"window under the interval", 100 * time.Millisecond, ms(0, 1000, 2000), 2, time.Second},
		{"a long stall", 3 * time.Second, ms(0, 1000, 2000, 30000), 3, 28 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var (
				c       cycles
				cols    [kinds]columns
				expired []uint32
			)
			for _, d := range tt.at {
				c.push(t0.Add(d), &cols)
				c.advance(tt.window, func(s uint32) { expired = append(expired, s) })
			}
			if c.base != tt.base {
				t.Errorf("base = %d, want %d", c.base, tt.base)
			}
			if got := c.span(c.base, c.seq); got != tt.span {
				t.Errorf("span = %s, want %s", got, tt.span)
			}
			var want []uint32
			for s := uint32(2); s <= tt.base; s++ {
				want = append(want, s)
			}
			if diff := cmp.Diff(want, expired); diff != "" {
				t.Errorf("expired (-want +got):\n%s", diff)
			}
		})
	}
}

// TestManyCycles: a window of many short cycles grows the rings and keeps
// the sums exact; growth of more than 4 GiB in a cycle is exact too.
func TestManyCycles(t *testing.T) {
	tr := New(10 * time.Second)
	var s series
	now := t0
	tr.cy.push(now, &tr.cols)
	for i := range 2000 {
		now = now.Add(10 * time.Millisecond)
		tr.cy.push(now, &tr.cols)
		tr.cy.advance(tr.window, func(x uint32) {
			for _, smp := range tr.cols[kindTotal][int(x)%len(tr.cols[kindTotal])] {
				s.sumUp -= uint64(smp.up)
				s.sumDown -= uint64(smp.down)
			}
		})
		up := uint64(1000)
		if i == 1999 {
			up = 5 << 32
		}
		tr.cy.add(tr.cols[kindTotal], 0, &s, up, 7)
	}
	r := tr.cy.reading(&s)
	// 1000 cycles in the window: 999 of 1000 bytes and the big one.
	want := known(float64(999*1000+5<<32)/10, 1000*7/10.0, float64(uint64(5<<32))*100, 700)
	if diff := cmp.Diff(want, r, cmpOpts); diff != "" {
		t.Errorf("reading (-want +got):\n%s", diff)
	}
	if n := len(tr.cy.times); n < 1001 {
		t.Errorf("ring of %d cycles cannot hold the window", n)
	}
}
