package config

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"
)

func TestDefaultIsValid(t *testing.T) {
	c := Default()
	if err := c.Validate(); err != nil {
		t.Fatalf("Default().Validate() = %v", err)
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name    string
		mutate  func(*Config)
		wantKey string // "" means valid
	}{
		{"ipv6 subnet", func(c *Config) { c.LocalSubnets = []string{"10.0.0.0/24", "fd00::/64"} }, ""},
		{"bad cidr", func(c *Config) { c.LocalSubnets = []string{"10.0.0.0/33"} }, "local_subnets"},
		{"catch-all", func(c *Config) { c.LocalSubnets = []string{"0.0.0.0/0"} }, "local_subnets"},
		{"no subnets", func(c *Config) { c.LocalSubnets = nil }, "local_subnets"},
		{"zero interval", func(c *Config) { c.Interval = 0 }, "interval"},
		{"negative retention", func(c *Config) { c.Retention = -time.Hour }, "retention"},
		{"zero window", func(c *Config) { c.NewHostWindow = 0 }, "new_host_window"},
		{"zero timeout", func(c *Config) { c.ConntrackTimeout = 0 }, "conntrack_timeout"},
		{"empty db", func(c *Config) { c.DBPath = "" }, "db_path"},
		{"bind without port", func(c *Config) { c.Bind = "10.0.0.1" }, "bind"},
		{"bind hostname", func(c *Config) { c.Bind = "router.lan:8080" }, "bind"},
		{"bind bad port", func(c *Config) { c.Bind = "10.0.0.1:99999" }, "bind"},
		{"bind all", func(c *Config) { c.Bind = ":8080" }, ""},
		{"bind v6", func(c *Config) { c.Bind = "[::1]:8080" }, ""},
		{"metrics bind off", func(c *Config) { c.MetricsBind = "" }, ""},
		{"metrics bind loopback", func(c *Config) { c.MetricsBind = "127.0.0.1:9101" }, ""},
		{"metrics bind without port", func(c *Config) { c.MetricsBind = "127.0.0.1" }, "metrics_bind"},
		{"metrics bind hostname", func(c *Config) { c.MetricsBind = "metrics.lan:9101" }, "metrics_bind"},
		{"top rows", func(c *Config) { c.TopRows = 0 }, "top_rows"},
		{"log level", func(c *Config) { c.LogLevel = "loud" }, "log_level"},
		{"no conntrack but replay", func(c *Config) { c.ConntrackPath = ""; c.InputFile = "x.txt" }, ""},
		{"no conntrack", func(c *Config) { c.ConntrackPath = "" }, "conntrack_path"},
		{"empty fs root", func(c *Config) { c.FSRoot = "" }, "fs_root"},
		{"events off", func(c *Config) { c.Events = false }, ""},
		{"events buffer of 64 KiB", func(c *Config) { c.EventsBuffer = 64 << 10 }, ""},
		{"events buffer too small", func(c *Config) { c.EventsBuffer = 4096 }, "events_buffer"},
		{"events buffer too large", func(c *Config) { c.EventsBuffer = 2 << 30 }, "events_buffer"},
		{"fixed interval", func(c *Config) { c.PollCPUBudget = 0 }, ""},
		{"a whole core", func(c *Config) { c.PollCPUBudget = 1 }, ""},
		{"budget as a percent", func(c *Config) { c.PollCPUBudget = 10 }, "poll_cpu_budget"},
		{"negative budget", func(c *Config) { c.PollCPUBudget = -0.1 }, "poll_cpu_budget"},
		{"budget NaN", func(c *Config) { c.PollCPUBudget = math.NaN() }, "poll_cpu_budget"},
		{"busy loop", func(c *Config) { c.Interval = 5 }, "interval"},
		{"interval at the minimum", func(c *Config) { c.Interval = MinInterval }, ""},
		{"retention of 7 ns", func(c *Config) { c.Retention = 7 }, "retention"},
		{"retention of an hour", func(c *Config) { c.Retention = time.Hour }, ""},
		{"conntrack timeout of 10 ns", func(c *Config) { c.ConntrackTimeout = 10 }, "conntrack_timeout"},
		{"window under a second", func(c *Config) { c.NewHostWindow = time.Millisecond }, "new_host_window"},
		{"top rows at the cap", func(c *Config) { c.TopRows = MaxTopRows }, ""},
		{"top rows 2000000", func(c *Config) { c.TopRows = 2_000_000 }, "top_rows"},
		{"allow_from", func(c *Config) { c.AllowFrom = []string{"10.0.0.0/24", "fd00::/64", "192.168.1.7"} }, ""},
		{"allow_from not a prefix", func(c *Config) { c.AllowFrom = []string{"lan"} }, "allow_from"},
		{"allowed_hosts", func(c *Config) { c.AllowedHosts = []string{"router.lan", "192.168.1.1"} }, ""},
		{"allowed_hosts with a URL", func(c *Config) { c.AllowedHosts = []string{"http://router.lan/"} }, "allowed_hosts"},
		{"allowed_hosts empty item", func(c *Config) { c.AllowedHosts = []string{" "} }, "allowed_hosts"},
		{"log format json", func(c *Config) { c.LogFormat = "json" }, ""},
		{"log format", func(c *Config) { c.LogFormat = "logfmt" }, "log_format"},
		{"zero rate window", func(c *Config) { c.RateWindow = 0 }, "rate_window"},
		{"rate window of an hour", func(c *Config) { c.RateWindow = time.Hour }, "rate_window"},
		{"rate window of 5m", func(c *Config) { c.RateWindow = 5 * time.Minute }, ""},
		{"short rate window", func(c *Config) { c.RateWindow = 100 * time.Millisecond }, ""},
		{"rate unit bytes", func(c *Config) { c.RateUnit = "bytes" }, ""},
		{"rate unit", func(c *Config) { c.RateUnit = "Mbit" }, "rate_unit"},
		{"empty rate unit", func(c *Config) { c.RateUnit = "" }, "rate_unit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Default()
			tt.mutate(&c)
			err := c.Validate()
			if tt.wantKey == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("Validate() = %v, want a *FieldError", err)
			}
			if fe.Key != tt.wantKey {
				t.Errorf("key = %q, want %q (err: %v)", fe.Key, tt.wantKey, err)
			}
		})
	}
}

