package config

import (
	"errors"
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
		{"top rows", func(c *Config) { c.TopRows = 0 }, "top_rows"},
		{"log level", func(c *Config) { c.LogLevel = "loud" }, "log_level"},
		{"no conntrack but replay", func(c *Config) { c.ConntrackPath = ""; c.InputFile = "x.txt" }, ""},
		{"no conntrack", func(c *Config) { c.ConntrackPath = "" }, "conntrack_path"},
		{"empty fs root", func(c *Config) { c.FSRoot = "" }, "fs_root"},
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
