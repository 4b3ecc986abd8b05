package main

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/netmon-dev/netmon/pkg/config"
)

// TestStateDir: the configured directory wins, then the one systemd made
// for the unit (the first of RuntimeDirectory's list), then /run/netmon
// for root, then the user's runtime directory, then the temporary one.
func TestStateDir(t *testing.T) {
	root := os.Geteuid() == 0
	tests := []struct {
		name       string
		cfg        string
		runtimeDir string
		xdg        string
		want       string
	}{
		{name: "configured", cfg: "/srv/state", runtimeDir: "/run/netmon", want: "/srv/state"},
		{name: "systemd", runtimeDir: "/run/netmon", xdg: "/run/user/1000", want: "/run/netmon"},
		{name: "systemd list", runtimeDir: "/run/netmon:/run/other", want: "/run/netmon"},
		{name: "root", want: map[bool]string{true: "/run/netmon", false: filepath.Join(os.TempDir(), "netmon-"+strconv.Itoa(os.Geteuid()))}[root]},
		{name: "user runtime", xdg: "/run/user/1000", want: map[bool]string{true: "/run/netmon", false: "/run/user/1000/netmon"}[root]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("RUNTIME_DIRECTORY", tt.runtimeDir)
			t.Setenv("XDG_RUNTIME_DIR", tt.xdg)
			if got := stateDir(config.Config{StateDir: tt.cfg}); got != tt.want {
				t.Errorf("stateDir = %q, want %q", got, tt.want)
			}
		})
	}
}
