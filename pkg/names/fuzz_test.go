package names

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParseLeases runs every lease and host parser on any input: no
// panic, no error from a reader that cannot fail, every lease names a
// usable MAC or address, and the counts add up.
func FuzzParseLeases(f *testing.F) {
	seeds := map[string]Format{
		"dnsmasq-lab.leases": FormatDnsmasq, "openwrt-dhcp.leases": FormatDnsmasq, "hostile.leases": FormatDnsmasq,
		"odhcpd": FormatOdhcpd, "dhcpd.leases": FormatISC, "kea-leases4.csv": FormatKea, "kea-leases6.csv": FormatKea,
		"openwrt-config-dhcp": FormatUCI, "dnsmasq.conf": FormatDnsmasqConf, "ethers": FormatEthers,
	}
	for name, format := range seeds {
		b, err := os.ReadFile(filepath.Join(fixtureDir, name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(uint8(format), b)
	}
	f.Add(uint8(FormatDnsmasqHostsFile), []byte("00:1b:21:3a:4b:5c,desktop\n"))
	f.Fuzz(func(t *testing.T, format uint8, in []byte) {
		fm := Format(format%uint8(FormatEthers)) + 1
		var st Stats
		ls, err := Parse(fm, bytes.NewReader(in), &st)
		if err != nil {
			t.Fatalf("%v: %v", fm, err)
		}
		for _, l := range ls {
			if !l.MAC.Valid() && !l.Addr.IsValid() {
				t.Fatalf("%v: lease with neither MAC nor address: %+v", fm, l)
			}
			if !l.MAC.IsZero() && !l.MAC.Valid() {
				t.Fatalf("%v: unusable MAC %v", fm, l.MAC)
			}
			if l.Addr.IsValid() && (l.Addr.Zone() != "" || l.Addr.Is4In6()) {
				t.Fatalf("%v: address not normalised: %v", fm, l.Addr)
			}
		}
		if st.Entries != len(ls) || st.Skipped > st.Lines || (st.Skipped == 0) != (st.FirstSkip == 0) {
			t.Fatalf("%v: stats %+v for %d leases", fm, st, len(ls))
		}
		// Detect never panics and names a format or none.
		if d := Detect("x", in); d > FormatEthers {
			t.Fatalf("Detect = %v", d)
		}
	})
}
