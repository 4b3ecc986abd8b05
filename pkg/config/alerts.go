package config

import (
	"fmt"
	"maps"
	"net/netip"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Alerts is the alerts section (issue 18): the sinks alerts go to and the
// rules that raise them. configs/netmon.yaml documents every key. Keys of
// the section get their defaults one by one (a file naming only some
// keeps the defaults of the rest); a sink's or a quota's zero values mean
// the documented defaults.
type Alerts struct {
	// LearningPeriod runs from netmon's first start: every device seen
	// during it is learned silently.
	LearningPeriod time.Duration  `mapstructure:"learning_period"`
	Sinks          []AlertSink    `mapstructure:"sinks"`
	NewDevice      NewDeviceAlert `mapstructure:"new_device"`
	Quotas         []QuotaAlert   `mapstructure:"quotas"`
	NewDestination NewDestAlert   `mapstructure:"new_destination"`
	Health         HealthAlert    `mapstructure:"health"`
}

// AlertSink is one place alerts go.
type AlertSink struct {
	Name      string        `mapstructure:"name"`
	Type      string        `mapstructure:"type"`       // webhook, ntfy, log or exec
	URL       string        `mapstructure:"url"`        // webhook, ntfy
	Secret    string        `mapstructure:"secret"`     // webhook: HMAC-SHA256 key
	Token     string        `mapstructure:"token"`      // ntfy: access token
	Command   []string      `mapstructure:"command"`    // exec: absolute path and arguments
	Timeout   time.Duration `mapstructure:"timeout"`    // 0: 10s
	RateLimit int           `mapstructure:"rate_limit"` // alerts a minute; 0: 10
}

// NewDeviceAlert is the new device rule.
type NewDeviceAlert struct {
	Enabled    bool          `mapstructure:"enabled"`
	Randomized bool          `mapstructure:"randomized"`
	Delay      time.Duration `mapstructure:"delay"`
	Sinks      []string      `mapstructure:"sinks"`
}

// QuotaAlert is one quota rule.
type QuotaAlert struct {
	Name   string   `mapstructure:"name"`   // "": DEVICE-PERIOD
	Device string   `mapstructure:"device"` // lan, a MAC or ip:ADDR
	Period string   `mapstructure:"period"` // day or billing
	Limit  string   `mapstructure:"limit"`  // a size with its unit: 500MB, 1.5 TiB
	Warn   []int    `mapstructure:"warn"`   // percent; none: 80, 100
	Sinks  []string `mapstructure:"sinks"`
}

// NewDestAlert is the new destination rule.
type NewDestAlert struct {
	Enabled         bool          `mapstructure:"enabled"`
	LearningPeriod  time.Duration `mapstructure:"learning_period"`
	Allow           []string      `mapstructure:"allow"`
	PerDevicePerDay int           `mapstructure:"per_device_per_day"`
	Sinks           []string      `mapstructure:"sinks"`
}

// HealthAlert is the monitor health rule.
type HealthAlert struct {
	Enabled bool          `mapstructure:"enabled"`
	After   time.Duration `mapstructure:"after"`
	Sinks   []string      `mapstructure:"sinks"`
}

// DefaultAlerts are the alert settings when none are given: the rules
// on (but new destinations), no sink, so alerts are only recorded
// (`netmon alerts`, GET /api/alerts) until sinks are configured.
func DefaultAlerts() Alerts {
	return Alerts{
		LearningPeriod: 24 * time.Hour,
		NewDevice:      NewDeviceAlert{Enabled: true, Delay: time.Minute},
		NewDestination: NewDestAlert{LearningPeriod: 7 * 24 * time.Hour, PerDevicePerDay: 5},
		Health:         HealthAlert{Enabled: true, After: 5 * time.Minute},
	}
}

// SinkTypes are the kinds of sink.
var SinkTypes = []string{"webhook", "ntfy", "log", "exec"}

// DefaultWarn are a quota's warn levels when it names none.
var DefaultWarn = []int{80, 100}

// validate checks the section; errors are *FieldErrors naming the key
// in full (alerts.sinks[1].url).
func (a *Alerts) validate() error {
	bad := func(key, value, reason string) error {
		return &FieldError{Key: "alerts." + key, Value: value, Reason: reason}
	}
	if a.LearningPeriod < 0 {
		return bad("learning_period", a.LearningPeriod.String(), "must be >= 0")
	}
	names := map[string]bool{}
	for i, s := range a.Sinks {
		key := fmt.Sprintf("sinks[%d]", i)
		if err := s.validate(); err != nil {
			return bad(key+"."+err.key, err.value, err.reason)
		}
		if names[s.Name] {
			return bad(key+".name", s.Name, "another sink has this name")
		}
		names[s.Name] = true
	}
	sinks := func(key string, list []string) error {
		for _, n := range list {
			if !names[n] {
				return bad(key, n, "no sink of that name (sinks: "+strings.Join(slices.Sorted(maps.Keys(names)), ", ")+")")
			}
		}
		return nil
	}
	if a.NewDevice.Delay < 0 || a.NewDevice.Delay > time.Hour {
		return bad("new_device.delay", a.NewDevice.Delay.String(), "must be from 0 to 1h")
	}
	if err := sinks("new_device.sinks", a.NewDevice.Sinks); err != nil {
		return err
	}
	quotas := map[string]bool{}
	for i, q := range a.Quotas {
		key := fmt.Sprintf("quotas[%d]", i)
		if _, err := ParseDevice(q.Device); err != nil {
			return bad(key+".device", q.Device, err.Error())
		}
		if q.Period != "day" && q.Period != "billing" {
			return bad(key+".period", q.Period, "must be day or billing")
		}
		if n, err := ParseBytes(q.Limit); err != nil {
			return bad(key+".limit", q.Limit, err.Error())
		} else if n == 0 {
			return bad(key+".limit", q.Limit, "must be more than 0")
		}
		for j, w := range q.Warn {
			if w < 1 || w > 1000 || j > 0 && w <= q.Warn[j-1] {
				return bad(key+".warn", fmt.Sprint(q.Warn), "must be percentages from 1 to 1000, ascending")
			}
		}
		if quotas[q.RuleName()] {
			return bad(key+".name", q.RuleName(), "another quota has this name")
		}
		quotas[q.RuleName()] = true
		if err := sinks(key+".sinks", q.Sinks); err != nil {
			return err
		}
	}
	d := a.NewDestination
	if d.LearningPeriod < 0 {
		return bad("new_destination.learning_period", d.LearningPeriod.String(), "must be >= 0")
	}
	if d.PerDevicePerDay < 1 || d.PerDevicePerDay > 1000 {
		return bad("new_destination.per_device_per_day", strconv.Itoa(d.PerDevicePerDay), "must be from 1 to 1000")
	}
	for _, p := range d.Allow {
		if _, err := netip.ParsePrefix(p); err != nil {
			return bad("new_destination.allow", p, "not a prefix (like 192.0.2.0/24 or 2001:db8::/32)")
		}
	}
	if err := sinks("new_destination.sinks", d.Sinks); err != nil {
		return err
	}
	if a.Health.After <= 0 {
		return bad("health.after", a.Health.After.String(), "must be > 0")
	}
	return sinks("health.sinks", a.Health.Sinks)
}

// sinkError is a problem with one key of a sink.
type sinkError struct{ key, value, reason string }

func (s *AlertSink) validate() *sinkError {
	if !validName(s.Name) {
		return &sinkError{"name", s.Name, "must be 1-32 lowercase letters, digits, '-' or '_'"}
	}
	if !slices.Contains(SinkTypes, s.Type) {
		return &sinkError{"type", s.Type, "must be " + strings.Join(SinkTypes, ", ")}
	}
	if s.Timeout < 0 || s.Timeout > 5*time.Minute {
		return &sinkError{"timeout", s.Timeout.String(), "must be from 0 (10s) to 5m"}
	}
	if s.RateLimit < 0 || s.RateLimit > 10000 {
		return &sinkError{"rate_limit", strconv.Itoa(s.RateLimit), "must be alerts a minute, from 0 (10) to 10000"}
	}
	only := func(key, value, typ string) *sinkError {
		if value != "" && s.Type != typ {
			return &sinkError{key, "(set)", "only a " + typ + " sink has it"}
		}
		return nil
	}
	if err := only("secret", s.Secret, "webhook"); err != nil {
		return err
	}
	if err := only("token", s.Token, "ntfy"); err != nil {
		return err
	}
	switch s.Type {
	case "webhook", "ntfy":
		u, err := url.Parse(s.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
			return &sinkError{"url", s.URL, "must be an http:// or https:// URL without user:password"}
		}
	default:
		if s.URL != "" {
			return &sinkError{"url", s.URL, "only a webhook or ntfy sink has it"}
		}
	}
	if s.Type == "exec" {
		if len(s.Command) == 0 || !filepath.IsAbs(s.Command[0]) {
			return &sinkError{"command", fmt.Sprint(s.Command), "must be a list, the first item an absolute path (it runs without a shell)"}
		}
	} else if len(s.Command) > 0 {
		return &sinkError{"command", fmt.Sprint(s.Command), "only an exec sink has it"}
	}
	return nil
}

func validName(s string) bool {
	if len(s) == 0 || len(s) > 32 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

// RuleName is the quota's name: Name, or DEVICE-PERIOD.
func (q QuotaAlert) RuleName() string {
	if q.Name != "" {
		return q.Name
	}
	return q.Device + "-" + q.Period
}

// WarnLevels are the quota's warn levels, DefaultWarn when none.
func (q QuotaAlert) WarnLevels() []int {
	if len(q.Warn) == 0 {
		return DefaultWarn
	}
	return q.Warn
}

// ParseDevice checks a device as rules name it and returns it in its
// canonical form: "lan", a MAC (aa:bb:cc:dd:ee:ff, lowercased), or
// "ip:" and an address (ip:10.0.0.9).
func ParseDevice(s string) (string, error) {
	const want = "want lan, a MAC (aa:bb:cc:dd:ee:ff) or ip:ADDRESS"
	switch {
	case s == "lan":
		return s, nil
	case strings.HasPrefix(s, "ip:"):
		a, err := netip.ParseAddr(s[3:])
		if err != nil || a.Zone() != "" {
			return "", fmt.Errorf("not an address after ip: (%s)", want)
		}
		return "ip:" + a.Unmap().String(), nil
	}
	parts := strings.Split(strings.ToLower(s), ":")
	if len(parts) != 6 {
		return "", fmt.Errorf("unknown device: %s", want)
	}
	for _, p := range parts {
		if len(p) != 2 || strings.Trim(p, "0123456789abcdef") != "" {
			return "", fmt.Errorf("unknown device: %s", want)
		}
	}
	return strings.Join(parts, ":"), nil
}

// byteUnits are the units ParseBytes knows, by their lowercase name.
var byteUnits = map[string]float64{
	"b": 1, "kb": 1e3, "mb": 1e6, "gb": 1e9, "tb": 1e12, "pb": 1e15,
	"kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30, "tib": 1 << 40, "pib": 1 << 50,
}

// ParseBytes parses a size with its unit: "500MB", "1.5 TiB", "80 GB"
// (kB, MB, GB, TB, PB are powers of 1000; KiB, MiB, GiB, TiB, PiB of
// 1024; B bytes). A number without a unit is refused: 500 what?
func ParseBytes(s string) (uint64, error) {
	t := strings.TrimSpace(s)
	i := strings.IndexFunc(t, func(r rune) bool { return !(r >= '0' && r <= '9' || r == '.') })
	if i <= 0 {
		return 0, fmt.Errorf("want a size with its unit, like 500MB or 1.5TiB")
	}
	n, err := strconv.ParseFloat(t[:i], 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("want a size with its unit, like 500MB or 1.5TiB")
	}
	unit := strings.ToLower(strings.TrimSpace(t[i:]))
	mul, ok := byteUnits[unit]
	if !ok {
		return 0, fmt.Errorf("unknown unit %q: want B, kB, MB, GB, TB, PB, KiB, MiB, GiB, TiB or PiB", strings.TrimSpace(t[i:]))
	}
	v := n * mul
	if v >= 1<<63 {
		return 0, fmt.Errorf("too big")
	}
	return uint64(v), nil
}
