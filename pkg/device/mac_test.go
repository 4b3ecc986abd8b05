package device

import (
	"errors"
	"testing"
)

func TestParseMAC(t *testing.T) {
	want := MAC{0x52, 0x54, 0x00, 0x0a, 0xbc, 0xde}
	tests := []struct {
		name string
		in   string
		want MAC
		err  bool
	}{
		{"colons", "52:54:00:0a:bc:de", want, false},
		{"upper case", "52:54:00:0A:BC:DE", want, false},
		{"dashes", "52-54-00-0A-BC-DE", want, false},
		{"one-digit bytes", "52:54:0:a:bc:de", want, false},
		{"cisco dots", "5254.000a.bcde", want, false},
		{"bare hex", "5254000abcde", want, false},
		{"zero", "00:00:00:00:00:00", MAC{}, false},
		{"mixed separators", "52:54-00:0a:bc:de", MAC{}, true},
		{"five groups", "52:54:00:0a:bc", MAC{}, true},
		{"seven groups", "52:54:00:0a:bc:de:01", MAC{}, true},
		{"three digits", "52:54:000:0a:bc:de", MAC{}, true},
		{"empty group", "52::00:0a:bc:de", MAC{}, true},
		{"trailing separator", "52:54:00:0a:bc:de:", MAC{}, true},
		{"not hex", "52:54:00:0g:bc:de", MAC{}, true},
		{"eui-64", "52:54:00:ff:fe:0a:bc:de", MAC{}, true},
		{"empty", "", MAC{}, true},
		{"bare hex not hex", "5254000abcdz", MAC{}, true},
		{"dots not hex", "5254.000a.bcdx", MAC{}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseMAC(tc.in)
			if (err != nil) != tc.err {
				t.Fatalf("ParseMAC(%q) error = %v, want error %v", tc.in, err, tc.err)
			}
			if err != nil && !errors.Is(err, ErrNotMAC) {
				t.Errorf("error %v does not wrap ErrNotMAC", err)
			}
			if got != tc.want {
				t.Errorf("ParseMAC(%q) = %v, want %v", tc.in, got, tc.want)
			}
		})
	}
}

func TestMACString(t *testing.T) {
	m := MAC{0x0a, 0, 0xff, 1, 0x10, 0xab}
	if got, want := m.String(), "0a:00:ff:01:10:ab"; got != want {
		t.Errorf("String = %q, want %q", got, want)
	}
	b, _ := m.MarshalText()
	var back MAC
	if err := back.UnmarshalText(b); err != nil || back != m {
		t.Errorf("text round trip = %v, %v; want %v", back, err, m)
	}
	if err := back.UnmarshalText([]byte("nope")); err == nil {
		t.Error("UnmarshalText(nope) = nil error")
	}
}

func TestMACKinds(t *testing.T) {
	tests := []struct {
		mac                            string
		zero, multicast, random, valid bool
	}{
		{"00:00:00:00:00:00", true, false, false, false},
		{"ff:ff:ff:ff:ff:ff", false, true, true, false},
		{"01:00:5e:00:00:fb", false, true, false, false},
		{"33:33:00:00:00:01", false, true, true, false},
		{"52:54:00:12:34:56", false, false, true, true}, // qemu's prefix is locally administered
		{"da:a1:19:00:00:01", false, false, true, true},
		{"00:1b:21:3a:4b:5c", false, false, false, true},
	}
	for _, tc := range tests {
		m, err := ParseMAC(tc.mac)
		if err != nil {
			t.Fatal(err)
		}
		got := [4]bool{m.IsZero(), m.Multicast(), m.Randomized(), m.Valid()}
		want := [4]bool{tc.zero, tc.multicast, tc.random, tc.valid}
		if got != want {
			t.Errorf("%s: zero,multicast,randomized,valid = %v, want %v", tc.mac, got, want)
		}
	}
	if got := (MAC{0, 0x1b, 0x21, 1, 2, 3}).OUI(); got != [3]byte{0, 0x1b, 0x21} {
		t.Errorf("OUI = %x", got)
	}
}

func TestParseMACNoAlloc(t *testing.T) {
	if n := testing.AllocsPerRun(100, func() { _, _ = ParseMAC("52:54:00:0a:bc:de") }); n != 0 {
		t.Errorf("ParseMAC allocates %v times", n)
	}
}

func FuzzParseMAC(f *testing.F) {
	for _, s := range []string{"52:54:00:0a:bc:de", "5254.000a.bcde", "5254000abcde", "0:1:2:3:4:5", "a-b-c-d-e-f", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := ParseMAC(s)
		if err != nil {
			return
		}
		// Whatever parses, round-trips through the normal form.
		back, err := ParseMAC(m.String())
		if err != nil || back != m {
			t.Fatalf("ParseMAC(%q) = %v, but ParseMAC(%q) = %v, %v", s, m, m.String(), back, err)
		}
	})
}
