package main

import (
	"github.com/netmon-dev/netmon/pkg/source"
	"testing"
	"time"

	"github.com/netmon-dev/netmon/pkg/config"
)

func TestNewSource(t *testing.T) {
	live := config.Default()
	live.ConntrackPath = "/usr/sbin/conntrack"
	live.ConntrackTimeout = 3 * time.Second
	replay := config.Default()
	replay.InputFile = "fixtures/replay"

	if s, ok := newSource(live).(*source.Conntrack); !ok {
		t.Errorf("live config: source is %T, want *source.Conntrack", newSource(live))
	} else if s.Command != live.ConntrackPath || s.Timeout != live.ConntrackTimeout {
		t.Errorf("snapshot runs %q with timeout %v, want %q and %v", s.Command, s.Timeout, live.ConntrackPath, live.ConntrackTimeout)
	}
	if f, ok := newSource(replay).(*source.File); !ok {
		t.Errorf("replay config: source is %T, want *source.File", newSource(replay))
	} else if f.Path != replay.InputFile {
		t.Errorf("replays %q, want %q", f.Path, replay.InputFile)
	}
}
