package names

import (
	"strings"
	"testing"
	"time"
)

func TestUnquoteISC(t *testing.T) {
	for in, want := range map[string]string{`"a\040b"`: "a b", `"q\"x"`: `q"x`, `bare`: "bare", `"\001\000"`: "\x01\x00"} {
		if got := unquoteISC(in); got != want {
			t.Errorf("unquoteISC(%s) = %q, want %q", in, got, want)
		}
	}
}

func TestISCTime(t *testing.T) {
	for in, want := range map[string]time.Time{
		"4 2023/11/16 22:00:00": time.Date(2023, 11, 16, 22, 0, 0, 0, time.UTC),
		"epoch 1700000000":      time.Unix(1700000000, 0).UTC(),
		"never":                 {},
		"epoch nope":            {},
		"4 2023/13/16 22:00:00": {},
	} {
		if got := iscTime(in); !got.Equal(want) {
			t.Errorf("iscTime(%q) = %v, want %v", in, got, want)
		}
	}
}

func TestISCLastBlockWins(t *testing.T) {
	in := "lease 10.0.0.5 {\n binding state active;\n client-hostname \"a\";\n}\n" +
		"lease 10.0.0.5 {\n binding state active;\n client-hostname \"b\";\n}\n"
	ls, err := ParseISC(strings.NewReader(in), nil)
	if err != nil || len(ls) != 1 || ls[0].Name != "b" {
		t.Errorf("ParseISC = %+v, %v; want one lease named b", ls, err)
	}
}
