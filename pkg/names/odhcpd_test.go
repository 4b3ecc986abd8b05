package names

import (
	"strings"
	"testing"
)

func TestOdhcpdLines(t *testing.T) {
	tests := []struct {
		line     string
		n        int
		name     string
		infinite bool
	}{
		{"# lan 00030001001b213a4b5c 1 host -1 1a 128 fd00::1/128 fd00::2/128", 2, "host", true},
		{"# lan 00030001001b213a4b5c 1 - 0 1a 128", 1, "", false}, // no address left: the MAC only
		{"# lan 00020000ab1101020304 1 x 0 1a 128", 0, "", false}, // no address, no MAC: nothing
		{`# lan 00030001001b213a4b5c 1 broken\x20x 0 1a 128 fd00::3/128`, 1, "", false},
		{"fd00::9 host.lan host", 1, "host", true},
	}
	for _, tc := range tests {
		var st Stats
		ls, err := ParseOdhcpd(strings.NewReader(tc.line), &st)
		if err != nil || len(ls) != tc.n || st.Skipped != 0 {
			t.Errorf("%q: %d leases, %+v, %v; want %d", tc.line, len(ls), st, err, tc.n)
			continue
		}
		for _, l := range ls {
			if l.Name != tc.name || l.Expires.IsZero() != tc.infinite {
				t.Errorf("%q: lease %+v, want name %q, infinite %v", tc.line, l, tc.name, tc.infinite)
			}
		}
	}
}
