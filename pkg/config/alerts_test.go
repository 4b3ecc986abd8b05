package config

import (
	"errors"
	"testing"
	"time"
)

func TestValidateAlerts(t *testing.T) {
	hook := AlertSink{Name: "hook", Type: "webhook", URL: "http://10.0.0.2:9000/x", Secret: "s"}
	phone := AlertSink{Name: "phone", Type: "ntfy", URL: "https://ntfy.sh/t", Token: "tk"}
	quota := QuotaAlert{Device: "lan", Period: "billing", Limit: "500GB"}
	tests := []struct {
		name    string
		mutate  func(*Alerts)
		wantKey string // "" means valid
	}{
		{"every sink type", func(a *Alerts) {
			a.Sinks = []AlertSink{hook, phone, {Name: "log", Type: "log"}, {Name: "mail", Type: "exec", Command: []string{"/usr/local/bin/m", "-x"}, Timeout: time.Minute}}
			a.NewDevice.Sinks = []string{"phone"}
			a.Quotas = []QuotaAlert{quota, {Name: "t", Device: "AA:BB:CC:DD:EE:FF", Period: "day", Limit: "1.5 GiB", Warn: []int{50, 90, 100}, Sinks: []string{"hook", "log"}}}
			a.NewDestination.Allow = []string{"192.0.2.0/24", "2001:db8::/32"}
		}, ""},
		{"negative learning period", func(a *Alerts) { a.LearningPeriod = -time.Second }, "alerts.learning_period"},
		{"bad sink name", func(a *Alerts) { a.Sinks = []AlertSink{{Name: "My Hook", Type: "log"}} }, "alerts.sinks[0].name"},
		{"two sinks, one name", func(a *Alerts) { a.Sinks = []AlertSink{hook, hook} }, "alerts.sinks[1].name"},
		{"unknown sink type", func(a *Alerts) { a.Sinks = []AlertSink{{Name: "x", Type: "email"}} }, "alerts.sinks[0].type"},
		{"webhook without url", func(a *Alerts) { a.Sinks = []AlertSink{{Name: "x", Type: "webhook"}} }, "alerts.sinks[0].url"},
		{"ntfy with a file url", func(a *Alerts) { a.Sinks = []AlertSink{{Name: "x", Type: "ntfy", URL: "file:///etc/passwd"}} }, "alerts.sinks[0].url"},
		{"url with password", func(a *Alerts) { a.Sinks = []AlertSink{{Name: "x", Type: "webhook", URL: "https://u:p@h/"}} }, "alerts.sinks[0].url"},
		{"secret on ntfy", func(a *Alerts) { p := phone; p.Secret = "s"; a.Sinks = []AlertSink{p} }, "alerts.sinks[0].secret"},
		{"exec relative", func(a *Alerts) { a.Sinks = []AlertSink{{Name: "x", Type: "exec", Command: []string{"notify-send"}}} }, "alerts.sinks[0].command"},
		{"exec as a shell line", func(a *Alerts) { a.Sinks = []AlertSink{{Name: "x", Type: "exec"}} }, "alerts.sinks[0].command"},
		{"long timeout", func(a *Alerts) { a.Sinks = []AlertSink{{Name: "x", Type: "log", Timeout: time.Hour}} }, "alerts.sinks[0].timeout"},
		{"negative rate limit", func(a *Alerts) { a.Sinks = []AlertSink{{Name: "x", Type: "log", RateLimit: -1}} }, "alerts.sinks[0].rate_limit"},
		{"rule names an unknown sink", func(a *Alerts) { a.Sinks = []AlertSink{hook}; a.Health.Sinks = []string{"hok"} }, "alerts.health.sinks"},
		{"new device names an unknown sink", func(a *Alerts) { a.NewDevice.Sinks = []string{"x"} }, "alerts.new_device.sinks"},
		{"unknown device", func(a *Alerts) { q := quota; q.Device = "laptop"; a.Quotas = []QuotaAlert{q} }, "alerts.quotas[0].device"},
		{"bad ip device", func(a *Alerts) { q := quota; q.Device = "ip:10.0.0.300"; a.Quotas = []QuotaAlert{q} }, "alerts.quotas[0].device"},
		{"unknown unit", func(a *Alerts) { q := quota; q.Limit = "500 GBs"; a.Quotas = []QuotaAlert{q} }, "alerts.quotas[0].limit"},
		{"no unit", func(a *Alerts) { q := quota; q.Limit = "500"; a.Quotas = []QuotaAlert{q} }, "alerts.quotas[0].limit"},
		{"zero limit", func(a *Alerts) { q := quota; q.Limit = "0MB"; a.Quotas = []QuotaAlert{q} }, "alerts.quotas[0].limit"},
		{"unknown period", func(a *Alerts) { q := quota; q.Period = "month"; a.Quotas = []QuotaAlert{q} }, "alerts.quotas[0].period"},
		{"warn not ascending", func(a *Alerts) { q := quota; q.Warn = []int{100, 80}; a.Quotas = []QuotaAlert{q} }, "alerts.quotas[0].warn"},
		{"two quotas, one name", func(a *Alerts) { a.Quotas = []QuotaAlert{quota, quota} }, "alerts.quotas[1].name"},
		{"quota names an unknown sink", func(a *Alerts) { q := quota; q.Sinks = []string{"x"}; a.Quotas = []QuotaAlert{q} }, "alerts.quotas[0].sinks"},
		{"bad allow", func(a *Alerts) { a.NewDestination.Allow = []string{"192.0.2.1"} }, "alerts.new_destination.allow"},
		{"zero cap", func(a *Alerts) { a.NewDestination.PerDevicePerDay = 0 }, "alerts.new_destination.per_device_per_day"},
		{"zero health threshold", func(a *Alerts) { a.Health.After = 0 }, "alerts.health.after"},
		{"long delay", func(a *Alerts) { a.NewDevice.Delay = 2 * time.Hour }, "alerts.new_device.delay"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Default()
			tt.mutate(&c.Alerts)
			err := c.Validate()
			if tt.wantKey == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Key != tt.wantKey {
				t.Fatalf("Validate() = %v, want an error naming %s", err, tt.wantKey)
			}
		})
	}
}

