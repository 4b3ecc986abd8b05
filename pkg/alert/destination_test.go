package alert

import (
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func destRules() Rules {
	return Rules{
		LearningPeriod: time.Hour,
		Sinks:          []string{"hook"},
		NewDestination: NewDestinationRule{Enabled: true, LearningPeriod: time.Hour, PerDevicePerDay: 2,
			Allow: []netip.Prefix{netip.MustParsePrefix("198.51.100.0/24")}},
	}
}

func TestNewDestination(t *testing.T) {
	a := netip.MustParseAddr
	type contact struct {
		at     time.Duration // after the device's first contact
		remote string
	}
	tests := []struct {
		name  string
		rules func(*Rules)
		in    []contact
		want  []string
	}{
		{"learning, then new networks", nil, []contact{
			{0, "203.0.113.80"}, {30 * time.Minute, "192.0.2.1"},
			{2 * time.Hour, "203.0.113.99"}, {2 * time.Hour, "2001:db8:1:2::1"}, {3 * time.Hour, "2001:db8:1:ffff::1"},
		}, []string{"new_destination: New destination: aa:bb:cc:dd:ee:01 talked to 2001:db8:1::/48"}},
		{"the allow-list", nil, []contact{{0, "192.0.2.1"}, {2 * time.Hour, "198.51.100.7"}}, nil},
		{"the cap per day", nil, []contact{
			{0, "192.0.2.1"}, {2 * time.Hour, "203.0.113.1"}, {2 * time.Hour, "203.0.114.1"}, {2 * time.Hour, "203.0.115.1"},
			{26 * time.Hour, "203.0.116.1"}, {26 * time.Hour, "203.0.115.1"},
		}, []string{
			"new_destination: New destination: aa:bb:cc:dd:ee:01 talked to 203.0.113.0/24",
			"new_destination: New destination: aa:bb:cc:dd:ee:01 talked to 203.0.114.0/24",
			"new_destination: New destination: aa:bb:cc:dd:ee:01 talked to 203.0.116.0/24",
		}},
		{"off by default", func(r *Rules) { r.NewDestination.Enabled = false }, []contact{{0, "192.0.2.1"}, {2 * time.Hour, "203.0.113.1"}}, nil},
		{"IPv4-mapped is IPv4", nil, []contact{{0, "192.0.2.1"}, {2 * time.Hour, "::ffff:192.0.2.77"}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rules := destRules()
			if tt.rules != nil {
				tt.rules(&rules)
			}
			st := newFakeStore()
			start := t0.Add(2 * time.Hour) // past the global learning period
			e := newTestEngine(t, st, &clock{t: t0}, rules)
			for _, c := range tt.in {
				e.Contacted(Contact{Device: laptop.ID, Remote: a(c.remote), At: start.Add(c.at)})
			}
			flush(t, e)
			got := st.stored()
			if diff := cmp.Diff(tt.want, titles(got), alertCmp...); diff != "" {
				t.Errorf("alerts (-want +got)\n%s", diff)
			}
			for i, al := range got {
				if capped := al.Destination.CapReached; capped != (i == 1 && tt.name == "the cap per day") {
					t.Errorf("alert %d: cap reached = %v", i, capped)
				}
			}
		})
	}
}

func TestNetworkOf(t *testing.T) {
	for in, want := range map[string]string{
		"203.0.113.80": "203.0.113.0/24", "::ffff:203.0.113.80": "203.0.113.0/24", "2001:db8:1:2::3": "2001:db8:1::/48",
	} {
		if got := networkOf(netip.MustParseAddr(in)); got.String() != want {
			t.Errorf("networkOf(%s) = %s, want %s", in, got, want)
		}
	}
}
