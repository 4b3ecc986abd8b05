package device

import (
	"encoding/json"
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

var cmpAddr = cmpopts.EquateComparable(netip.Addr{})

func TestDeviceJSON(t *testing.T) {
	first := time.Date(2026, 11, 20, 8, 0, 0, 0, time.UTC)
	last := first.Add(90*time.Minute + 1500*time.Microsecond)
	tests := []struct {
		name string
		dev  Device
		want string
	}{
		{
			name: "MAC device",
			dev: Device{
				ID: "da:a1:19:00:00:01", MAC: MAC{0xda, 0xa1, 0x19, 0, 0, 1},
				Addrs:      []netip.Addr{netip.MustParseAddr("10.0.0.23"), netip.MustParseAddr("fd00::23")},
				Name:       "<b>phone</b>\x00",
				NameSource: SourceLease,
				Randomized: true,
				FirstSeen:  first, LastSeen: last,
			},
			want: `{"device":"da:a1:19:00:00:01","mac":"da:a1:19:00:00:01","addresses":["10.0.0.23","fd00::23"],` +
				`"name":"\u003cb\u003ephone\u003c/b\u003e\u0000","name_source":"lease","vendor":"","randomized":true,` +
				`"first_seen_at":"2026-11-20T08:00:00.000Z","last_seen_at":"2026-11-20T09:30:00.001Z"}`,
		},
		{
			name: "address device: mac is null, addresses never null",
			dev:  Device{ID: "ip:10.0.0.9", FirstSeen: first, LastSeen: first},
			want: `{"device":"ip:10.0.0.9","mac":null,"addresses":[],"name":"","name_source":"","vendor":"",` +
				`"randomized":false,"first_seen_at":"2026-11-20T08:00:00.000Z","last_seen_at":"2026-11-20T08:00:00.000Z"}`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := json.Marshal(tc.dev)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, string(b)); diff != "" {
				t.Errorf("JSON (-want +got):\n%s", diff)
			}
			var back Device
			if err := json.Unmarshal(b, &back); err != nil {
				t.Fatal(err)
			}
			want := tc.dev
			want.LastSeen = want.LastSeen.Truncate(time.Millisecond)
			if want.Addrs == nil {
				want.Addrs = []netip.Addr{}
			}
			if diff := cmp.Diff(want, back, cmpAddr); diff != "" {
				t.Errorf("round trip (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDeviceUnmarshalErrors(t *testing.T) {
	for _, in := range []string{
		`{"device":"nope"}`,
		`{"device":"ip:10.0.0.9","mac":"zz"}`,
		`{"device":"ip:10.0.0.9","name_source":"gossip"}`,
		`{"device":"ip:10.0.0.9","first_seen_at":"yesterday"}`,
		`[]`,
	} {
		var d Device
		if err := json.Unmarshal([]byte(in), &d); err == nil {
			t.Errorf("Unmarshal(%s) = nil error", in)
		}
	}
}

func TestNameSource(t *testing.T) {
	for s := SourceNone; s < numSources; s++ {
		b, err := s.MarshalText()
		if err != nil {
			t.Fatal(err)
		}
		var back NameSource
		if err := back.UnmarshalText(b); err != nil || back != s {
			t.Errorf("%v: round trip = %v, %v", s, back, err)
		}
	}
	if _, err := NameSource(200).MarshalText(); err == nil {
		t.Error("MarshalText(200) = nil error")
	}
	if got := NameSource(200).String(); got != "source(200)" {
		t.Errorf("String(200) = %q", got)
	}
	// The priority order the issue fixes.
	order := []NameSource{SourceConfig, SourceStatic, SourceLease, SourceEthers, SourcePTR, SourceVendor}
	names := []string{"config", "static", "lease", "ethers", "ptr", "vendor"}
	for i := range order {
		if order[i].String() != names[i] || i > 0 && order[i] <= order[i-1] {
			t.Errorf("source %d = %v, want %s after %v", i, order[i], names[i], order[max(i-1, 0)])
		}
	}
}

func TestConfigName(t *testing.T) {
	tests := []struct {
		key  string
		want Name
		err  bool
	}{
		{"AA-BB-CC-DD-EE-FF", Name{MAC: MAC{0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff}, Name: "n"}, false},
		{"10.0.0.9", Name{Addr: netip.MustParseAddr("10.0.0.9"), Name: "n"}, false},
		{"::ffff:10.0.0.9", Name{Addr: netip.MustParseAddr("10.0.0.9"), Name: "n"}, false},
		{"01:00:5e:00:00:01", Name{}, true},
		{"00:00:00:00:00:00", Name{}, true},
		{"fe80::1%eth0", Name{}, true},
		{"laptop", Name{}, true},
	}
	for _, tc := range tests {
		got, err := ConfigName(tc.key, "n")
		if (err != nil) != tc.err {
			t.Errorf("ConfigName(%q) error = %v, want error %v", tc.key, err, tc.err)
			continue
		}
		if diff := cmp.Diff(tc.want, got, cmpAddr); !tc.err && diff != "" {
			t.Errorf("ConfigName(%q) (-want +got):\n%s", tc.key, diff)
		}
	}
}
