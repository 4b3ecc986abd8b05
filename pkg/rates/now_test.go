package rates

import (
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseOrder(t *testing.T) {
	for s, want := range map[string]Order{"": ByBytes, "bytes": ByBytes, "rate": ByRate} {
		got, err := ParseOrder(s)
		if err != nil || got != want {
			t.Errorf("ParseOrder(%q) = %v, %v, want %v", s, got, err, want)
		}
	}
	if _, err := ParseOrder("Rate"); err == nil {
		t.Error("ParseOrder(Rate) succeeded")
	}
	if ByRate.String() != "rate" || ByBytes.String() != "bytes" {
		t.Error("Order.String")
	}
}

func TestSorts(t *testing.T) {
	r := func(total float64) Reading { return Reading{Known: true, Window: Rate{Up: total}} }
	ds := []Device{{ID: "b"}, {ID: "c", Reading: r(1)}, {ID: "a"}, {ID: "d", Reading: r(5)}, {ID: "e", Reading: r(1)}}
	SortDevices(ds)
	var ids []string
	for _, d := range ds {
		ids = append(ids, d.ID)
	}
	if diff := cmp.Diff([]string{"d", "c", "e", "a", "b"}, ids); diff != "" {
		t.Errorf("device order (-want +got):\n%s", diff)
	}
	rs := []Remote{{Addr: addr("198.51.100.9"), Reading: r(2)}, {Addr: addr("198.51.100.1"), Reading: r(2)}, {Addr: addr("2001:db8::1"), Reading: r(3)}}
	SortRemotes(rs)
	var as []netip.Addr
	for _, x := range rs {
		as = append(as, x.Addr)
	}
	if diff := cmp.Diff([]netip.Addr{addr("2001:db8::1"), addr("198.51.100.1"), addr("198.51.100.9")}, as, cmpOpts); diff != "" {
		t.Errorf("remote order (-want +got):\n%s", diff)
	}
}
