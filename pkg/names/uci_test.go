package names

import (
	"strings"
	"testing"
)

func TestUnquoteUCI(t *testing.T) {
	for in, want := range map[string]string{`'a b'`: "a b", `"x"`: "x", `bare`: "bare", `'half`: "'half", `"mixed'`: `"mixed'`, `''`: ""} {
		if got := unquoteUCI(in); got != want {
			t.Errorf("unquoteUCI(%s) = %q, want %q", in, got, want)
		}
	}
}

func TestUCIOnlyHostSections(t *testing.T) {
	in := "config domain\n\toption name 'not-a-host'\n\toption ip '10.0.0.1'\n" +
		"config 'host' 'x'\n\toption name 'h'\n\toption mac '00:1b:21:3a:4b:5c'\n"
	ls, err := ParseUCI(strings.NewReader(in), nil)
	if err != nil || len(ls) != 1 || ls[0].Name != "h" {
		t.Errorf("ParseUCI = %+v, %v; want the one host", ls, err)
	}
}
