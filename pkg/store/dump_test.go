package store

import (
	"github.com/netmon-dev/netmon/pkg/conntrack"

	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the golden files under fixtures/store")

// TestDump checks the text image of a small database against
// fixtures/store/dump.golden (go test -update rewrites it).
func TestDump(t *testing.T) {
	ctx := context.Background()
	db := openTemp(t)
	now := time.UnixMilli(1795626528040).UTC()
	flows := []conntrack.Entry{
		flow("udp", "10.0.0.6", 5353, "203.0.113.81", 53, "", "", 1, 60, 1, 120),
		flow("tcp", "10.0.0.5", 40000, "203.0.113.80", 443, "ESTABLISHED", "ASSURED", 10, 1000, 20, 5000),
	}
	if _, err := reconcile(db, ctx, now, flows, 0); err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	if err := db.Dump(ctx, &got); err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("..", "..", "fixtures", "store", "dump.golden")
	if *update {
		if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, got.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	wantBytes, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	want := string(wantBytes)
	if diff := cmp.Diff(want, got.String()); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}
