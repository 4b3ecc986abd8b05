package device

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestDisplayName(t *testing.T) {
	long := strings.Repeat("a", 10*1024)
	tests := []struct {
		name, in, want string
	}{
		{"plain", "laptop", "laptop"},
		{"markup kept for the renderer to escape", "<b>x</b>&", "<b>x</b>&"},
		{"control characters", "lap\x00top\x1b[31m\n", "laptop[31m"},
		{"C1 control", "a\u0085b", "ab"},
		{"bidi override", "evil\u202egnp.exe", "evilgnp.exe"},
		{"invalid UTF-8", "caf\xc3\x28e\xff", "caf(e"},
		{"surrounding space", "  phone  ", "phone"},
		{"exactly the limit", strings.Repeat("é", DisplayMax), strings.Repeat("é", DisplayMax)},
		{"10 KB", long, strings.Repeat("a", DisplayMax) + "…"},
		{"cut counts runes", strings.Repeat("名", 70), strings.Repeat("名", DisplayMax) + "…"},
		{"only junk", "\x00\x01\xff", ""},
		{"emoji kept", "Anna’s 📱", "Anna’s 📱"},
		{"real U+FFFD kept", "a\uFFFDb", "a\uFFFDb"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := DisplayName(tc.in)
			if got != tc.want {
				t.Errorf("DisplayName(%q) = %q, want %q", tc.in, got, tc.want)
			}
			if !utf8.ValidString(got) || utf8.RuneCountInString(got) > DisplayMax+1 {
				t.Errorf("DisplayName(%q) = %q: not valid or too long", tc.in, got)
			}
			if DisplayName(got) != got {
				t.Errorf("DisplayName is not idempotent on %q", got)
			}
		})
	}
}

func TestDisplayNameFitNoAlloc(t *testing.T) {
	if n := testing.AllocsPerRun(100, func() { _ = DisplayName("kitchen-tablet") }); n != 0 {
		t.Errorf("DisplayName of a fit name allocates %v times", n)
	}
}

func FuzzDisplayName(f *testing.F) {
	for _, s := range []string{"laptop", "\x00<script>", strings.Repeat("x", 100), "\u202e", "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := DisplayName(s)
		if !utf8.ValidString(got) {
			t.Fatalf("DisplayName(%q) = %q, invalid UTF-8", s, got)
		}
		if utf8.RuneCountInString(got) > DisplayMax+1 {
			t.Fatalf("DisplayName(%q) = %q, too long", s, got)
		}
		for _, r := range got {
			if dropped(r) {
				t.Fatalf("DisplayName(%q) = %q keeps %U", s, got, r)
			}
		}
		if DisplayName(got) != got {
			t.Fatalf("DisplayName not idempotent: %q -> %q -> %q", s, got, DisplayName(got))
		}
	})
}
