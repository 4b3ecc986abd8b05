package sysmetrics

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestParseCounter(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    uint64
		wantErr bool
	}{
		{name: "sysfs value", in: "262630588\n", want: 262630588},
		{name: "no newline", in: "7", want: 7},
		{name: "max uint64", in: "18446744073709551615\n", want: 18446744073709551615},
		{name: "overflow", in: "18446744073709551616\n", wantErr: true},
		{name: "empty", in: "", wantErr: true},
		{name: "negative", in: "-5\n", wantErr: true},
		{name: "two numbers", in: "1 2\n", wantErr: true},
		{name: "NUL bytes", in: "\x00\x00", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseCounter([]byte(tc.in))
			if (err != nil) != tc.wantErr {
				t.Fatalf("ParseCounter(%q) error = %v, wantErr %v", tc.in, err, tc.wantErr)
			}
			if got != tc.want {
				t.Errorf("ParseCounter(%q) = %d, want %d", tc.in, got, tc.want)
			}
		})
	}
}

func TestRate(t *testing.T) {
	tests := []struct {
		name          string
		before, after uint64
		d             time.Duration
		want          *float64
	}{
		{name: "growth", before: 100, after: 1100, d: 2 * time.Second, want: ptr(500.0)},
		{name: "no growth", before: 100, after: 100, d: time.Second, want: ptr(0.0)},
		{name: "sub-second interval", before: 0, after: 100, d: 250 * time.Millisecond, want: ptr(400.0)},
		{name: "reset", before: 100, after: 50, d: time.Second, want: nil},
		{name: "zero interval", before: 1, after: 2, d: 0, want: nil},
		{name: "clock went back", before: 1, after: 2, d: -time.Second, want: nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, Rate(tc.before, tc.after, tc.d)); diff != "" {
				t.Errorf("Rate (-want +got):\n%s", diff)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

func TestValidInterfaceName(t *testing.T) {
	tests := []struct {
		name  string
		iface string
		ok    bool
	}{
		{name: "predictable name", iface: "enp2s0", ok: true},
		{name: "vlan", iface: "eth0.100", ok: true},
		{name: "fifteen bytes", iface: "abcdefghijklmno", ok: true},
		{name: "sixteen bytes", iface: "abcdefghijklmnop"},
		{name: "empty", iface: ""},
		{name: "dot", iface: "."},
		{name: "dot dot", iface: ".."},
		{name: "path", iface: "../etc"},
		{name: "alias colon", iface: "eth0:1"},
		{name: "space", iface: "eth 0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := ValidInterfaceName(tc.iface)
			if (err == nil) != tc.ok {
				t.Errorf("ValidInterfaceName(%q) = %v, want ok=%v", tc.iface, err, tc.ok)
			}
		})
	}
}
