package main

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestSameTotals(t *testing.T) {
	const netmon = `[{"key":"tcp 10.0.0.5:1 > 1.1.1.1:80","total_bytes":300},{"total_bytes":200}]`
	for _, tc := range []struct {
		name, netmon, awk string
		want              bool
	}{
		{"same totals, keys spelled apart", netmon, "300\ttcp 10.0.0.5:1 > 1.1.1.1:80\n200\tudp x\n", true},
		{"other order", netmon, "200\ta\n300\tb\n", false},
		{"one row fewer", netmon, "300\ta\n", false},
		{"both empty", `[]`, "", false},
		{"not json", `no`, "300\ta\n200\tb\n", false},
		{"not a total", netmon, "x\ta\n", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := sameTotals([]byte(tc.netmon), []byte(tc.awk)); got != tc.want {
				t.Errorf("= %v, want %v", got, tc.want)
			}
		})
	}
}

func TestSummary(t *testing.T) {
	got := summary("entries=10000 outbound=9290 new_hosts=0 rows_written=9364 took=541ms\n")
	want := map[string]int64{"entries": 10000, "outbound": 9290, "new_hosts": 0, "rows_written": 9364}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}
