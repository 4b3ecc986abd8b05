package main

import (
	"os"
	"os/exec"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestAwkBaselineAgrees runs the copied top20.awk on the capture behind
// netmon's print-outbound golden file and checks that it finds the same
// top totals, so that the timing race is between equal answers.
func TestAwkBaselineAgrees(t *testing.T) {
	awk, err := exec.LookPath("mawk")
	if err != nil {
		if awk, err = exec.LookPath("awk"); err != nil {
			t.Skip("no awk installed")
		}
	}
	out, err := exec.Command(awk, "-v", "n=5", "-f", "top20.awk", "../../fixtures/conntrack/router_extended.txt").Output()
	if err != nil {
		t.Fatal(err)
	}
	got, err := awkTotals(out)
	if err != nil {
		t.Fatal(err)
	}
	golden, err := os.ReadFile("../../fixtures/cli/print-outbound.json.golden")
	if err != nil {
		t.Fatal(err)
	}
	want, err := netmonTotals(golden)
	if err != nil {
		t.Fatal(err)
	}
	if len(want) != 5 {
		t.Fatalf("golden file has %d rows, want 5", len(want))
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("totals (-netmon +awk):\n%s", diff)
	}
}

func TestTotals(t *testing.T) {
	for _, tc := range []struct {
		name    string
		parse   func([]byte) ([]uint64, error)
		in      string
		want    []uint64
		wantErr bool
	}{
		{name: "netmon json", parse: netmonTotals, in: `[{"key":"a","total_bytes":30},{"total_bytes":7}]`, want: []uint64{30, 7}},
		{name: "netmon empty", parse: netmonTotals, in: `[]`, want: []uint64{}},
		{name: "netmon not json", parse: netmonTotals, in: `total 3`, wantErr: true},
		{name: "awk", parse: awkTotals, in: "30\ttcp 10.0.0.5:1 > 1.2.3.4:80\n7\tudp x\n", want: []uint64{30, 7}},
		{name: "awk garbage", parse: awkTotals, in: "x\ty\n", wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.parse([]byte(tc.in))
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tc.wantErr)
			}
			if diff := cmp.Diff(tc.want, got); !tc.wantErr && diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}
