package names

import (
	"strings"
	"testing"
)

func TestEthersLines(t *testing.T) {
	in := "# comment\n\n00:1b:21:3a:4b:5c\tdesktop # trailing\nb8:27:eb:12:34:56 192.168.1.21\n00:00:00:00:00:00 zero\n"
	var st Stats
	ls, err := ParseEthers(strings.NewReader(in), &st)
	if err != nil || len(ls) != 1 || ls[0].Name != "desktop" || st.Lines != 3 || st.Skipped != 1 {
		t.Errorf("ParseEthers = %+v, %+v, %v; want desktop only, the zero MAC skipped", ls, st, err)
	}
}
