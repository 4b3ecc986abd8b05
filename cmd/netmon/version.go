package main

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/netmon-dev/netmon/pkg/web"
)

// buildInfo is what `netmon --version` and netmon_build_info say.
type buildInfo struct{ version, commit, date string }

func (b buildInfo) String() string {
	return fmt.Sprintf("%s (commit %s, built %s)", b.version, b.commit, b.date)
}

// web is b in netmon_build_info's terms.
func (b buildInfo) web() web.BuildInfo {
	return web.BuildInfo{Version: b.version, Revision: b.commit, GoVersion: runtime.Version()}
}

// resolveBuild fills what the release build's -ldflags -X did not set
// from the binary's own build info: a `go install`ed or `go build`
// binary knows its module version and, built in a checkout, the VCS
// revision and commit time.
func resolveBuild(b buildInfo, info *debug.BuildInfo, ok bool) buildInfo {
	if !ok {
		return b
	}
	if b.version == "dev" && info.Main.Version != "" && info.Main.Version != "(devel)" {
		b.version = info.Main.Version
	}
	var rev, at string
	modified := false
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.time":
			at = s.Value
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	if b.commit == "none" && rev != "" {
		b.commit = rev[:min(len(rev), 12)]
		if modified {
			b.commit += "-dirty"
		}
	}
	if b.date == "unknown" && at != "" {
		b.date = at
	}
	return b
}

// currentBuild is this binary's build: the -ldflags -X values (main.go)
// completed from runtime/debug.
func currentBuild() buildInfo {
	info, ok := debug.ReadBuildInfo()
	return resolveBuild(buildInfo{version, commit, date}, info, ok)
}
