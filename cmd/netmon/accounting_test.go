package main

import (
	"bytes"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/netmon-dev/netmon/pkg/config"
)

// TestWarnAccounting: the WARN at the start of ingest, and
// print-outbound's footer, appear only when the kernel under fs_root
// counts no bytes and the table is the kernel's, and name the fix.
func TestWarnAccounting(t *testing.T) {
	host := func(name string) string { return filepath.Join("..", "..", "fixtures", "hosts", name) }
	tests := []struct {
		name   string
		root   string
		replay bool
		want   bool
	}{
		{name: "off", root: host("acct-off"), want: true},
		{name: "on", root: host("demo")},
		{name: "unknown: the file is missing", root: host("router")},
		{name: "off, but a replay carries its own counters", root: host("acct-off"), replay: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := config.Default()
			cfg.FSRoot = tc.root
			if tc.replay {
				cfg.InputFile = fixture("replay")
			}
			var buf bytes.Buffer
			warnAccounting(cfg, slog.New(slog.NewTextHandler(&buf, nil)))
			footer := accountingFooter(cfg)
			for what, got := range map[string]string{"log": buf.String(), "footer": footer} {
				has := strings.Contains(got, "sysctl -w net.netfilter.nf_conntrack_acct=1")
				if has != tc.want {
					t.Errorf("%s names the fix: %v, want %v: %q", what, has, tc.want, got)
				}
			}
			if tc.want && (!strings.Contains(buf.String(), "level=WARN") || strings.Count(buf.String(), "\n") != 1) {
				t.Errorf("log = %q, want one WARN line", buf.String())
			}
		})
	}
}
