package rates

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestSparkline: a tick per cycle at one cycle a second, one a second at
// faster cycles (their growth summed), at most SparkSpan back, and only
// those after Query.Since.
func TestSparkline(t *testing.T) {
	f := newFeeder(0)
	a := dl
	f.read(t, read{flows: []flowAt{a}})
	// Four cycles half a second apart, 500 bytes down each: ticks at 1 s
	// and 2 s, each of 1000 bytes over its second.
	for range 4 {
		a.down += 500
		f.read(t, read{after: 500 * time.Millisecond, flows: []flowAt{a}})
	}
	// Then a cycle a second, 3000 bytes each.
	for range 2 {
		a.down += 3000
		f.read(t, read{after: time.Second, flows: []flowAt{a}})
	}
	now := f.tr.Now(Query{})
	wantTicks := []time.Time{t0.Add(time.Second), t0.Add(2 * time.Second), t0.Add(3 * time.Second), t0.Add(4 * time.Second)}
	if diff := cmp.Diff(wantTicks, now.Ticks); diff != "" {
		t.Errorf("ticks (-want +got):\n%s", diff)
	}
	wantSpark := []Rate{{Down: 1000}, {Down: 1000}, {Down: 3000}, {Down: 3000}}
	if diff := cmp.Diff(wantSpark, now.TotalSpark, cmpOpts); diff != "" {
		t.Errorf("total spark (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(wantSpark, now.Devices[0].Spark, cmpOpts); diff != "" {
		t.Errorf("device spark (-want +got):\n%s", diff)
	}

	since := f.tr.Now(Query{Since: t0.Add(2 * time.Second)})
	if diff := cmp.Diff(wantTicks[2:], since.Ticks); diff != "" {
		t.Errorf("ticks since 2 s (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(wantSpark[2:], since.Devices[0].Spark, cmpOpts); diff != "" {
		t.Errorf("device spark since 2 s (-want +got):\n%s", diff)
	}

	// Six more minutes of one cycle a second: only the last five are kept.
	for range 360 {
		a.up++
		f.read(t, read{after: time.Second, flows: []flowAt{a}})
	}
	now = f.tr.Now(Query{})
	if n := len(now.Ticks); n != 301 {
		t.Errorf("%d ticks kept, want 301 (five minutes, both ends)", n)
	}
	if got, want := now.Ticks[0], f.now.Add(-SparkSpan); !got.Equal(want) {
		t.Errorf("oldest tick %s, want %s", got, want)
	}
	if len(now.TotalSpark) != len(now.Ticks) || len(now.Devices[0].Spark) != len(now.Ticks) {
		t.Errorf("sparklines of %d and %d points for %d ticks", len(now.TotalSpark), len(now.Devices[0].Spark), len(now.Ticks))
	}
}

// TestDeviceLifetime: a device stays in the Now view for SparkSpan after
// its last change, at a known zero, and is then reported gone.
func TestDeviceLifetime(t *testing.T) {
	f := newFeeder(0)
	a := dl
	f.read(t, read{flows: []flowAt{a}})
	a.down += 1000
	f.read(t, read{after: time.Second, flows: []flowAt{a}})
	if got := f.tr.Changes().Devices; len(got) != 1 || got[0].ID != "ip:10.0.0.5" {
		t.Fatalf("device changes %+v, want the one device", got)
	}
	f.read(t, read{after: time.Second}) // the flow ends
	var gone []string
	for range 400 {
		f.read(t, read{after: time.Second})
		gone = append(gone, f.tr.Changes().GoneDevices...)
		if len(gone) > 0 {
			break
		}
	}
	if diff := cmp.Diff([]string{"ip:10.0.0.5"}, gone); diff != "" {
		t.Errorf("gone (-want +got):\n%s", diff)
	}
	if d := f.now.Sub(t0.Add(2 * time.Second)); d <= SparkSpan || d > SparkSpan+time.Second {
		t.Errorf("gone %s after its last change, want just over %s", d, SparkSpan)
	}
	if n := len(f.tr.Now(Query{}).Devices); n != 0 {
		t.Errorf("%d devices left", n)
	}
}
