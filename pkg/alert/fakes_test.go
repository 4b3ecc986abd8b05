package alert

import (
	"cmp"
	"context"
	"errors"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	gocmp "github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

var (
	_ Store  = (*fakeStore)(nil)
	_ Outbox = (*fakeStore)(nil)
	_ Sink   = (*fakeSink)(nil)
)

// fakeStore is an in-memory Store and Outbox. fail, when set, makes the
// next writes fail.
type fakeStore struct {
	mu     sync.Mutex
	mem    map[[2]string]time.Time
	alerts map[string]Alert
	order  []string
	dels   map[[2]string]*fakeDelivery
	saves  int
	fail   error
}

type fakeDelivery struct {
	state    State
	attempts int
	next     time.Time
	created  time.Time
	err      string
	into     string
}

func newFakeStore() *fakeStore {
	return &fakeStore{mem: map[[2]string]time.Time{}, alerts: map[string]Alert{}, dels: map[[2]string]*fakeDelivery{}}
}

func (s *fakeStore) Memory(context.Context) ([]Memory, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Memory
	for k, at := range s.mem {
		out = append(out, Memory{Kind: MemoryKind(k[0]), Key: k[1], At: at})
	}
	return out, nil
}

func (s *fakeStore) Save(_ context.Context, now time.Time, ch Changes) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return s.fail
	}
	s.saves++
	for _, o := range ch.Alerts {
		s.insert(o.Alert, o.Sinks, now)
	}
	for _, m := range ch.Remember {
		s.mem[[2]string{string(m.Kind), m.Key}] = m.At
	}
	for _, m := range ch.Forget {
		delete(s.mem, [2]string{string(m.Kind), m.Key})
	}
	return nil
}

func (s *fakeStore) insert(a Alert, sinks []string, now time.Time) {
	if _, ok := s.alerts[a.ID]; ok {
		return
	}
	s.alerts[a.ID] = a
	s.order = append(s.order, a.ID)
	for _, sk := range sinks {
		s.dels[[2]string{a.ID, sk}] = &fakeDelivery{state: Pending, next: now, created: now}
	}
}

func (s *fakeStore) Due(_ context.Context, sink string, now time.Time, limit int) ([]Due, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Due
	for _, id := range s.order {
		d, ok := s.dels[[2]string{id, sink}]
		if ok && d.state == Pending && !d.next.After(now) && len(out) < limit {
			out = append(out, Due{Alert: s.alerts[id], Sink: sink, Attempts: d.attempts, Created: d.created})
		}
	}
	return out, nil
}

func (s *fakeStore) NextDue(_ context.Context, sink string) (time.Time, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var next time.Time
	for k, d := range s.dels {
		if k[1] == sink && d.state == Pending && (next.IsZero() || d.next.Before(next)) {
			next = d.next
		}
	}
	return next, !next.IsZero(), nil
}

func (s *fakeStore) update(id, sink string, f func(*fakeDelivery)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return s.fail
	}
	if d, ok := s.dels[[2]string{id, sink}]; ok && d.state == Pending {
		d.attempts++
		f(d)
	}
	return nil
}

func (s *fakeStore) Delivered(_ context.Context, id, sink string, _ time.Time) error {
	return s.update(id, sink, func(d *fakeDelivery) { d.state = Delivered })
}

func (s *fakeStore) Retry(_ context.Context, id, sink string, _, next time.Time, msg string) error {
	return s.update(id, sink, func(d *fakeDelivery) { d.next, d.err = next, msg })
}

func (s *fakeStore) GiveUp(_ context.Context, id, sink string, _ time.Time, msg string) error {
	return s.update(id, sink, func(d *fakeDelivery) { d.state, d.err = Failed, msg })
}

func (s *fakeStore) Fold(_ context.Context, sink string, ids []string, summary Alert, at time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.insert(summary, []string{sink}, at)
	for _, id := range ids {
		if d, ok := s.dels[[2]string{id, sink}]; ok && d.state == Pending {
			d.state, d.into = FoldedIn, summary.ID
		}
	}
	return nil
}

// stored returns the stored alerts in the order they were written.
func (s *fakeStore) stored() []Alert {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Alert, 0, len(s.order))
	for _, id := range s.order {
		out = append(out, s.alerts[id])
	}
	return out
}

// states returns each delivery's state as "id sink state".
func (s *fakeStore) states() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for k, d := range s.dels {
		out = append(out, k[0]+" "+k[1]+" "+string(d.state))
	}
	slices.Sort(out)
	return out
}

// has reports whether the store remembers kind key.
func (s *fakeStore) has(kind MemoryKind, key string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.mem[[2]string{string(kind), key}]
	return ok
}

// fakeSink records what it got; fail decides each send's error.
type fakeSink struct {
	mu   sync.Mutex
	got  []Alert
	fail func(Alert) error
}

func (f *fakeSink) Send(ctx context.Context, a Alert) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		if err := f.fail(a); err != nil {
			return err
		}
	}
	f.got = append(f.got, a)
	return nil
}

func (f *fakeSink) ids() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, a := range f.got {
		out = append(out, a.ID)
	}
	return out
}

// clock is a fake clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
	return c.t
}

var t0 = time.Date(2026, 11, 25, 17, 0, 0, 0, time.UTC)

// newTestEngine returns an engine over st with the clock at c.
func newTestEngine(t *testing.T, st *fakeStore, c *clock, rules Rules) *Engine {
	t.Helper()
	e, err := NewEngine(context.Background(), Options{Rules: rules, Store: st, Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func flush(t *testing.T, e *Engine) {
	t.Helper()
	if err := e.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
}

var errDown = errors.New("sink down")

var alertCmp = []gocmp.Option{cmpopts.EquateComparable(netip.Addr{}, netip.Prefix{}), cmpopts.EquateEmpty()}

// kinds returns each alert's kind and title, for compact comparisons.
func titles(as []Alert) []string {
	out := make([]string, 0, len(as))
	for _, a := range as {
		out = append(out, string(a.Kind)+": "+a.Title)
	}
	return out
}

func sortedIDs(ids []string) []string {
	ids = slices.Clone(ids)
	slices.SortFunc(ids, cmp.Compare)
	return ids
}
