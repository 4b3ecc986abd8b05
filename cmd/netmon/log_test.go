package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/netmon-dev/netmon/pkg/config"
)

func TestNewLogger(t *testing.T) {
	tests := []struct {
		format, level string
		want          string // the INFO line; "" when the level hides it
	}{
		{"text", "info", `level=INFO msg="ingest cycle" took=12.5ms reported=none`},
		{"json", "info", `{"level":"INFO","msg":"ingest cycle","took":"12.5ms","reported":"none"}`},
		{"text", "warn", ""},
	}
	for _, tt := range tests {
		t.Run(tt.format+"/"+tt.level, func(t *testing.T) {
			cfg := config.Default()
			cfg.LogFormat, cfg.LogLevel = tt.format, tt.level
			var b bytes.Buffer
			newLogger(&b, cfg).Info("ingest cycle", "took", 12500*time.Microsecond, "reported", "none")
			got := strings.TrimSpace(b.String())
			if tt.format == "json" && got != "" {
				var m map[string]any
				if err := json.Unmarshal([]byte(got), &m); err != nil {
					t.Fatalf("not JSON: %q", got)
				}
				delete(m, "time")
				out, _ := json.Marshal(m)
				var w map[string]any
				json.Unmarshal([]byte(tt.want), &w)
				want, _ := json.Marshal(w)
				got, tt.want = string(out), string(want)
			} else if got != "" {
				got = got[strings.Index(got, "level="):]
			}
			if got != tt.want {
				t.Errorf("log line %q, want %q", got, tt.want)
			}
		})
	}
}
