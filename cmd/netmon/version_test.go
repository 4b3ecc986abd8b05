package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestResolveBuild(t *testing.T) {
	vcs := []debug.BuildSetting{
		{Key: "vcs.revision", Value: "d4cbfe9a1b2c3d4e5f60718293a4b5c6d7e8f901"},
		{Key: "vcs.time", Value: "2026-12-01T20:30:00Z"},
		{Key: "vcs.modified", Value: "false"},
	}
	dirty := append([]debug.BuildSetting{}, vcs[:2]...)
	dirty = append(dirty, debug.BuildSetting{Key: "vcs.modified", Value: "true"})
	unset := buildInfo{"dev", "none", "unknown"}
	tests := []struct {
		name string
		in   buildInfo
		info *debug.BuildInfo
		ok   bool
		want buildInfo
	}{
		{name: "release build: -ldflags wins", in: buildInfo{"1.2.3", "abc1234", "2026-12-01"},
			info: &debug.BuildInfo{Main: debug.Module{Version: "v1.2.3"}, Settings: vcs}, ok: true,
			want: buildInfo{"1.2.3", "abc1234", "2026-12-01"}},
		{name: "go install module@version", in: unset,
			info: &debug.BuildInfo{Main: debug.Module{Version: "v0.4.0"}}, ok: true,
			want: buildInfo{"v0.4.0", "none", "unknown"}},
		{name: "go install from a checkout", in: unset,
			info: &debug.BuildInfo{Main: debug.Module{Version: "v0.4.1-0.20261201203000-d4cbfe9a1b2c"}, Settings: vcs}, ok: true,
			want: buildInfo{"v0.4.1-0.20261201203000-d4cbfe9a1b2c", "d4cbfe9a1b2c", "2026-12-01T20:30:00Z"}},
		{name: "go build in a dirty checkout", in: unset,
			info: &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: dirty}, ok: true,
			want: buildInfo{"dev", "d4cbfe9a1b2c-dirty", "2026-12-01T20:30:00Z"}},
		{name: "no build info", in: unset, want: unset},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := resolveBuild(tt.in, tt.info, tt.ok)
			if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(buildInfo{})); diff != "" {
				t.Errorf("build (-want +got):\n%s", diff)
			}
		})
	}
}

// regexpRevision matches the revision part of --version.
var regexpRevision = regexp.MustCompile(`\(commit [0-9a-f]{12}(-dirty)?, built 20`)

// TestVersionOfBuiltBinary builds netmon the way a developer's `go
// build` in a git checkout does (with VCS stamping on, whatever GOFLAGS
// says) and checks that --version names the revision, not "commit none".
func TestVersionOfBuiltBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := filepath.Join(t.TempDir(), "netmon")
	build := exec.Command("go", "build", "-buildvcs=true", "-o", bin, ".")
	build.Env = append(os.Environ(), "GOFLAGS=")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	info, err := exec.Command("go", "version", "-m", bin).Output()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(info), "vcs.revision=") {
		// go reads no VCS state in a git worktree; CI's fresh clone has it.
		if os.Getenv("CI") != "" {
			t.Fatalf("go stamped no VCS revision in CI's checkout:\n%s", info)
		}
		t.Skip("go stamps no VCS revision in this checkout (a git worktree?); CI runs this test")
	}
	out, err := netmonCmd(bin, "--version").Output()
	if err != nil {
		t.Fatal(err)
	}
	if s := string(out); !regexpRevision.MatchString(s) {
		t.Errorf("--version = %q, want a VCS revision", s)
	}
}
