package names

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestVendors(t *testing.T) {
	for _, file := range []string{"oui-sample.csv", "oui-sample.txt"} {
		v, err := LoadVendors(filepath.Join(fixtureDir, file))
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		tests := map[string]string{
			"00:1b:21:3a:4b:5c": "Intel Corporate",
			"b8:27:eb:12:34:56": "Raspberry Pi Foundation",
			"00:50:56:00:00:01": "", // not in the sample
			"ba:27:eb:12:34:56": "", // randomised: no vendor
		}
		if file == "oui-sample.csv" {
			tests["00:0c:42:00:00:01"] = "Routerboard.com"
		}
		for m, want := range tests {
			if got := v.Vendor(mac(m)); got != want {
				t.Errorf("%s: Vendor(%s) = %q, want %q", file, m, got, want)
			}
		}
	}
	if _, err := ParseVendors(strings.NewReader("nothing here\n")); err == nil {
		t.Error("ParseVendors(junk) = nil error")
	}
	if _, err := LoadVendors(filepath.Join(t.TempDir(), "none.csv")); err == nil {
		t.Error("LoadVendors(missing) = nil error")
	}
	var none *Vendors
	if got := none.Vendor(mac("00:1b:21:3a:4b:5c")); got != "" {
		t.Errorf("nil Vendors names %q", got)
	}
}

func TestVendorNoAlloc(t *testing.T) {
	v, err := LoadVendors(filepath.Join(fixtureDir, "oui-sample.csv"))
	if err != nil {
		t.Fatal(err)
	}
	m := mac("00:1b:21:3a:4b:5c")
	if n := testing.AllocsPerRun(100, func() { v.Vendor(m) }); n != 0 {
		t.Errorf("Vendor allocates %v times", n)
	}
}
