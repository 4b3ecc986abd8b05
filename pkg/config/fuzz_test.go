package config

import (
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/netmon-dev/netmon/pkg/filter"
)

// resetters put one key back to its default; FuzzValidate uses them to
// check that an error names the field that is really at fault.
func resetters() map[string]func(*Config) {
	def := Default()
	return map[string]func(*Config){
		"local_subnets":     func(c *Config) { c.LocalSubnets = def.LocalSubnets },
		"conntrack_timeout": func(c *Config) { c.ConntrackTimeout = def.ConntrackTimeout },
		"interval":          func(c *Config) { c.Interval = def.Interval },
		"retention":         func(c *Config) { c.Retention = def.Retention },
		"new_host_window":   func(c *Config) { c.NewHostWindow = def.NewHostWindow },
		"db_path":           func(c *Config) { c.DBPath = def.DBPath },
		"conntrack_path":    func(c *Config) { c.ConntrackPath = def.ConntrackPath },
		"bind":              func(c *Config) { c.Bind = def.Bind },
		"top_rows":          func(c *Config) { c.TopRows = def.TopRows },
		"log_level":         func(c *Config) { c.LogLevel = def.LogLevel },
		"fs_root":           func(c *Config) { c.FSRoot = def.FSRoot },
		"allow_from":        func(c *Config) { c.AllowFrom = def.AllowFrom },
		"allowed_hosts":     func(c *Config) { c.AllowedHosts = def.AllowedHosts },
		"log_format":        func(c *Config) { c.LogFormat = def.LogFormat },
		"events_buffer":     func(c *Config) { c.EventsBuffer = def.EventsBuffer },
		"poll_cpu_budget":   func(c *Config) { c.PollCPUBudget = def.PollCPUBudget },
	}
}

// FuzzValidate fills a Config from arbitrary values, as they would come
// from YAML, NETMON_* variables or flags. Properties: Validate never
// panics and gives nil or a *FieldError naming a known key and quoting the
// value; resetting the named key to its default removes that error (the
// key named is the one at fault); and a Config that validates is usable:
// at least one LAN prefix that filter.New accepts, positive durations, a
// bind address net.Listen can parse, a known log level.
func FuzzValidate(f *testing.F) {
	f.Add("10.0.0.0/24", "netmon.db", "conntrack", "", int64(time.Second), int64(time.Hour), "127.0.0.1:8080", 200, "info", "/")
	f.Add("10.0.0.0/24,fd00::/64", "/var/lib/netmon/netmon.db", "", "fixtures/replay", int64(time.Millisecond), int64(1), ":8080", 1, "debug", "fixtures/hosts/router")
	f.Add("0.0.0.0/0", "", "", "", int64(0), int64(-1), "10.0.0.1", 0, "loud", "")
	f.Add("::ffff:10.0.0.0/120", "a.db", "conntrack", "", int64(-time.Second), int64(time.Hour), "[::1]:99999", -5, "warn", "/")
	f.Add("lan,10.0.0.0/33", "x", "c", "", int64(1), int64(1), "router.lan:8080", 1, "error", "/")
	f.Add(" , ", "x", "c", "", int64(1), int64(1), "[fe80::1%eth0]:80", 1, "info", "/")
	f.Fuzz(func(t *testing.T, subnets, dbPath, conntrackPath, inputFile string, interval, retention int64, bind string, topRows int, logLevel, fsRoot string) {
		c := Default()
		c.LocalSubnets = strings.Split(subnets, ",")
		c.DBPath, c.ConntrackPath, c.InputFile = dbPath, conntrackPath, inputFile
		c.Interval, c.Retention = time.Duration(interval), time.Duration(retention)
		c.Bind, c.TopRows, c.LogLevel, c.FSRoot = bind, topRows, logLevel, fsRoot

		err := c.Validate()
		if err == nil {
			checkUsable(t, c)
			return
		}
		var fe *FieldError
		if !errors.As(err, &fe) {
			t.Fatalf("Validate() = %T %v, want a *FieldError", err, err)
		}
		reset, ok := resetters()[fe.Key]
		if !ok {
			t.Fatalf("error names unknown key %q: %v", fe.Key, err)
		}
		if fe.Reason == "" || !strings.HasPrefix(err.Error(), fe.Key+": ") {
			t.Fatalf("error %q does not lead with its key", err)
		}
		reset(&c)
		var again *FieldError
		if err2 := c.Validate(); errors.As(err2, &again) && again.Key == fe.Key {
			t.Fatalf("after resetting %s to its default, Validate still blames it: %v", fe.Key, err2)
		}
	})
}

// checkUsable fails unless c, which validated, can really be used.
func checkUsable(t *testing.T, c Config) {
	t.Helper()
	ps, err := c.Prefixes()
	if err != nil || len(ps) == 0 {
		t.Fatalf("valid config, but Prefixes() = %v, %v", ps, err)
	}
	if _, err := filter.New(ps); err != nil {
		t.Fatalf("valid config, but filter.New(%v): %v", ps, err)
	}
	for _, d := range []time.Duration{c.Interval, c.Retention, c.ConntrackTimeout, c.NewHostWindow} {
		if d <= 0 {
			t.Fatalf("valid config with duration %v", d)
		}
	}
	if _, err := net.ResolveTCPAddr("tcp", c.Bind); err != nil && !strings.HasPrefix(c.Bind, "localhost:") {
		t.Fatalf("valid config, but bind %q does not resolve: %v", c.Bind, err)
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		t.Fatalf("valid config with log level %q", c.LogLevel)
	}
	if c.DBPath == "" || c.FSRoot == "" || c.TopRows <= 0 || (c.ConntrackPath == "" && c.InputFile == "") {
		t.Fatalf("valid config with an empty or zero field: %+v", c)
	}
}
