package alert

import (
	"context"
	"net/netip"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func deviceRules() Rules {
	return Rules{
		LearningPeriod: 24 * time.Hour,
		Sinks:          []string{"hook"},
		NewDevice:      NewDeviceRule{Enabled: true, Delay: time.Minute},
	}
}

var (
	laptop = Device{ID: "aa:bb:cc:dd:ee:01", MAC: "aa:bb:cc:dd:ee:01", Addr: netip.MustParseAddr("10.0.0.7")}
	phone1 = Device{ID: "de:ad:be:ef:00:01", MAC: "de:ad:be:ef:00:01", Name: "Pixel-7", Randomized: true}
	phone2 = Device{ID: "de:ad:be:ef:00:02", MAC: "de:ad:be:ef:00:02", Name: "pixel-7 ", Randomized: true}
	tablet = Device{ID: "de:ad:be:ef:00:03", MAC: "de:ad:be:ef:00:03", Name: "iPad", Randomized: true}
	rem1   = netip.MustParseAddr("203.0.113.80")
	rem2   = netip.MustParseAddr("2001:db8::80")
)

// step is one input at an offset from the end of the learning period.
type step struct {
	at  time.Duration
	dev Device
	to  netip.Addr // with a dev: a Contacted after the sighting
}

func TestNewDevice(t *testing.T) {
	named := laptop
	named.Name, named.Vendor = "laptop <b>", "Intel"
	tests := []struct {
		name   string
		rules  func(*Rules)
		steps  []step
		want   []string // kind: title of every stored alert
		device *Device  // the first alert's device
	}{
		{
			name:  "learned silently during the learning period",
			steps: []step{{at: -time.Minute, dev: laptop}, {at: 2 * time.Hour, dev: laptop}},
		},
		{
			name: "after it: held for the delay, name and destinations gathered",
			steps: []step{
				{at: time.Hour, dev: laptop, to: rem1},
				{at: time.Hour + 10*time.Second, dev: named, to: rem2},
				{at: time.Hour + 20*time.Second, dev: laptop, to: rem1},
				{at: 3 * time.Hour, dev: laptop},
			},
			want: []string{"new_device: New device on the LAN: laptop <b>"},
			device: &Device{ID: laptop.ID, MAC: laptop.MAC, Name: "laptop <b>", Vendor: "Intel", Addr: laptop.Addr,
				Destinations: []netip.Addr{rem1, rem2}},
		},
		{
			name:  "no delay",
			rules: func(r *Rules) { r.NewDevice.Delay = 0 },
			steps: []step{{at: time.Hour, dev: laptop}},
			want:  []string{"new_device: New device on the LAN: aa:bb:cc:dd:ee:01"},
		},
		{
			name:  "rule off: learned, never alerts",
			rules: func(r *Rules) { r.NewDevice.Enabled = false },
			steps: []step{{at: time.Hour, dev: laptop}},
		},
		{
			name:  "randomised MACs come and go: silent by default",
			steps: []step{{at: time.Hour, dev: phone1}, {at: 2 * time.Hour, dev: phone2}, {at: 26 * time.Hour, dev: phone1}},
		},
		{
			name:  "randomised MACs opted in: one alert per name",
			rules: func(r *Rules) { r.NewDevice.Randomized = true },
			steps: []step{{at: time.Hour, dev: phone1}, {at: 2 * time.Hour, dev: phone2}, {at: 3 * time.Hour, dev: tablet}, {at: 4 * time.Hour, dev: phone1}},
			want:  []string{"new_device: New device on the LAN: Pixel-7", "new_device: New device on the LAN: iPad"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rules := deviceRules()
			if tt.rules != nil {
				tt.rules(&rules)
			}
			st := newFakeStore()
			c := &clock{t: t0}
			e := newTestEngine(t, st, c, rules)
			end := t0.Add(rules.LearningPeriod)
			for _, s := range tt.steps {
				at := end.Add(s.at)
				c.t = at
				flush(t, e) // what fell due before this input
				e.DeviceSeen(Sighting{Device: s.dev, At: at})
				if s.to.IsValid() {
					e.Contacted(Contact{Device: s.dev.ID, Remote: s.to, At: at})
				}
			}
			c.Advance(time.Hour)
			flush(t, e)
			got := st.stored()
			if diff := cmp.Diff(tt.want, titles(got), alertCmp...); diff != "" {
				t.Errorf("alerts (-want +got)\n%s", diff)
			}
			if tt.device != nil && len(got) > 0 {
				if diff := cmp.Diff(tt.device, got[0].Device, alertCmp...); diff != "" {
					t.Errorf("device (-want +got)\n%s", diff)
				}
			}
			for _, s := range tt.steps {
				if !st.has(MemDevice, s.dev.ID) {
					t.Errorf("%s is not remembered", s.dev.ID)
				}
			}
		})
	}
}

// TestNewDeviceRestart: what was written is known after a restart (no
// second alert); a held alert lost in a crash before it was written is
// raised again, with the same id; Close writes held alerts at once.
func TestNewDeviceRestart(t *testing.T) {
	st := newFakeStore()
	c := &clock{t: t0}
	rules := deviceRules()
	e := newTestEngine(t, st, c, rules)
	flush(t, e) // the first start
	at := c.Advance(25 * time.Hour)
	e.DeviceSeen(Sighting{Device: laptop, At: at})
	c.Advance(2 * time.Minute)
	flush(t, e)
	e.DeviceSeen(Sighting{Device: tablet.withoutRandom(), At: c.Now()})
	// crash: the engine is abandoned with the tablet held

	e2 := newTestEngine(t, st, c, rules)
	if got, want := e2.FirstStart(), t0; !got.Equal(want) {
		t.Errorf("first start after a restart = %v, want %v", got, want)
	}
	e2.DeviceSeen(Sighting{Device: laptop, At: c.Now()})
	e2.DeviceSeen(Sighting{Device: tablet.withoutRandom(), At: c.Now()})
	if err := e2.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := st.stored()
	want := []string{idOf(NewDevice, laptop.ID), idOf(NewDevice, tablet.ID)}
	var ids []string
	for _, a := range got {
		ids = append(ids, a.ID)
	}
	if diff := cmp.Diff(want, ids); diff != "" {
		t.Errorf("alert ids (-want +got)\n%s", diff)
	}
}

func (d Device) withoutRandom() Device {
	d.Randomized = false
	return d
}

// TestQueueFull: past MaxQueue changes an input is ignored and counted,
// and decided again once the queue was written.
func TestQueueFull(t *testing.T) {
	st := newFakeStore()
	c := &clock{t: t0}
	e := newTestEngine(t, st, c, deviceRules())
	st.fail = errDown
	for i := range MaxQueue {
		e.DeviceSeen(Sighting{Device: Device{ID: "ip:10.0." + strconv.Itoa(i/250) + "." + strconv.Itoa(i%250)}, At: t0})
	}
	if e.Ignored() == 0 {
		t.Fatal("nothing ignored with the queue full")
	}
	if err := e.Flush(context.Background()); err == nil {
		t.Fatal("flush into a failing store succeeded")
	}
	st.fail = nil
	flush(t, e)
	e.DeviceSeen(Sighting{Device: laptop, At: t0})
	flush(t, e)
	if !st.has(MemDevice, laptop.ID) || !st.has(MemDevice, "ip:10.0.0.0") {
		t.Error("devices queued while the store failed, or after, were not written")
	}
}

// TestNewDeviceMerged: a device first met by its address alone ("ip:")
// whose MAC the registry learns within the delay is one new device,
// alerted once under its MAC with what was gathered before; merged into
// a device already known it is no alert at all; merged after its alert
// went out, nothing more is raised.
func TestNewDeviceMerged(t *testing.T) {
	byAddr := Device{ID: "ip:10.0.0.7", Addr: netip.MustParseAddr("10.0.0.7")}
	tests := []struct {
		name      string
		known     bool          // the laptop was seen during the learning period
		merge     time.Duration // when the registry merges, after the first sighting
		seenAfter bool          // the device is seen (by its MAC) after the merge
		want      []string
		dests     []netip.Addr
	}{
		{name: "merged within the delay", merge: 10 * time.Second, seenAfter: true,
			want: []string{"new_device: New device on the LAN: aa:bb:cc:dd:ee:01"}, dests: []netip.Addr{rem1, rem2}},
		{name: "merged within the delay, not seen since", merge: 10 * time.Second,
			want: []string{"new_device: New device on the LAN: aa:bb:cc:dd:ee:01"}, dests: []netip.Addr{rem1, rem2}},
		{name: "merged into a known device", known: true, merge: 10 * time.Second, seenAfter: true},
		{name: "merged after the alert", merge: 2 * time.Minute, seenAfter: true,
			want: []string{"new_device: New device on the LAN: ip:10.0.0.7"}, dests: []netip.Addr{rem1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rules := deviceRules()
			st := newFakeStore()
			c := &clock{t: t0}
			e := newTestEngine(t, st, c, rules)
			end := t0.Add(rules.LearningPeriod)
			if tt.known {
				e.DeviceSeen(Sighting{Device: laptop, At: end.Add(-time.Hour)})
			}
			first := end.Add(time.Hour)
			c.t = first
			e.DeviceSeen(Sighting{Device: byAddr, At: first})
			e.Contacted(Contact{Device: byAddr.ID, Remote: rem1, At: first})
			c.t = first.Add(tt.merge)
			flush(t, e)
			e.Merged(byAddr.ID, laptop, c.t)
			if tt.seenAfter {
				e.DeviceSeen(Sighting{Device: laptop, At: c.t})
			}
			e.Contacted(Contact{Device: laptop.ID, Remote: rem2, At: c.t})
			c.Advance(time.Hour)
			flush(t, e)
			got := st.stored()
			if diff := cmp.Diff(tt.want, titles(got), alertCmp...); diff != "" {
				t.Errorf("alerts (-want +got)\n%s", diff)
			}
			if len(got) == 1 {
				if !got[0].At.Equal(first) {
					t.Errorf("alert at %v, want the first sighting %v", got[0].At, first)
				}
				if diff := cmp.Diff(tt.dests, got[0].Device.Destinations, alertCmp...); diff != "" {
					t.Errorf("destinations (-want +got)\n%s", diff)
				}
				if got[0].Device.ID == laptop.ID && got[0].Device.MAC != laptop.MAC {
					t.Errorf("the merged device's alert has MAC %q, want %q", got[0].Device.MAC, laptop.MAC)
				}
			}
			if !st.has(MemDevice, byAddr.ID) || !st.has(MemDevice, laptop.ID) {
				t.Errorf("both ids must be remembered")
			}
		})
	}
}
