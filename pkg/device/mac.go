package device

import (
	"errors"
	"fmt"
)

// MAC is an Ethernet (EUI-48) address. The zero value means "unknown";
// it is never the address of a device.
type MAC [6]byte

// ErrNotMAC is wrapped by ParseMAC's errors.
var ErrNotMAC = errors.New("not a MAC address")

// ParseMAC reads the spellings leases, neighbour tables and configs use:
// six groups of hex digits separated by colons or dashes
// (aa:bb:cc:dd:ee:ff, AA-BB-CC-DD-EE-FF, and one-digit groups such as
// 0:1b:2:3:4:5 as /etc/ethers and some leases print them), three dotted
// groups of four (aabb.ccdd.eeff, as Cisco prints them), or twelve bare
// hex digits. Upper and lower case are accepted. It does not allocate.
func ParseMAC(s string) (MAC, error) {
	var m MAC
	switch {
	case len(s) == 12:
		for i := range 6 {
			hi, ok1 := unhex(s[2*i])
			lo, ok2 := unhex(s[2*i+1])
			if !ok1 || !ok2 {
				return MAC{}, macError(s)
			}
			m[i] = hi<<4 | lo
		}
		return m, nil
	case len(s) == 14 && s[4] == '.' && s[9] == '.':
		j := 0
		for i := 0; i < len(s); i += 5 {
			for k := 0; k < 4; k += 2 {
				hi, ok1 := unhex(s[i+k])
				lo, ok2 := unhex(s[i+k+1])
				if !ok1 || !ok2 {
					return MAC{}, macError(s)
				}
				m[j] = hi<<4 | lo
				j++
			}
		}
		return m, nil
	}
	// Six groups of one or two hex digits, one separator throughout.
	var sep byte
	g, digits := 0, 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == ':' || c == '-' {
			if sep == 0 {
				sep = c
			}
			if c != sep || digits == 0 || g == 5 {
				return MAC{}, macError(s)
			}
			g++
			digits = 0
			continue
		}
		v, ok := unhex(c)
		if !ok || digits == 2 {
			return MAC{}, macError(s)
		}
		m[g] = m[g]<<4 | v
		digits++
	}
	if g != 5 || digits == 0 {
		return MAC{}, macError(s)
	}
	return m, nil
}

func macError(s string) error {
	if len(s) > 40 {
		s = s[:40] + "..."
	}
	return fmt.Errorf("%w: %q", ErrNotMAC, s)
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

const hexDigits = "0123456789abcdef"

// String is the normalised form: lower case, two digits per byte, colons.
func (m MAC) String() string {
	var b [17]byte
	m.appendTo(b[:0])
	return string(b[:])
}

func (m MAC) appendTo(b []byte) []byte {
	for i, v := range m {
		if i > 0 {
			b = append(b, ':')
		}
		b = append(b, hexDigits[v>>4], hexDigits[v&0xf])
	}
	return b
}

// IsZero reports whether m is 00:00:00:00:00:00, the unknown MAC.
func (m MAC) IsZero() bool { return m == MAC{} }

// Multicast reports whether the group bit is set (ff:ff:ff:ff:ff:ff and
// 01:00:5e:..., 33:33:... included): such an address is never one machine.
func (m MAC) Multicast() bool { return m[0]&1 == 1 }

// Randomized reports whether the locally administered bit is set: phones
// and laptops pick such addresses at random, per network or per day, so
// the device may come back under another MAC.
func (m MAC) Randomized() bool { return m[0]&2 == 2 }

// Valid reports whether m can be a device: not zero, not multicast.
func (m MAC) Valid() bool { return !m.IsZero() && !m.Multicast() }

// OUI is the first three bytes, the vendor's registered prefix (only
// meaningful when the address is not Randomized).
func (m MAC) OUI() [3]byte { return [3]byte{m[0], m[1], m[2]} }

// MarshalText writes String.
func (m MAC) MarshalText() ([]byte, error) { return m.appendTo(make([]byte, 0, 17)), nil }

// UnmarshalText reads what ParseMAC reads.
func (m *MAC) UnmarshalText(b []byte) error {
	v, err := ParseMAC(string(b))
	if err != nil {
		return err
	}
	*m = v
	return nil
}
