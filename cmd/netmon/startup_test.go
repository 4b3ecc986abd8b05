package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/netmon-dev/netmon/pkg/ingest"
	"github.com/netmon-dev/netmon/pkg/source"
)

// TestPermanentErrorAtStart: a source that cannot be read at start-up
// ends ingest-loop and serve at once with the error, instead of a loop
// logging it every second.
func TestPermanentErrorAtStart(t *testing.T) {
	denied := filepath.Join(t.TempDir(), "conntrack")
	script := "#!/bin/sh\necho 'conntrack v1.4.7 (conntrack-tools): Operation failed: Operation not permitted' >&2\nexit 1\n"
	if err := os.WriteFile(denied, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	sources := map[string]ingest.Source{
		"conntrack without permission": &source.Conntrack{Command: denied, Timeout: 5 * time.Second},
		"missing replay file":          &source.File{Path: filepath.Join(t.TempDir(), "gone.txt")},
	}
	for name, src := range sources {
		for _, command := range []string{"ingest-loop", "serve"} {
			t.Run(name+"/"+command, func(t *testing.T) {
				cfg := testConfig(t)
				cfg.Bind = "127.0.0.1:0"
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				var logs syncBuffer
				var err error
				if command == "serve" {
					err = runServe(ctx, cfg, src, &logs, serveHooks{})
				} else {
					err = runIngestLoop(ctx, cfg, src, &logs)
				}
				if ctx.Err() != nil {
					t.Fatal("did not stop at once")
				}
				if err == nil || !strings.HasPrefix(err.Error(), "first ingest cycle: ") {
					t.Fatalf("err = %v, want the first cycle's error", err)
				}
				if exitCode(&syncBuffer{}, err) != 1 {
					t.Errorf("exit status %d, want 1", exitCode(&syncBuffer{}, err))
				}
			})
		}
	}
}
