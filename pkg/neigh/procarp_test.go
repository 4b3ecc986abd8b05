package neigh

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/netmon-dev/netmon/pkg/device"
)

func TestParseProcARP(t *testing.T) {
	testParse(t, ParseProcARP, []parseCase{
		{"proc-net-arp-lab.txt", []device.Neighbour{
			nb("10.0.3.114", "ba:48:48:04:35:67", "rb3"),
			nb("10.0.3.134", "ce:39:34:fe:e8:79", "rb3"),
			nb("10.0.0.5", "1a:50:49:93:b9:26", "rl0"),
			nb("203.0.113.80", "16:e4:26:25:62:cf", "rw0"),
			nb("10.0.3.250", "02:00:00:00:00:fa", "rb3"),
		}, Stats{Lines: 6, Entries: 5, Ignored: 1}},
		{"proc-net-arp-handmade.txt", []device.Neighbour{
			nb("192.168.1.20", "00:1b:21:3a:4b:5c", "br-lan"),
			nb("192.168.1.22", "00:1b:21:3a:4b:5d", "br-lan"),
		}, Stats{Lines: 8, Entries: 2, Ignored: 3, Skipped: 3, FirstSkip: 7}},
	})
}

func TestProcARPRead(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "proc", "net"), 0o755); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(fixtureDir, "proc-net-arp-lab.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "proc", "net", "arp"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := (&ProcARP{Root: root}).Read(context.Background())
	if err != nil || len(got) != 5 {
		t.Errorf("Read = %d neighbours, %v; want 5", len(got), err)
	}
	if _, err := (&ProcARP{Root: t.TempDir()}).Read(context.Background()); err == nil {
		t.Error("Read of a root without /proc/net/arp = nil error")
	}
}

func FuzzParseProcARP(f *testing.F) {
	addSeeds(f, "proc-net-arp-lab.txt", "proc-net-arp-handmade.txt")
	f.Fuzz(func(t *testing.T, in string) {
		got := parseChecked(t, ParseProcARP, in)
		for _, n := range got {
			if !n.Addr.Is4() {
				t.Fatalf("IPv6 from /proc/net/arp: %v", n.Addr)
			}
		}
	})
}
