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

// TestNewEvents: the netlink listener by default, a replay with
// events_file, and none when events are off or a capture is replayed
// without events (said in the note).
func TestNewEvents(t *testing.T) {
	cfg := func(mutate func(*config.Config)) config.Config {
		c := config.Default()
		mutate(&c)
		return c
	}
	tests := []struct {
		name     string
		cfg      config.Config
		want     string // the type, "" for none
		wantNote bool
	}{
		{"live", cfg(func(c *config.Config) { c.EventsBuffer = 1 << 20 }), "*source.Listener", false},
		{"off", cfg(func(c *config.Config) { c.Events = false }), "", false},
		{"replaying a capture", cfg(func(c *config.Config) { c.InputFile = "fixtures/replay" }), "", true},
		{"replaying events", cfg(func(c *config.Config) { c.InputFile = "x"; c.EventsFile = "y" }), "*source.EventFile", false},
	}
	for _, tc := range tests {
		ev, note := newEvents(tc.cfg)
		got := ""
		switch e := ev.(type) {
		case *source.Listener:
			got = "*source.Listener"
			if e.Buffer != tc.cfg.EventsBuffer {
				t.Errorf("%s: buffer %d, want %d", tc.name, e.Buffer, tc.cfg.EventsBuffer)
			}
		case *source.EventFile:
			got = "*source.EventFile"
		}
		if got != tc.want || (note != "") != tc.wantNote {
			t.Errorf("%s: %s, note %q; want %q, a note: %v", tc.name, got, note, tc.want, tc.wantNote)
		}
	}
}
