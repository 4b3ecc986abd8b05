// Package alert decides when netmon tells its owner something and gets
// the message to them: a new device on the LAN, a device or the whole LAN
// passing its quota, a device talking to a network it never used, the
// monitor itself failing and recovering.
//
// The Engine holds the rules. The ingest loop feeds it through four
// inputs that never block (DeviceSeen, UsageSeen, Contacted,
// HealthChanged); it decides in memory and writes each alert, with what
// the rules must remember, to the durable outbox (Store) before anything
// is sent. The Dispatcher delivers the outbox to the sinks, one goroutine
// per sink, with retries and backoff, a rate limit that folds the excess
// into one summary, and a stable id per alert so a sink can drop the
// repeat a crash between sending and recording may cause. The sinks
// themselves (webhook, ntfy, log, exec) are in pkg/alert/sink.
//
// The package knows no SQL and serves no HTTP: pkg/store implements
// Store and Outbox, cmd/netmon wires the inputs to the ingest loop.
package alert

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"net/netip"
	"time"
)

// Kind is what an alert is about.
type Kind string

// The kinds of alert. They label netmon_alerts_total, so the set is
// closed.
const (
	NewDevice       Kind = "new_device"       // a device never seen before
	Quota           Kind = "quota"            // a device or the LAN passed a warn level of its quota
	NewDestination  Kind = "new_destination"  // a device talked to a network it never used
	IngestFailing   Kind = "ingest_failing"   // ingest has failed for longer than the threshold
	IngestRecovered Kind = "ingest_recovered" // ingest works again after an IngestFailing
	Summary         Kind = "summary"          // alerts a sink's rate limit folded into one
	Test            Kind = "test"             // `netmon alerts test SINK`
)

// Kinds lists every kind, in a fixed order.
var Kinds = []Kind{NewDevice, Quota, NewDestination, IngestFailing, IngestRecovered, Summary, Test}

// Severity is how urgent an alert is; ntfy maps it to its priority.
type Severity string

// The severities.
const (
	Info     Severity = "info"
	Warning  Severity = "warning"
	Critical Severity = "critical"
)

// Alert is one message to the owner, as the sinks receive it (its JSON
// form is the webhook's body and the exec sink's stdin). Text fields may
// hold anything a LAN device chose to call itself: every sink keeps them
// inert (JSON-escaped, never through a shell, headers sanitised).
type Alert struct {
	// ID is stable: the same event gives the same id in every process,
	// so a sink that sees an id twice can drop the second.
	ID       string    `json:"id"`
	Kind     Kind      `json:"kind"`
	Severity Severity  `json:"severity"`
	At       time.Time `json:"at"` // when the event happened
	Title    string    `json:"title"`
	Message  string    `json:"message"`

	// One of these says what the alert is about, by kind.
	Device      *Device      `json:"device,omitempty"`      // new_device, quota (per device), new_destination
	Quota       *QuotaState  `json:"quota,omitempty"`       // quota
	Destination *Destination `json:"destination,omitempty"` // new_destination
	Health      *HealthState `json:"health,omitempty"`      // ingest_failing, ingest_recovered
	Folded      *Folded      `json:"folded,omitempty"`      // summary
}

// Device is a LAN device as the integrator describes it (issue 13's
// registry) and as alerts carry it.
type Device struct {
	// ID is the device's id: "aa:bb:cc:dd:ee:ff", or "ip:10.0.0.9" for
	// an address whose MAC is not known.
	ID         string     `json:"id"`
	MAC        string     `json:"mac,omitempty"` // lowercase, colon separated; "" when not known
	Name       string     `json:"name,omitempty"`
	Vendor     string     `json:"vendor,omitempty"`
	Addr       netip.Addr `json:"addr,omitzero"`
	Randomized bool       `json:"randomized,omitempty"` // a locally administered (private, rotating) MAC
	// Destinations are its first remote addresses (new_device only).
	Destinations []netip.Addr `json:"destinations,omitempty"`
}

