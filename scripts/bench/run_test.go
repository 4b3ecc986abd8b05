package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestPlanFor(t *testing.T) {
	for _, tc := range []struct {
		mode    string
		wantErr bool
	}{
		{"quick", false}, {"default", false}, {"big", false}, {"huge", true},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			p, err := planFor(tc.mode)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tc.wantErr)
			}
			if err == nil && (p.runs < 1 || p.coldRuns < 1 || p.parseLong <= p.parseShort || p.loopWindow <= 0) {
				t.Errorf("plan %+v: a count is not positive or the long parser run is not longer", p)
			}
		})
	}
}

func TestRunRefuses(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    Options
	}{
		{"no netmon", Options{Mode: "quick"}},
		{"bad mode", Options{Netmon: "/bin/true", Mode: "huge"}},
		{"no captures", Options{Netmon: "/bin/true", Mode: "quick", Repo: "/nonexistent"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, log bytes.Buffer
			if err := run(context.Background(), tc.o, &out, &log); err == nil {
				t.Error("no error")
			}
			if out.Len() != 0 {
				t.Errorf("printed a table: %s", out.String())
			}
		})
	}
}

func TestGunzipAndSynth(t *testing.T) {
	e := &env{Options: Options{Repo: "../..", Work: t.TempDir()}}
	e.filter = lanFilter(t)
	path, err := e.gunzip("big_10000.txt.gz")
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if n := bytes.Count(b, []byte{'\n'}); n != 10000 {
		t.Errorf("%d lines, want 10000", n)
	}
	out, st, err := e.synth(path, 12000)
	if err != nil {
		t.Fatal(err)
	}
	// big_10000 has 9,290 outbound flows in 10.0.0.0/24 (netmon
	// print-outbound --top 0 agrees).
	if st.Outbound != 9290 || st.Real != 9290 || st.Synthetic != 2710 {
		t.Errorf("stats %+v, want 9290 outbound, all real, 2710 synthetic", st)
	}
	if filepath.Dir(out) != e.Work {
		t.Errorf("capture written to %s, want inside %s", out, e.Work)
	}
}

func TestMachine(t *testing.T) {
	got := machine("quick", "1.00 2.00 3.00", "4.00 5.00 6.00")
	for _, want := range []string{"CPUs", "Linux", "go1.", "mode quick", "1.00 2.00 3.00 at the start, 4.00 5.00 6.00 at the end"} {
		if !strings.Contains(got, want) {
			t.Errorf("%q lacks %q", got, want)
		}
	}
}

func TestLoadAvg(t *testing.T) {
	if f := strings.Fields(loadAvg()); len(f) != 3 {
		t.Errorf("loadAvg() = %q, want three numbers", loadAvg())
	}
}
