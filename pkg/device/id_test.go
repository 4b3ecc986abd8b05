package device

import (
	"errors"
	"net/netip"
	"testing"
)

func TestParseID(t *testing.T) {
	tests := []struct {
		in, want string
		err      bool
	}{
		{"aa:bb:cc:dd:ee:ff", "aa:bb:cc:dd:ee:ff", false},
		{"AA-BB-CC-DD-EE-0F", "aa:bb:cc:dd:ee:0f", false},
		{"ip:10.0.0.9", "ip:10.0.0.9", false},
		{"ip:FD00::0009", "ip:fd00::9", false},
		{"ip:::ffff:10.0.0.9", "ip:10.0.0.9", false},
		{"ip:fe80::1%eth0", "", true},
		{"ip:nope", "", true},
		{"00:00:00:00:00:00", "", true},
		{"ff:ff:ff:ff:ff:ff", "", true},
		{"10.0.0.9", "", true},
		{"", "", true},
	}
	for _, tc := range tests {
		got, err := ParseID(tc.in)
		if (err != nil) != tc.err {
			t.Errorf("ParseID(%q) error = %v, want error %v", tc.in, err, tc.err)
			continue
		}
		if err != nil && !errors.Is(err, ErrBadID) {
			t.Errorf("ParseID(%q): %v does not wrap ErrBadID", tc.in, err)
		}
		if string(got) != tc.want {
			t.Errorf("ParseID(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestIDParts(t *testing.T) {
	m := MAC{0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff}
	id := MACID(m)
	if got, ok := id.MAC(); !ok || got != m {
		t.Errorf("MACID(%v).MAC() = %v, %v", m, got, ok)
	}
	if _, ok := id.Addr(); ok || id.IsAddr() {
		t.Errorf("MAC id %q has an address", id)
	}
	a := netip.MustParseAddr("::ffff:10.0.0.9")
	aid := AddrID(a)
	if aid != "ip:10.0.0.9" {
		t.Errorf("AddrID(%v) = %q", a, aid)
	}
	if got, ok := aid.Addr(); !ok || got != netip.MustParseAddr("10.0.0.9") || !aid.IsAddr() {
		t.Errorf("%q.Addr() = %v, %v", aid, got, ok)
	}
	if _, ok := aid.MAC(); ok {
		t.Errorf("%q has a MAC", aid)
	}
}
