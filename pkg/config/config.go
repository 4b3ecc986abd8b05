// Package config holds netmon's settings as a plain struct with defaults
// and validation. Loading (flags, NETMON_* environment, YAML file) happens
// in cmd/netmon; this package knows nothing of where values come from.
package config

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"time"

	"github.com/netmon-dev/netmon/pkg/filter"
)

// Config is every setting netmon reads. The mapstructure tags are the keys
// of the YAML file; the environment variable of a key is NETMON_ plus the
// key in upper case (NETMON_DB_PATH), with the aliases documented in
// configs/netmon.yaml.
type Config struct {
	// LocalSubnets are the LAN prefixes: a flow is outbound when its
	// original source is inside one of them.
	LocalSubnets []string `mapstructure:"local_subnets"`
	// DBPath is the SQLite database file.
	DBPath string `mapstructure:"db_path"`
	// InputFile replays a conntrack capture (a file, a .gz file, or a
	// directory replayed one file per cycle) instead of running conntrack.
	InputFile string `mapstructure:"input_file"`
	// ConntrackPath is the conntrack command to run.
	ConntrackPath string `mapstructure:"conntrack_path"`
	// ConntrackTimeout bounds one conntrack run.
	ConntrackTimeout time.Duration `mapstructure:"conntrack_timeout"`
	// Interval is the time between ingest cycles.
	Interval time.Duration `mapstructure:"interval"`
	// Retention is how long closed connections are kept.
	Retention time.Duration `mapstructure:"retention"`
	// Bind is the dashboard's listen address.
	Bind string `mapstructure:"bind"`
	// Ingest runs the ingest loop inside `serve`.
	Ingest bool `mapstructure:"ingest"`
	// NewHostWindow is how long a remote host counts as NEW.
	NewHostWindow time.Duration `mapstructure:"new_host_window"`
	// TopRows is how many connections the dashboard shows.
	TopRows int `mapstructure:"top_rows"`
	// MonitorInterfaces are the network interfaces shown as tiles.
	MonitorInterfaces []string `mapstructure:"monitor_interfaces"`
	// FSRoot is where /proc and /sys are read from ("/" on a router).
	FSRoot string `mapstructure:"fs_root"`
	// LogLevel is debug, info, warn or error.
	LogLevel string `mapstructure:"log_level"`

	// End-of-flow events and the adaptive poll (issue 16).

	// Events listens to the kernel's conntrack DESTROY events beside the
	// polls, for the bytes a poll misses (needs CAP_NET_ADMIN; netmon
	// falls back to polling alone, and says so, where it may not).
	Events bool `mapstructure:"events"`
	// EventsBuffer is the receive buffer forced on the events socket, in
	// bytes.
	EventsBuffer int `mapstructure:"events_buffer"`
	// EventsFile replays saved `conntrack -E -o extended,id` output as the
	// events (a file, or a directory replayed one file per cycle) instead
	// of listening.
	EventsFile string `mapstructure:"events_file"`
	// PollCPUBudget is the share of one core polling may take, as a
	// fraction (0.1 is 10%): the interval stretches beyond Interval when
	// the table grows. 0 keeps the interval fixed.
	PollCPUBudget float64 `mapstructure:"poll_cpu_budget"`
}

// DefaultDBPath is the database used when none is configured: a file in
// the working directory, so a fresh checkout runs without root. Packages
// set /var/lib/netmon/netmon.db in /etc/netmon/netmon.yaml.
const DefaultDBPath = "netmon.db"

// Default returns the settings used when nothing else is given.
func Default() Config {
	return Config{
		LocalSubnets:      []string{"10.0.0.0/24"},
		DBPath:            DefaultDBPath,
		ConntrackPath:     "conntrack",
		ConntrackTimeout:  10 * time.Second,
		Interval:          time.Second,
		Retention:         7 * 24 * time.Hour,
		Bind:              "127.0.0.1:8080",
		Ingest:            true,
		NewHostWindow:     60 * time.Second,
		TopRows:           200,
		MonitorInterfaces: []string{"enp2s0", "enp3s0"},
		FSRoot:            "/",
		LogLevel:          "info",
		Events:            true,
		EventsBuffer:      32 << 20,
		PollCPUBudget:     0.10,
	}
}

