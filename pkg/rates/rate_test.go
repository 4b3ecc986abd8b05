package rates

import (
	"math"
	"testing"
)

func TestFormat(t *testing.T) {
	tests := []struct {
		unit Unit
		bps  float64 // bytes per second
		want string
	}{
		{Bits, 0, "0 bit/s"},
		{Bits, -1, "0 bit/s"},
		{Bits, math.NaN(), "0 bit/s"},
		{Bits, 1, "8 bit/s"},
		{Bits, 124.9, "999 bit/s"},
		{Bits, 125, "1.00 kbit/s"},
		{Bits, 2_000_000, "16.0 Mbit/s"},
		{Bits, 12_345_678, "98.8 Mbit/s"},
		{Bits, 125_000_000, "1.00 Gbit/s"},
		{Bits, 1_249_990, "10.0 Mbit/s"},
		{Bytes, 2_000_000, "2.00 MB/s"},
		{Bytes, 999, "999 B/s"},
		{Bytes, 999.6, "1.00 kB/s"},
		{Bytes, 512_000, "512 kB/s"},
		{Bytes, math.Inf(1), "0 B/s"},
	}
	for _, tt := range tests {
		if got := tt.unit.Format(tt.bps); got != tt.want {
			t.Errorf("%s.Format(%v) = %q, want %q", tt.unit, tt.bps, got, tt.want)
		}
	}
}

func TestFormatReading(t *testing.T) {
	if up, down := Bits.FormatReading(Reading{}); up != "-" || down != "-" {
		t.Errorf("unknown reading = %q %q, want - -", up, down)
	}
	up, down := Bytes.FormatReading(Reading{Known: true, Window: Rate{Up: 0, Down: 1500}, Last: Rate{Up: 9, Down: 9}})
	if up != "0 B/s" || down != "1.50 kB/s" {
		t.Errorf("known reading = %q %q, want 0 B/s 1.50 kB/s", up, down)
	}
}

func TestParseUnit(t *testing.T) {
	for _, s := range []string{"bits", "bytes"} {
		u, err := ParseUnit(s)
		if err != nil || u.String() != s {
			t.Errorf("ParseUnit(%q) = %v, %v", s, u, err)
		}
	}
	for _, s := range []string{"", "Bits", "bps", "kbit"} {
		if _, err := ParseUnit(s); err == nil {
			t.Errorf("ParseUnit(%q) succeeded", s)
		}
	}
}

func TestBps(t *testing.T) {
	tests := []struct {
		r        Rate
		up, down int64
	}{
		{Rate{}, 0, 0},
		{Rate{Up: 0.06, Down: 0.0624}, 0, 0},
		{Rate{Up: 0.07, Down: 2_000_000}, 1, 16_000_000},
		{Rate{Up: -5, Down: math.NaN()}, 0, 0},
		{Rate{Up: math.MaxFloat64, Down: math.Inf(1)}, math.MaxInt64, math.MaxInt64},
	}
	for _, tt := range tests {
		if up, down := tt.r.Bps(); up != tt.up || down != tt.down {
			t.Errorf("%+v.Bps() = %d, %d, want %d, %d", tt.r, up, down, tt.up, tt.down)
		}
	}
	if r := FromBps(8, 16); r != (Rate{Up: 1, Down: 2}) {
		t.Errorf("FromBps(8, 16) = %+v", r)
	}
}
