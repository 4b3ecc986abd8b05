package alert

import (
	"net/netip"
	"time"
)

// Rules are the engine's settings, from the alerts section of the YAML
// (cmd/netmon translates pkg/config's Alerts, which validated them).
type Rules struct {
	// LearningPeriod runs from netmon's first start (recorded once, in
	// the record): every device seen during it is learned silently.
	LearningPeriod time.Duration
	// Sinks are the names of every configured sink: where a rule that
	// names none sends its alerts.
	Sinks []string

	NewDevice      NewDeviceRule
	Quotas         []QuotaRule
	NewDestination NewDestinationRule
	Health         HealthRule
}

// NewDeviceRule raises NewDevice alerts.
type NewDeviceRule struct {
	Enabled bool
	// Randomized opts in to alerts for devices with randomised MACs.
	// Such devices are grouped by name (a phone keeps its name when it
	// rotates its MAC): a group alerts once, its later MACs never. Off,
	// they are learned silently.
	Randomized bool
	// Delay holds a new device's alert so that its name (DHCP, DNS) and
	// first destinations arrive with it; 0 sends at once.
	Delay time.Duration
	Sinks []string // nil: every sink
}

// QuotaRule warns when a device or the LAN passes levels of a volume.
type QuotaRule struct {
	Name   string // unique; names the rule in alerts and in what is remembered
	Scope  string // a device id, or LAN
	Period Period
	Limit  uint64 // bytes, uplink plus downlink
	Warn   []int  // percent levels, ascending (e.g. 80, 100): each once per period
	Sinks  []string
}

// NewDestinationRule raises NewDestination alerts: a device talks to a
// network (its /24 or /48) it never used.
type NewDestinationRule struct {
	Enabled bool
	// LearningPeriod runs from the first contact of each device the rule
	// sees: its networks meanwhile are learned silently.
	LearningPeriod time.Duration
	Allow          []netip.Prefix // never alert for these
	// PerDevicePerDay caps the alerts of one device in a local day; past
	// it new networks are learned silently.
	PerDevicePerDay int
	Sinks           []string
}

// HealthRule raises IngestFailing after ingest failed for After, and
// IngestRecovered when it works again.
type HealthRule struct {
	Enabled bool
	After   time.Duration
	Sinks   []string
}

// sinksOr returns names, or every sink when names is empty.
func (r *Rules) sinksOr(names []string) []string {
	if len(names) == 0 {
		return r.Sinks
	}
	return names
}

// networkOf is the network a new destination is judged by: the /24 of
// an IPv4 address, the /48 of an IPv6 one.
func networkOf(a netip.Addr) netip.Prefix {
	a = a.Unmap()
	bits := 48
	if a.Is4() {
		bits = 24
	}
	p, _ := a.Prefix(bits)
	return p
}
