package ingest

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"github.com/netmon-dev/netmon/pkg/source"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the golden files under fixtures/ingest")

// TestReplayGolden replays the demo snapshots fixtures/replay/00..05 and
// then 00 again (the counters go back: reopened flows) through the real
// parser, filter and store, and compares each cycle's summary and the
// whole database after it with fixtures/ingest/replay.golden. Review a
// regenerated file (go test ./... -update) like code: it is the record
// of what every cycle writes.
func TestReplayGolden(t *testing.T) {
	ctx := context.Background()
	f, db := realPipeline(t)
	clock := &stepClock{t: t0, step: 2500 * time.Millisecond}
	in := &Ingester{Filter: f, Store: db, Now: clock.Now, Retention: 30 * time.Second}
	var got bytes.Buffer
	for i := range 7 {
		// One file per cycle, named explicitly: the directory also holds
		// a README that is not a snapshot.
		name := fmt.Sprintf("%02d.txt", i%6)
		in.Source = &source.File{Path: filepath.Join("..", "..", "fixtures", "replay", name)}
		sum, err := in.ReconcileSnapshot(ctx)
		if err != nil {
			t.Fatalf("cycle %d: %v", i+1, err)
		}
		fmt.Fprintf(&got, "######## cycle %d (%s)\n%s\n", i+1, name, sum)
		if err := db.Dump(ctx, &got); err != nil {
			t.Fatal(err)
		}
	}

	golden := filepath.Join("..", "..", "fixtures", "ingest", "replay.golden")
	if *update {
		if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, got.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), got.String()); diff != "" {
		t.Errorf("replay differs from %s (-want +got):\n%s", golden, diff)
	}
}