// Label is how a device is named in a title: its name, else its vendor
// and MAC, else its id.
func (d Device) Label() string {
	switch {
	case d.Name != "":
		return d.Name
	case d.Vendor != "" && d.MAC != "":
		return d.Vendor + " " + d.MAC
	}
	return d.ID
}

// QuotaState is a quota alert's figures.
type QuotaState struct {
	Rule        string    `json:"rule"`
	Scope       string    `json:"scope"`  // a device id, or LAN
	Period      Period    `json:"period"` // day or billing
	PeriodStart time.Time `json:"period_start"`
	LimitBytes  uint64    `json:"limit_bytes"`
	UsedBytes   uint64    `json:"used_bytes"`
	Percent     int       `json:"percent"` // the warn level passed
}

// Destination is a new destination alert's network.
type Destination struct {
	Network netip.Prefix `json:"network"` // the /24 or /48
	Remote  netip.Addr   `json:"remote"`  // the address that was contacted
	// CapReached says this was the device's last new destination alert
	// of the day: further ones are learned silently until tomorrow.
	CapReached bool `json:"cap_reached,omitempty"`
}

// HealthState is a monitor health alert's figures.
type HealthState struct {
	FailingSince time.Time `json:"failing_since"`
	Error        string    `json:"error,omitempty"`
}

// Folded is a summary alert's content: what one sink's rate limit held
// back.
type Folded struct {
	Sink  string       `json:"sink"`
	Count int          `json:"count"`
	Kinds map[Kind]int `json:"kinds"`
	IDs   []string     `json:"ids"` // the folded alerts, oldest first
}

// LAN is the scope of a quota on the whole LAN, and the Device of a
// Usage that totals it.
const LAN = "lan"

// Period is what a quota counts over.
type Period string

// The periods.
const (
	Day     Period = "day"     // the local calendar day
	Billing Period = "billing" // the billing period (billing_day)
)

// idOf returns the stable id of an event: the first 128 bits of the
// SHA-256 of its kind and key, in hex. The same event gives the same id
// after any restart; distinct events collide with negligible odds.
func idOf(kind Kind, key string) string {
	h := sha256.Sum256([]byte(string(kind) + "\x00" + key))
	return hex.EncodeToString(h[:16])
}

// NewTestID returns a random id for a test alert (each test is new).
func NewTestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on Linux
	return hex.EncodeToString(b[:])
}

// State is where one alert's delivery to one sink is.
type State string

// The delivery states.
const (
	Pending   State = "pending"   // waiting for its (next) attempt
	Delivered State = "delivered" // the sink accepted it
	Failed    State = "failed"    // given up: permanent refusal, or retried for too long
	FoldedIn  State = "folded"    // the rate limit folded it into a summary
)

// Delivery is one alert's delivery state at one sink.
type Delivery struct {
	Sink       string    `json:"sink"`
	State      State     `json:"state"`
	Attempts   int       `json:"attempts"`
	NextAt     time.Time `json:"next_at,omitzero"` // pending: the next attempt
	SentAt     time.Time `json:"sent_at,omitzero"` // delivered: when
	Error      string    `json:"error,omitempty"`  // the last attempt's error
	FoldedInto string    `json:"folded_into,omitempty"`
}

// Entry is a stored alert with its deliveries, as `netmon alerts` and
// GET /api/alerts list them.
type Entry struct {
	Alert
	Created    time.Time  `json:"created"` // when it was written to the outbox
	Deliveries []Delivery `json:"deliveries"`
}

// Outcome is how one delivery attempt or delivery ended, the outcome
// label of netmon_alerts_total.
type Outcome string

// The outcomes.
const (
	OutcomeDelivered Outcome = "delivered" // accepted by the sink
	OutcomeRetried   Outcome = "retried"   // an attempt failed; another follows
	OutcomeFailed    Outcome = "failed"    // given up
	OutcomeFolded    Outcome = "folded"    // folded into a summary
)

// Count is how many deliveries of a kind to a sink ended with an outcome.
type Count struct {
	Kind    Kind
	Sink    string
	Outcome Outcome
	N       int64
}
