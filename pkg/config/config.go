// Package config holds netmon's settings as a plain struct with defaults
// and validation. Loading (flags, NETMON_* environment, YAML file) happens
// in cmd/netmon; this package knows nothing of where values come from.
package config

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/netmon-dev/netmon/pkg/device"
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
	// MetricsBind is where `ingest-loop` serves its own /metrics and
	// /healthz, without login: a loopback address. "" serves nothing.
	MetricsBind string `mapstructure:"metrics_bind"`
	// NewHostWindow is how long a remote host counts as NEW.
	NewHostWindow time.Duration `mapstructure:"new_host_window"`
	// TopRows is how many connections the dashboard shows.
	TopRows int `mapstructure:"top_rows"`
	// MonitorInterfaces are the network interfaces shown as tiles; empty:
	// those of the default route and those carrying local_subnets, found
	// in the kernel's routes and addresses under fs_root.
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

	// Devices and names (issue 13).

	// NeighboursFile replays a neighbour table (`ip neigh show` text or
	// /proc/net/arp) instead of reading the kernel's.
	NeighboursFile string `mapstructure:"neighbours_file"`
	// Leases are the DHCP lease and static-host files to read names from
	// (dnsmasq, odhcpd, ISC dhcpd, Kea, OpenWrt's /etc/config/dhcp,
	// /etc/ethers); empty means the default paths that exist.
	Leases []string `mapstructure:"leases"`
	// DNSLog is dnsmasq's query log (log-queries, log-facility=FILE): the
	// names LAN clients looked up name the remote hosts they reach.
	DNSLog string `mapstructure:"dns_log"`
	// DNSNameTTL is how long a name from the query log is kept (dnsmasq
	// logs no TTLs).
	DNSNameTTL time.Duration `mapstructure:"dns_name_ttl"`
	// ResolveRemoteNames asks reverse DNS for remote hosts that have no
	// name from the query log.
	ResolveRemoteNames bool `mapstructure:"resolve_remote_names"`
	// Devices names devices by MAC or address, first of all sources.
	Devices map[string]string `mapstructure:"devices"`
	// OUIFile is the IEEE OUI listing that gives a device's vendor from
	// its MAC ("" : /usr/share/ieee-data/oui.csv when it exists).
	OUIFile string `mapstructure:"oui_file"`

	// Who may read the dashboard, and how netmon logs (issue 17).

	// AllowedHosts are names (or addresses) accepted in the Host header
	// besides the bound address and localhost: the router's DNS name, a
	// reverse proxy's name.
	AllowedHosts []string `mapstructure:"allowed_hosts"`
	// AllowFrom, when not empty, lists the only client prefixes the
	// dashboard answers (CIDR, or a bare address).
	AllowFrom []string `mapstructure:"allow_from"`
	// PasswordFile holds the login password's bcrypt hash (netmon
	// passwd). Empty: "passwd" beside the configuration file. Login is on
	// while the file exists.
	PasswordFile string `mapstructure:"password_file"`
	// APITokenFile holds the read-only bearer token for /metrics and the
	// JSON endpoints. Empty: "api-token" beside the configuration file.
	// The token is accepted while the file exists and login is on.
	APITokenFile string `mapstructure:"api_token_file"`
	// LogFormat is text or json.
	LogFormat string `mapstructure:"log_format"`

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

	// Live rates (issue 15).

	// RateWindow is the span rates are averaged over (pkg/rates).
	RateWindow time.Duration `mapstructure:"rate_window"`
	// RateUnit is how rates are shown: "bits" (per second, as ISPs quote
	// plans) or "bytes". JSON carries bits per second either way.
	RateUnit string `mapstructure:"rate_unit"`

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
		MonitorInterfaces: nil, // the router's own: see sysmetrics.LANInterfaces
		FSRoot:            "/",
		LogLevel:          "info",

		CommitInterval:          10 * time.Minute,
		BillingDay:              1,
		History5mDays:           2,
		HistoryHourlyDays:       62,
		HistoryDailyDays:        400,
		HistoryRemoteDays:       400,
		HistoryDeviceRemoteDays: 35,
		HistoryServices:         true,

		DNSNameTTL:         time.Hour,
		ResolveRemoteNames: true,
		LogFormat:          "text",
		Events:             true,
		EventsBuffer:       32 << 20,
		PollCPUBudget:      0.10,

		RateWindow: 10 * time.Second,
		RateUnit:   "bits",

		Alerts: DefaultAlerts(),
	}
}

// Bounds of the settings: values outside them are refused, as typos
// rather than choices.
const (
	// MinInterval: a shorter ingest interval is a busy loop.
	MinInterval = 100 * time.Millisecond
	// MinRetention: closed connections kept a shorter time are pruned
	// before anyone looks.
	MinRetention = time.Hour
	// MinConntrackTimeout: conntrack needs tens of milliseconds even for
	// a small table.
	MinConntrackTimeout = 100 * time.Millisecond
	// MinNewHostWindow: a host NEW for less than a second is never seen
	// as NEW by a dashboard polling every second.
	MinNewHostWindow = time.Second
	// MaxTopRows: the dashboard draws every row; more than this is too
	// many for a browser to redraw every second.
	MaxTopRows = 10_000
)

// FieldError names the key and the bad value of an invalid setting, and
// where the value came from when the loader knows.
type FieldError struct {
	Key   string
	Value string // "" when Reason quotes the bad part itself
	// Reason says what is wrong, without the key.
	Reason string
	// Source is where the value was set: a file name, an environment
	// variable or a flag ("" for the default). Set by the loader.
	Source string
}

