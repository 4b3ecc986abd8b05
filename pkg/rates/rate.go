// Package rates turns the per-cycle growth of flows (pkg/flows' Delta)
// into speeds: per connection, per device, per remote host and for the
// whole router, bytes per second up and down, as the mean over a short
// window and as the last cycle's value, and per device a sparkline of the
// last five minutes.
//
// It is pure: no I/O and no clock. The caller passes the time of every
// read; elapsed times are t.Sub of those, so readings from time.Now use
// the monotonic clock and a step of the wall clock changes no rate.
//
// The rules (see Tracker.Add):
//   - a rate is growth divided by the REAL time between the two reads it
//     lies between, never by the nominal interval;
//   - the first reading of a flow has no rate (Reading.Known is false:
//     "-" on screen, null in JSON), and neither has a flow whose counters
//     went down (a new flow of the tuple: pkg/flows' Restarted): its
//     counters are not growth over a known time;
//   - the final bytes of a flow that closed (a Closed change with Growth)
//     count toward its device's, its remote host's and the router's rate;
//   - only flows, devices and remote hosts with growth in the window (or
//     whose first reading is in it) are kept: memory grows with the
//     traffic of the last window, not with the table.
package rates

import (
	"fmt"
	"math"
	"strconv"
)

// Rate is a speed in bytes per second: Up is the ORIGINAL direction (LAN
// to internet), Down the REPLY.
type Rate struct{ Up, Down float64 }

// Total is Up + Down.
func (r Rate) Total() float64 { return r.Up + r.Down }

// Bps is r in whole bits per second, rounded: what the live state stores
// and the JSON carries.
func (r Rate) Bps() (up, down int64) { return bps(r.Up), bps(r.Down) }

// bps rounds bytes per second to bits per second, saturating.
func bps(v float64) int64 {
	b := math.Round(v * 8)
	switch {
	case !(b > 0): // also NaN
		return 0
	case b >= math.MaxInt64:
		return math.MaxInt64
	}
	return int64(b)
}

// FromBps is the Rate of up and down bits per second.
func FromBps(up, down int64) Rate { return Rate{Up: float64(up) / 8, Down: float64(down) / 8} }

// Reading is what is known of a rate. Known is false before the second
// reading of a flow (or of a device or remote host: its first flow's),
// and before the tracker's second cycle; the rates are zero then.
type Reading struct {
	Known bool
	// Window is the mean over the window: the growth of the cycles in it
	// divided by the time they span (since the first reading, if that is
	// later than the window's start).
	Window Rate
	// Last is the last cycle's: its growth over the time since the read
	// before it (zero when the last cycle saw no growth).
	Last Rate
}

// Unit is how rates are shown: bits per second (how ISPs quote plans) or
// bytes per second. Values in JSON are bits per second either way.
type Unit uint8

// Units.
const (
	Bits Unit = iota
	Bytes
)

// ParseUnit parses "bits" or "bytes".
func ParseUnit(s string) (Unit, error) {
	switch s {
	case "bits":
		return Bits, nil
	case "bytes":
		return Bytes, nil
	}
	return 0, fmt.Errorf("rate unit %q: must be bits or bytes", s)
}

// String is "bits" or "bytes".
func (u Unit) String() string {
	if u == Bytes {
		return "bytes"
	}
	return "bits"
}

// siPrefixes are the decimal (SI) prefixes rates are shown with.
var siPrefixes = [...]string{"", "k", "M", "G", "T", "P", "E"}

// Format shows bytesPerSecond in the unit with an SI prefix and three
// significant digits: "0 bit/s", "950 bit/s", "16.4 Mbit/s", "2.05 MB/s".
func (u Unit) Format(bytesPerSecond float64) string {
	v, suffix := bytesPerSecond*8, "bit/s"
	if u == Bytes {
		v, suffix = bytesPerSecond, "B/s"
	}
	if !(v > 0) || math.IsInf(v, 0) {
		return "0 " + suffix
	}
	i := 0
	for v >= 999.5 && i < len(siPrefixes)-1 {
		v /= 1000
		i++
	}
	prec := 0
	switch {
	case i == 0:
		// whole bits or bytes
	case v < 9.995:
		prec = 2
	case v < 99.95:
		prec = 1
	}
	return strconv.FormatFloat(v, 'f', prec, 64) + " " + siPrefixes[i] + suffix
}

// FormatReading is Format of a reading's window mean in each direction,
// or "-" when the reading is not known.
func (u Unit) FormatReading(r Reading) (up, down string) {
	if !r.Known {
		return "-", "-"
	}
	return u.Format(r.Window.Up), u.Format(r.Window.Down)
}
