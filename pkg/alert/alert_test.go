package alert

import (
	"encoding/json"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestLabel(t *testing.T) {
	tests := []struct {
		d    Device
		want string
	}{
		{Device{ID: "ip:10.0.0.9"}, "ip:10.0.0.9"},
		{Device{ID: "aa:bb:cc:dd:ee:01", MAC: "aa:bb:cc:dd:ee:01", Vendor: "Intel"}, "Intel aa:bb:cc:dd:ee:01"},
		{Device{ID: "aa:bb:cc:dd:ee:01", Name: "laptop", Vendor: "Intel"}, "laptop"},
	}
	for _, tt := range tests {
		if got := tt.d.Label(); got != tt.want {
			t.Errorf("%+v.Label() = %q, want %q", tt.d, got, tt.want)
		}
	}
}

// TestIDs: ids are stable (a restart raises an event under its old id),
// distinct per kind and key, and 32 hex digits; test ids are random.
func TestIDs(t *testing.T) {
	if idOf(NewDevice, "x") != idOf(NewDevice, "x") || idOf(NewDevice, "x") == idOf(Quota, "x") || idOf(NewDevice, "x") == idOf(NewDevice, "y") {
		t.Error("idOf is not a function of kind and key alone")
	}
	if got := idOf(NewDevice, "aa:bb:cc:dd:ee:01"); len(got) != 32 || strings.Trim(got, "0123456789abcdef") != "" {
		t.Errorf("id %q is not 32 hex digits", got)
	}
	if a, b := NewTestID(), NewTestID(); a == b || len(a) != 32 {
		t.Errorf("test ids %q, %q", a, b)
	}
}

// TestAlertJSON: the JSON sinks receive, hostile text escaped, and back.
func TestAlertJSON(t *testing.T) {
	d := Device{ID: "aa:bb:cc:dd:ee:01", Name: "</script><img src=x onerror=alert(1)>\"\n$(reboot)", Addr: netip.MustParseAddr("10.0.0.7"),
		Destinations: []netip.Addr{netip.MustParseAddr("2001:db8::80")}}
	a := Alert{ID: "x", Kind: NewDevice, Severity: Warning, At: t0, Title: "New " + d.Name, Device: &d,
		Destination: &Destination{Network: netip.MustParsePrefix("203.0.113.0/24"), Remote: netip.MustParseAddr("203.0.113.80")}}
	b, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	for _, raw := range []string{"<", ">", "\n"} {
		if strings.Contains(string(b), raw) {
			t.Errorf("JSON holds a raw %q: %s", raw, b)
		}
	}
	var back Alert
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(a, back, alertCmp...); diff != "" {
		t.Errorf("round trip (-want +got)\n%s", diff)
	}
	if !back.At.Equal(t0) || back.At.Location() != time.UTC {
		t.Errorf("time %v", back.At)
	}
}
