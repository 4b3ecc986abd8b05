package alert

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestHealth(t *testing.T) {
	rules := Rules{Sinks: []string{"hook"}, Health: HealthRule{Enabled: true, After: 5 * time.Minute}}
	since := t0
	fail := func(after time.Duration) HealthReport {
		return HealthReport{At: since.Add(after), FailingSince: since, Err: "run conntrack: exit status 1"}
	}
	ok := func(after time.Duration) HealthReport { return HealthReport{At: since.Add(after), OK: true} }
	tests := []struct {
		name    string
		in      []HealthReport
		restart int // restart the engine before this report (0: never)
		want    []string
	}{
		{"a short failure", []HealthReport{fail(time.Second), fail(4 * time.Minute), ok(5 * time.Minute)}, 0, nil},
		{"failing, then recovered", []HealthReport{fail(time.Second), fail(5 * time.Minute), fail(10 * time.Minute), ok(11 * time.Minute), ok(12 * time.Minute)}, 0,
			[]string{"ingest_failing: netmon ingest failing since 2026-11-25 17:00:00", "ingest_recovered: netmon ingest recovered"}},
		{"recovered after a restart", []HealthReport{fail(6 * time.Minute), ok(20 * time.Minute)}, 1,
			[]string{"ingest_failing: netmon ingest failing since 2026-11-25 17:00:00", "ingest_recovered: netmon ingest recovered"}},
		{"still failing after a restart", []HealthReport{fail(6 * time.Minute), fail(20 * time.Minute)}, 1,
			[]string{"ingest_failing: netmon ingest failing since 2026-11-25 17:00:00"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := newFakeStore()
			c := &clock{t: t0}
			e := newTestEngine(t, st, c, rules)
			for i, h := range tt.in {
				if tt.restart > 0 && i == tt.restart {
					flush(t, e)
					e = newTestEngine(t, st, c, rules)
				}
				e.HealthSeen(h)
			}
			flush(t, e)
			if diff := cmp.Diff(tt.want, titles(st.stored()), alertCmp...); diff != "" {
				t.Errorf("alerts (-want +got)\n%s", diff)
			}
			if st.has(MemHealth, "failing") != (len(tt.want) == 1) {
				t.Errorf("open failure remembered = %v", st.has(MemHealth, "failing"))
			}
		})
	}
}