// Error is one line: `key: reason (got "value" in source)`.
func (e *FieldError) Error() string {
	var b strings.Builder
	b.WriteString(e.Key + ": " + e.Reason)
	switch {
	case e.Value != "" && e.Source != "":
		fmt.Fprintf(&b, " (got %q in %s)", e.Value, e.Source)
	case e.Value != "":
		fmt.Fprintf(&b, " (got %q)", e.Value)
	case e.Source != "":
		fmt.Fprintf(&b, " (in %s)", e.Source)
	}
	return b.String()
}

// Validate checks every field and returns the first problem as a
// *FieldError.
func (c *Config) Validate() error {
	if _, err := c.Prefixes(); err != nil {
		return err
	}
	minimums := []struct {
		key    string
		d, min time.Duration
	}{
		{"conntrack_timeout", c.ConntrackTimeout, MinConntrackTimeout},
		{"interval", c.Interval, MinInterval},
		{"retention", c.Retention, MinRetention},
		{"new_host_window", c.NewHostWindow, MinNewHostWindow},
	}
	for _, m := range minimums {
		if m.d < m.min {
			return &FieldError{Key: m.key, Value: m.d.String(), Reason: "must be at least " + m.min.String()}
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
	if c.MetricsBind != "" {
		if err := validateBind(c.MetricsBind); err != nil {
			return &FieldError{Key: "metrics_bind", Value: c.MetricsBind, Reason: err.Error()}
		}
	}
	if c.TopRows <= 0 || c.TopRows > MaxTopRows {
		return &FieldError{Key: "top_rows", Value: strconv.Itoa(c.TopRows), Reason: fmt.Sprintf("must be between 1 and %d", MaxTopRows)}
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		return &FieldError{Key: "log_level", Value: c.LogLevel, Reason: "must be debug, info, warn or error"}
	}
	if c.FSRoot == "" {
		return &FieldError{Key: "fs_root", Value: "", Reason: "must not be empty"}
	}
	if err := c.validateAccess(); err != nil {
		return err
	}
	if err := c.validateHistory(); err != nil {
		return err
	}
	if err := c.validateNames(); err != nil {
		return err
	}
	if err := c.validateEvents(); err != nil {
		return err
	}
	if err := c.validateRates(); err != nil {
		return err
	}
	return c.Alerts.validate()
}

// validateNames checks the keys of devices and names.
func (c *Config) validateNames() error {
	for key, name := range c.Devices {
		if _, err := device.ConfigName(key, name); err != nil {
			return &FieldError{Key: "devices", Value: key, Reason: err.Error()}
		}
	}
	if c.DNSNameTTL < time.Minute {
		return &FieldError{Key: "dns_name_ttl", Value: c.DNSNameTTL.String(), Reason: "must be at least 1m"}
	}
	return nil
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

// MaxRateWindow bounds rate_window: the sparklines' span.
const MaxRateWindow = 5 * time.Minute

// validateRates checks the keys of the live rates.
func (c *Config) validateRates() error {
	if c.RateWindow <= 0 || c.RateWindow > MaxRateWindow {
		return &FieldError{Key: "rate_window", Value: c.RateWindow.String(), Reason: "must be > 0 and at most 5m (like 10s)"}
	}
	if c.RateUnit != "bits" && c.RateUnit != "bytes" {
		return &FieldError{Key: "rate_unit", Value: c.RateUnit, Reason: "must be bits or bytes"}
	}
	return nil
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

// validateAccess checks the keys of who may read the dashboard and of
// logging.
func (c *Config) validateAccess() error {
	if _, err := c.AllowFromPrefixes(); err != nil {
		return err
	}
	for _, h := range c.AllowedHosts {
		if strings.TrimSpace(h) == "" || strings.ContainsAny(h, " /\\@") {
			return &FieldError{Key: "allowed_hosts", Value: h, Reason: "must be a host name or address, like router.lan"}
		}
	}
	switch c.LogFormat {
	case "text", "json":
	default:
		return &FieldError{Key: "log_format", Value: c.LogFormat, Reason: "must be text or json"}
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

// AllowFromPrefixes parses AllowFrom (a bare address is one host).
func (c *Config) AllowFromPrefixes() ([]netip.Prefix, error) {
	ps, err := filter.ParsePrefixes(c.AllowFrom)
	if err != nil {
		return nil, &FieldError{Key: "allow_from", Reason: err.Error()}
	}
	for i, p := range ps {
		ps[i] = p.Masked()
	}
	return ps, nil
}

// Prefixes parses LocalSubnets; the error is a *FieldError naming the bad
// prefix.
func (c *Config) Prefixes() ([]netip.Prefix, error) {
	ps, _, err := c.localSubnets()
	return ps, err
}

// Filter is the outbound filter of LocalSubnets; the error is Prefixes'.
func (c *Config) Filter() (*filter.Filter, error) {
	_, f, err := c.localSubnets()
	return f, err
}

func (c *Config) localSubnets() ([]netip.Prefix, *filter.Filter, error) {
	// filter's errors quote the bad item, so the value is not repeated.
	ps, err := filter.ParsePrefixes(c.LocalSubnets)
	if err != nil {
		return nil, nil, &FieldError{Key: "local_subnets", Reason: err.Error()}
	}
	f, err := filter.New(ps)
	if err != nil {
		return nil, nil, &FieldError{Key: "local_subnets", Reason: err.Error()}
	}
	return ps, f, nil
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
