package names

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestDhcpHostsFile(t *testing.T) {
	in := "00:1b:21:3a:4b:5c,desktop\n# comment\nb8:27:eb:12:34:56,192.168.1.21,pi\n"
	got, err := ParseDnsmasqHosts(strings.NewReader(in), true, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []Lease{{MAC: mac("00:1b:21:3a:4b:5c"), Name: "desktop"}, {MAC: mac("b8:27:eb:12:34:56"), Addr: ip("192.168.1.21"), Name: "pi"}}
	if diff := cmp.Diff(want, got, cmpAddr); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestOverlongLineSkipped(t *testing.T) {
	in := "1764590400 00:1b:21:3a:4b:5c 192.168.1.20 " + strings.Repeat("y", maxLine+10) + " *\n" +
		"1764590400 00:1b:21:3a:4b:5d 192.168.1.21 ok *\n"
	var st Stats
	got, err := ParseDnsmasq(strings.NewReader(in), &st)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Name != "ok" || st.Skipped != 1 || st.FirstSkip != 1 {
		t.Errorf("got %v, stats %+v; want the second lease only, line 1 skipped", got, st)
	}
}

func TestIsLeaseTime(t *testing.T) {
	for s, want := range map[string]bool{"12h": true, "3600": true, "1w": true, "infinite": false, "h": false, "": false, "12x": false} {
		if got := isLeaseTime(s); got != want {
			t.Errorf("isLeaseTime(%q) = %v, want %v", s, got, want)
		}
	}
}
