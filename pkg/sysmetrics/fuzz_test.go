package sysmetrics

import (
	"math"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse feeds the same bytes to every parser, seeded from the fixture
// trees. Properties: no panic; a parsed load average is finite and not
// negative (it goes into JSON); parsed memory adds up (used + available
// = total).
func FuzzParse(f *testing.F) {
	for _, host := range []string{"router", "minimal"} {
		for _, p := range []string{"proc/loadavg", "proc/meminfo", "sys/class/net/enp2s0/statistics/rx_bytes"} {
			if b, err := os.ReadFile(filepath.Join("..", "..", "fixtures", "hosts", host, p)); err == nil {
				f.Add(b)
			}
		}
	}
	f.Add([]byte("NaN Inf -1 1/1 1\n"))
	f.Add([]byte("MemTotal: 18446744073709551615 kB\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if l, err := ParseLoadAvg(b); err == nil {
			for _, v := range []float64{l.Load1, l.Load5, l.Load15} {
				if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
					t.Fatalf("ParseLoadAvg(%q) = %+v", b, l)
				}
			}
		}
		if m, err := ParseMeminfo(b); err == nil {
			if m.UsedBytes+m.AvailableBytes != m.TotalBytes || m.AvailableBytes > m.TotalBytes {
				t.Fatalf("ParseMeminfo(%q) = %+v does not add up", b, m)
			}
		}
		ParseCounter(b)
	})
}