// FieldError names the key and the bad value of an invalid setting.
type FieldError struct {
	Key    string
	Value  string
	Reason string
}

func (e *FieldError) Error() string {
	return fmt.Sprintf("%s: %s (got %q)", e.Key, e.Reason, e.Value)
}

// Validate checks every field and returns the first problem as a
// *FieldError.
func (c *Config) Validate() error {
	if _, err := c.Prefixes(); err != nil {
		return err
	}
	positive := []struct {
		key string
		d   time.Duration
	}{
		{"conntrack_timeout", c.ConntrackTimeout},
		{"interval", c.Interval},
		{"retention", c.Retention},
		{"new_host_window", c.NewHostWindow},
	}
	for _, p := range positive {
		if p.d <= 0 {
			return &FieldError{Key: p.key, Value: p.d.String(), Reason: "must be > 0"}
		}
	}
	if c.DBPath == "" {
		return &FieldError{Key: "db_path", Value: "", Reason: "must not be empty"}
	}
	if c.ConntrackPath == "" && c.InputFile == "" {
		return &FieldError{Key: "conntrack_path", Value: "", Reason: "must not be empty"}
	}
	if err := validateBind(c.Bind); err != nil {
		return &FieldError{Key: "bind", Value: c.Bind, Reason: err.Error()}
	}
	if c.TopRows <= 0 {
		return &FieldError{Key: "top_rows", Value: strconv.Itoa(c.TopRows), Reason: "must be > 0"}
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		return &FieldError{Key: "log_level", Value: c.LogLevel, Reason: "must be debug, info, warn or error"}
	}
	if c.FSRoot == "" {
		return &FieldError{Key: "fs_root", Value: "", Reason: "must not be empty"}
	}
	return c.validateEvents()
}

// Bounds of events_buffer: below 64 KiB a burst is lost at once, above
// 1 GiB is a typo.
const (
	minEventsBuffer = 64 << 10
	maxEventsBuffer = 1 << 30
)

// validateEvents checks the keys of end-of-flow events and the adaptive
// poll.
func (c *Config) validateEvents() error {
	if c.EventsBuffer < minEventsBuffer || c.EventsBuffer > maxEventsBuffer {
		return &FieldError{Key: "events_buffer", Value: strconv.Itoa(c.EventsBuffer),
			Reason: "must be 65536 to 1073741824 bytes (the default is 33554432, 32 MiB)"}
	}
	if !(c.PollCPUBudget >= 0 && c.PollCPUBudget <= 1) { // refuses NaN too
		return &FieldError{Key: "poll_cpu_budget", Value: strconv.FormatFloat(c.PollCPUBudget, 'g', -1, 64),
			Reason: "must be a fraction of one core from 0 to 1 (0.1 is 10%; 0 keeps the interval fixed)"}
	}
	return nil
}

// Prefixes parses LocalSubnets; the error is a *FieldError naming the bad
// prefix.
func (c *Config) Prefixes() ([]netip.Prefix, error) {
	ps, err := filter.ParsePrefixes(c.LocalSubnets)
	if err != nil {
		return nil, &FieldError{Key: "local_subnets", Value: fmt.Sprint(c.LocalSubnets), Reason: err.Error()}
	}
	if _, err := filter.New(ps); err != nil {
		return nil, &FieldError{Key: "local_subnets", Value: fmt.Sprint(c.LocalSubnets), Reason: err.Error()}
	}
	return ps, nil
}

func validateBind(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("must be host:port, like 10.0.0.1:8080")
	}
	if host != "" && host != "localhost" {
		if _, err := netip.ParseAddr(host); err != nil {
			return fmt.Errorf("host must be an IP address or localhost")
		}
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("port must be 0-65535")
	}
	return nil
}

// BindsAll reports whether addr listens on every address (0.0.0.0, ::, or
// an empty host), where the login-less dashboard is reachable from the WAN
// unless a firewall stops it.
func BindsAll(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "" {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.IsUnspecified()
}
