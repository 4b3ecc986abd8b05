package neigh

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseDetects(t *testing.T) {
	tests := []struct {
		name, in string
		want     int
	}{
		{"arp with header", "IP address HW type Flags HW address Mask Device\n10.0.0.5 0x1 0x2 52:54:00:12:34:56 * eth0\n", 1},
		{"arp without header", "\n10.0.0.5 0x1 0x2 52:54:00:12:34:56 * eth0\n", 1},
		{"ip neigh", "10.0.0.5 dev eth0 lladdr 52:54:00:12:34:56 STALE\n", 1},
		{"empty", "", 0},
	}
	for _, tc := range tests {
		got, err := Parse(strings.NewReader(tc.in), nil)
		if err != nil || len(got) != tc.want {
			t.Errorf("%s: Parse = %v, %v; want %d neighbours", tc.name, got, err, tc.want)
		}
	}
}

func TestFileRead(t *testing.T) {
	for _, name := range []string{"ip-neigh-lab.txt", "proc-net-arp-lab.txt"} {
		f := &File{Path: filepath.Join(fixtureDir, name)}
		got, err := f.Read(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		want, _ := Parse(fixture(t, name), nil)
		if diff := cmp.Diff(want, got, cmpAddr); diff != "" || len(got) == 0 {
			t.Errorf("%s: File.Read (-want +got):\n%s", name, diff)
		}
		if f.Stats.Entries != len(got) {
			t.Errorf("%s: Stats = %+v", name, f.Stats)
		}
	}
	if _, err := (&File{Path: filepath.Join(t.TempDir(), "none")}).Read(context.Background()); err == nil {
		t.Error("missing file: nil error")
	}
	if _, err := (&File{Path: t.TempDir()}).Read(context.Background()); err == nil {
		t.Error("a directory: nil error")
	}
}

func TestFileNotRegular(t *testing.T) {
	if _, err := os.Stat("/dev/zero"); err != nil {
		t.Skip("no /dev/zero")
	}
	if _, err := (&File{Path: "/dev/zero"}).Read(context.Background()); err == nil {
		t.Error("/dev/zero: nil error, want a refusal (it never ends)")
	}
}
