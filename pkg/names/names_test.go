package names

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestDuidMAC(t *testing.T) {
	for in, want := range map[string]string{
		"00:01:00:01:32:a1:f3:57:ba:48:48:04:35:67": "ba:48:48:04:35:67", // DUID-LLT, real (lab)
		"000300010025 4b112233":                     "",
		"00030001ba4848043567":                      "ba:48:48:04:35:67", // DUID-LL
		"00:02:00:00:ab:11:01:02:03:04":             "",                  // DUID-EN
		"00:01:00:06:32:a1:f3:57:ba:48:48:04:35:67": "",                  // not Ethernet
		"00:03:00:01:00:00:00:00:00:00":             "",                  // zero MAC
		"zz":                                        "",
	} {
		got := duidMAC(in)
		if (want == "" && !got.IsZero()) || (want != "" && got.String() != want) {
			t.Errorf("duidMAC(%q) = %v, want %q", in, got, want)
		}
	}
}

func TestEachLine(t *testing.T) {
	long := strings.Repeat("x", maxLine+1)
	var got []string
	err := eachLine(strings.NewReader("a\r\n"+long+"\nb"), func(n int, line []byte) {
		if line == nil {
			got = append(got, "LONG")
		} else {
			got = append(got, string(line))
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"a", "LONG", "b"}, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}
