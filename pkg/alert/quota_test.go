package alert

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func quotaRules() Rules {
	return Rules{
		Sinks: []string{"hook"},
		Quotas: []QuotaRule{
			{Name: "laptop-day", Scope: laptop.ID, Period: Day, Limit: 1000, Warn: []int{80, 100}},
			{Name: "lan-month", Scope: LAN, Period: Billing, Limit: 10_000, Warn: []int{50, 90, 100}, Sinks: []string{"phone"}},
		},
	}
}

func TestQuota(t *testing.T) {
	day1, day2 := t0.Truncate(24*time.Hour), t0.Truncate(24*time.Hour).Add(24*time.Hour)
	bill := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	use := func(dev string, day time.Time, d, b uint64) Usage {
		return Usage{Device: dev, At: day.Add(time.Hour), Day: Volume{day, d}, Billing: Volume{bill, b}}
	}
	tests := []struct {
		name string
		in   []Usage
		want []string
	}{
		{"below every level", []Usage{use(laptop.ID, day1, 799, 799)}, nil},
		{"80% once", []Usage{use(laptop.ID, day1, 800, 800), use(laptop.ID, day1, 900, 900)},
			[]string{"quota: Quota laptop-day: aa:bb:cc:dd:ee:01 used 80% of 1.0 kB today"}},
		{"80% then 100%", []Usage{use(laptop.ID, day1, 850, 850), use(laptop.ID, day1, 1000, 1000), use(laptop.ID, day1, 5000, 5000)},
			[]string{"quota: Quota laptop-day: aa:bb:cc:dd:ee:01 used 80% of 1.0 kB today", "quota: Quota laptop-day: aa:bb:cc:dd:ee:01 used 100% of 1.0 kB today"}},
		{"a jump past both says 100% only", []Usage{use(laptop.ID, day1, 2000, 2000), use(laptop.ID, day1, 2100, 2100)},
			[]string{"quota: Quota laptop-day: aa:bb:cc:dd:ee:01 used 100% of 1.0 kB today"}},
		{"again the next day", []Usage{use(laptop.ID, day1, 800, 800), use(laptop.ID, day2, 10, 810), use(laptop.ID, day2, 900, 1700)},
			[]string{"quota: Quota laptop-day: aa:bb:cc:dd:ee:01 used 80% of 1.0 kB today", "quota: Quota laptop-day: aa:bb:cc:dd:ee:01 used 80% of 1.0 kB today"}},
		{"the LAN over the billing period", []Usage{use(LAN, day1, 0, 5000), use(LAN, day2, 0, 9500), use(LAN, day2, 0, 9600)},
			[]string{"quota: Quota lan-month: The LAN used 50% of 10 kB this billing period", "quota: Quota lan-month: The LAN used 90% of 10 kB this billing period"}},
		{"another device's usage", []Usage{use("ip:10.0.0.9", day1, 5000, 5000)}, nil},
		{"period not known", []Usage{{Device: laptop.ID, At: day1, Day: Volume{Bytes: 5000}}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := newFakeStore()
			e := newTestEngine(t, st, &clock{t: t0}, quotaRules())
			for _, u := range tt.in {
				e.UsageSeen(u)
			}
			flush(t, e)
			if diff := cmp.Diff(tt.want, titles(st.stored()), alertCmp...); diff != "" {
				t.Errorf("alerts (-want +got)\n%s", diff)
			}
		})
	}
}

// TestQuotaRestart: a warning written is not repeated after a restart;
// the alert names the device as last seen, and goes to the rule's sinks.
func TestQuotaRestart(t *testing.T) {
	st := newFakeStore()
	c := &clock{t: t0}
	day := t0.Truncate(24 * time.Hour)
	u := Usage{Device: laptop.ID, At: t0, Day: Volume{day, 900}}
	e := newTestEngine(t, st, c, quotaRules())
	named := laptop
	named.Name = "laptop"
	e.DeviceSeen(Sighting{Device: named, At: t0})
	e.UsageSeen(u)
	flush(t, e)
	e2 := newTestEngine(t, st, c, quotaRules())
	e2.UsageSeen(u)
	flush(t, e2)
	got := st.stored()
	if len(got) != 1 || got[0].Device == nil || got[0].Device.Name != "laptop" || got[0].Quota.Percent != 80 || got[0].Severity != Warning {
		t.Fatalf("alerts = %+v, want one 80%% warning naming the laptop", got)
	}
	if diff := cmp.Diff([]string{got[0].ID + " hook pending"}, st.states()); diff != "" {
		t.Errorf("deliveries (-want +got)\n%s", diff)
	}
}

func TestPassed(t *testing.T) {
	tests := []struct {
		used, limit uint64
		level       int
		want        bool
	}{
		{80, 100, 80, true}, {79, 100, 80, false}, {1 << 63, 1 << 63, 100, true}, {1<<64 - 1, 1<<64 - 1, 100, true}, {0, 1, 1, false},
	}
	for _, tt := range tests {
		if got := passed(tt.used, tt.limit, tt.level); got != tt.want {
			t.Errorf("passed(%d, %d, %d) = %v, want %v", tt.used, tt.limit, tt.level, got, tt.want)
		}
	}
}
