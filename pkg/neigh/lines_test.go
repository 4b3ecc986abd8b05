package neigh

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestEachLine(t *testing.T) {
	long := strings.Repeat("x", maxLine+5)
	in := "a\r\n\nb\n" + long + "\nc\n" + long
	var got []string
	err := eachLine(strings.NewReader(in), func(n int, line []byte) {
		if line == nil {
			got = append(got, "LONG")
			return
		}
		got = append(got, string(line))
	})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"a", "", "b", "LONG", "c", "LONG"}, got); diff != "" {
		t.Errorf("lines (-want +got):\n%s", diff)
	}
}

func TestFields(t *testing.T) {
	var buf [4][]byte
	got := fields(buf[:0], []byte("  a\tbb  c "))
	var s []string
	for _, f := range got {
		s = append(s, string(f))
	}
	if diff := cmp.Diff([]string{"a", "bb", "c"}, s); diff != "" {
		t.Errorf("fields (-want +got):\n%s", diff)
	}
}