func TestParseBytes(t *testing.T) {
	tests := []struct {
		in      string
		want    uint64
		wantErr bool
	}{
		{in: "500MB", want: 500_000_000}, {in: "1.5 TiB", want: 1.5 * (1 << 40)}, {in: "80 gb", want: 80_000_000_000},
		{in: "1kB", want: 1000}, {in: "7B", want: 7}, {in: " 2 GiB ", want: 2 << 30},
		{in: "500", wantErr: true}, {in: "GB", wantErr: true}, {in: "5 GBs", wantErr: true}, {in: "-5GB", wantErr: true},
		{in: "1.2.3GB", wantErr: true}, {in: "99999999 PiB", wantErr: true}, {in: "", wantErr: true},
	}
	for _, tt := range tests {
		got, err := ParseBytes(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("ParseBytes(%q) = %d, %v; want %d, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestParseDevice(t *testing.T) {
	tests := []struct{ in, want string }{
		{"lan", "lan"}, {"AA:bb:CC:dd:EE:ff", "aa:bb:cc:dd:ee:ff"}, {"ip:10.0.0.9", "ip:10.0.0.9"},
		{"ip:::ffff:10.0.0.9", "ip:10.0.0.9"}, {"ip:fd00::5", "ip:fd00::5"},
		{"LAN", ""}, {"aa:bb:cc:dd:ee", ""}, {"aa-bb-cc-dd-ee-ff", ""}, {"ip:fe80::1%eth0", ""}, {"laptop", ""}, {"", ""},
	}
	for _, tt := range tests {
		got, err := ParseDevice(tt.in)
		if got != tt.want || (err != nil) != (tt.want == "") {
			t.Errorf("ParseDevice(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}