func TestBindsAll(t *testing.T) {
	tests := map[string]bool{
		":8080":          true,
		"0.0.0.0:8080":   true,
		"[::]:8080":      true,
		"10.0.0.1:8080":  false,
		"127.0.0.1:8080": false,
		"garbage":        false,
	}
	for addr, want := range tests {
		if got := BindsAll(addr); got != want {
			t.Errorf("BindsAll(%q) = %v, want %v", addr, got, want)
		}
	}
}

func TestFieldErrorText(t *testing.T) {
	tests := []struct {
		e    FieldError
		want string
	}{
		{FieldError{Key: "interval", Value: "5", Reason: "has no unit; write 5s", Source: "/etc/netmon/netmon.yaml"}, `interval: has no unit; write 5s (got "5" in /etc/netmon/netmon.yaml)`},
		{FieldError{Key: "top_rows", Value: "2000000", Reason: "must be between 1 and 10000"}, `top_rows: must be between 1 and 10000 (got "2000000")`},
		{FieldError{Key: "local_subnets", Reason: `"10.0.0.0/33" is not a CIDR prefix (like 10.0.0.0/24)`, Source: "--local-subnets"}, `local_subnets: "10.0.0.0/33" is not a CIDR prefix (like 10.0.0.0/24) (in --local-subnets)`},
	}
	for _, tc := range tests {
		if got := tc.e.Error(); got != tc.want {
			t.Errorf("Error() = %s\nwant      %s", got, tc.want)
		}
	}
}

// TestPrefixErrorOnce: the bad prefix is named once, not once in the
// reason and again as the whole list.
func TestPrefixErrorOnce(t *testing.T) {
	c := Default()
	c.LocalSubnets = []string{"10.0.0.0/24", "10.0.0.0/33"}
	err := c.Validate()
	if err == nil {
		t.Fatal("Validate accepted 10.0.0.0/33")
	}
	if n := strings.Count(err.Error(), "10.0.0.0/33"); n != 1 {
		t.Errorf("%q names the prefix %d times, want once", err, n)
	}
}

func TestAllowFromPrefixes(t *testing.T) {
	c := Default()
	c.AllowFrom = []string{"10.0.0.7/24", "192.168.1.7", "fd00::1/64"}
	got, err := c.AllowFromPrefixes()
	if err != nil {
		t.Fatal(err)
	}
	var s []string
	for _, p := range got {
		s = append(s, p.String())
	}
	if want := "10.0.0.0/24 192.168.1.7/32 fd00::/64"; strings.Join(s, " ") != want {
		t.Errorf("prefixes %v, want %s", s, want)
	}
}
