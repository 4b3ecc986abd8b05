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

	// The live state and the durable record (issue 14).

	// StateDir holds the live state (live.db: the active and recently
	// closed connections), written every cycle: a tmpfs, since writing
	// there is free. "" means /run/netmon as root, else a directory of
	// this user's (see cmd/netmon).
	StateDir string `mapstructure:"state_dir"`
	// CommitInterval is how often the accumulated history is committed
	// to the durable record at db_path, on flash.
	CommitInterval time.Duration `mapstructure:"commit_interval"`
	// BillingDay is the day of the month a billing period starts on.
	BillingDay int `mapstructure:"billing_day"`
	// Timezone names the time zone days and months follow ("" : the
	// system's, from TZ or /etc/localtime).
	Timezone string `mapstructure:"timezone"`
	// History*Days are how long each kind of bucket is kept, in days (0:
	// for ever): a device's 5-minute, hourly and daily buckets, a remote
	// host's days, and each device's days with its top remote hosts and
	// services. Monthly buckets are kept for ever.
	History5mDays           int `mapstructure:"history_5m_days"`
	HistoryHourlyDays       int `mapstructure:"history_hourly_days"`
	HistoryDailyDays        int `mapstructure:"history_daily_days"`
	HistoryRemoteDays       int `mapstructure:"history_remote_days"`
	HistoryDeviceRemoteDays int `mapstructure:"history_device_remote_days"`
	// HistoryServices keeps the per-service split of devices' days.
	HistoryServices bool `mapstructure:"history_services"`

	// Alerts (issue 18): the alerts section, its own block of keys
	// (alerts.learning_period, alerts.sinks, ...); see alerts.go.
	Alerts Alerts `mapstructure:"alerts"`
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
		Retention:         time.Hour,
		Bind:              "127.0.0.1:8080",
		Ingest:            true,
		NewHostWindow:     60 * time.Second,
		TopRows:           200,
		MonitorInterfaces: []string{"enp2s0", "enp3s0"},
		FSRoot:            "/",
		LogLevel:          "info",

		CommitInterval:          5 * time.Minute,
		BillingDay:              1,
		History5mDays:           2,
		HistoryHourlyDays:       62,
		HistoryDailyDays:        400,
		HistoryRemoteDays:       400,
		HistoryDeviceRemoteDays: 35,
		HistoryServices:         true,

		Alerts: DefaultAlerts(),
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
	if err := c.validateHistory(); err != nil {
		return err
	}
	return c.Alerts.validate()
}

// validateHistory checks the keys of the live state and the record.
func (c *Config) validateHistory() error {
	if c.CommitInterval < time.Second {
		return &FieldError{Key: "commit_interval", Value: c.CommitInterval.String(), Reason: "must be at least 1s (and every commit writes to flash: minutes are right)"}
	}
	if c.BillingDay < 1 || c.BillingDay > 28 {
		return &FieldError{Key: "billing_day", Value: strconv.Itoa(c.BillingDay), Reason: "must be a day from 1 to 28"}
	}
	if c.Timezone != "" {
		if _, err := time.LoadLocation(c.Timezone); err != nil {
			return &FieldError{Key: "timezone", Value: c.Timezone, Reason: "not a time zone name (like Europe/Berlin)"}
		}
	}
	for _, d := range []struct {
		key string
		n   int
	}{
		{"history_5m_days", c.History5mDays}, {"history_hourly_days", c.HistoryHourlyDays},
		{"history_daily_days", c.HistoryDailyDays}, {"history_remote_days", c.HistoryRemoteDays},
		{"history_device_remote_days", c.HistoryDeviceRemoteDays},
	} {
		if d.n < 0 || d.n > 100*366 {
			return &FieldError{Key: d.key, Value: strconv.Itoa(d.n), Reason: "must be a number of days, 0 for ever"}
		}
	}
	return nil
}

// Location is the time zone of days and months: Timezone, or the
// system's. Validate has checked the name.
func (c *Config) Location() *time.Location {
	if c.Timezone == "" {
		return time.Local
	}
	loc, err := time.LoadLocation(c.Timezone)
	if err != nil {
		return time.Local
	}
	return loc
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
