package device

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// DisplayMax is the number of runes DisplayName keeps.
const DisplayMax = 64

// DisplayName makes a name from a lease, a log or a config fit to show:
// control characters, bidirectional overrides and invalid UTF-8 are
// dropped, surrounding space trimmed, and a name longer than DisplayMax
// runes is cut there with "…". It does not escape markup: renderers do
// that (html/template, JSON encoding, Prometheus label quoting). A name
// that is already fit is returned as it is, without allocating.
func DisplayName(s string) string {
	if fit(s) {
		return s
	}
	var b strings.Builder
	b.Grow(min(len(s), 4*DisplayMax+3))
	n := 0
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		if r == utf8.RuneError && size <= 1 || dropped(r) {
			continue
		}
		if n == 0 && unicode.IsSpace(r) {
			continue
		}
		if n == DisplayMax {
			b.WriteString("…")
			n++
			break
		}
		b.WriteRune(r)
		n++
	}
	return strings.TrimRightFunc(b.String(), unicode.IsSpace)
}

// fit reports whether DisplayName would return s unchanged.
func fit(s string) bool {
	n := 0
	for i, r := range s {
		if r == utf8.RuneError {
			if _, size := utf8.DecodeRuneInString(s[i:]); size <= 1 {
				return false
			}
		}
		if dropped(r) || (i == 0 || i+utf8.RuneLen(r) == len(s)) && unicode.IsSpace(r) {
			return false
		}
		n++
		if n > DisplayMax {
			return false
		}
	}
	return true
}

// dropped: C0/C1 controls and the Unicode bidirectional controls, which
// could reorder the text around a name.
func dropped(r rune) bool {
	switch {
	case unicode.IsControl(r):
		return true
	case r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069, r == 0x200e, r == 0x200f, r == 0x061c:
		return true
	}
	return false
}
