package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/netmon-dev/netmon/pkg/config"
	"github.com/netmon-dev/netmon/pkg/device"
	"github.com/netmon-dev/netmon/pkg/store"
)

// TestDevices: `netmon devices` lists what a commit recorded, as a table
// that hostile names cannot break and as the JSON issue 13 names.
func TestDevices(t *testing.T) {
	ctx := context.Background()
	cfg := config.Default()
	cfg.DBPath = filepath.Join(t.TempDir(), "netmon.db")
	cfg.Timezone = "UTC"
	rec, err := store.OpenRecord(ctx, cfg.DBPath)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 25, 17, 0, 0, 0, time.UTC)
	mac, _ := device.ParseMAC("00:1b:21:3a:4b:5c")
	phone, _ := device.ParseMAC("da:a1:19:6e:0f:42")
	a := netip.MustParseAddr
	hostile := "<b>tv</b>\x1b[31m\n" + strings.Repeat("x", 10_000)
	ds := []device.Device{
		{ID: device.MACID(mac), MAC: mac, Addrs: []netip.Addr{a("10.0.0.5"), a("fd00::5")}, Name: "anna-laptop", NameSource: device.SourceLease,
			Vendor: "Intel Corporate", FirstSeen: at, LastSeen: at.Add(time.Hour)},
		{ID: device.MACID(phone), MAC: phone, Randomized: true, Addrs: []netip.Addr{a("10.0.0.6")}, Name: hostile, NameSource: device.SourcePTR,
			FirstSeen: at, LastSeen: at},
		{ID: "ip:10.0.0.9", Addrs: []netip.Addr{a("10.0.0.9")}, FirstSeen: at, LastSeen: at},
	}
	if _, err := rec.Commit(ctx, at.Add(time.Hour), nil, store.CommitInfo{Devices: ds}); err != nil {
		t.Fatal(err)
	}
	rec.Close()

	var out bytes.Buffer
	if err := runDevices(ctx, cfg, "json", &out); err != nil {
		t.Fatal(err)
	}
	var got []map[string]any
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	want := []map[string]any{
		{"device": "00:1b:21:3a:4b:5c", "mac": "00:1b:21:3a:4b:5c", "addresses": []any{"10.0.0.5", "fd00::5"}, "name": "anna-laptop",
			"name_source": "lease", "vendor": "Intel Corporate", "randomized": false,
			"first_seen_at": "2026-11-25T17:00:00.000Z", "last_seen_at": "2026-11-25T18:00:00.000Z"},
		{"device": "da:a1:19:6e:0f:42", "mac": "da:a1:19:6e:0f:42", "addresses": []any{"10.0.0.6"}, "name": hostile,
			"name_source": "ptr", "vendor": "", "randomized": true,
			"first_seen_at": "2026-11-25T17:00:00.000Z", "last_seen_at": "2026-11-25T17:00:00.000Z"},
		{"device": "ip:10.0.0.9", "mac": nil, "addresses": []any{"10.0.0.9"}, "name": "",
			"name_source": "", "vendor": "", "randomized": false,
			"first_seen_at": "2026-11-25T17:00:00.000Z", "last_seen_at": "2026-11-25T17:00:00.000Z"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("devices JSON (-want +got)\n%s", diff)
	}

	out.Reset()
	if err := runDevices(ctx, cfg, "table", &out); err != nil {
		t.Fatal(err)
	}
	table := out.String()
	lines := strings.Split(strings.TrimSpace(table), "\n")
	for _, l := range lines[:len(lines)-1] {
		if n := utf8.RuneCountInString(l); n > 250 {
			t.Errorf("a table line of %d characters: the 10 KB name is not shortened", n)
		}
		if strings.ContainsAny(l, "\x1b\r") {
			t.Errorf("a control character reached the table: %q", l)
		}
	}
	for _, s := range []string{"anna-laptop", "lease", "Intel Corporate", "10.0.0.5 fd00::5", "da:a1:19:6e:0f:42 (random)", "ip:10.0.0.9", "2026-11-25 17:00", "3 devices"} {
		if !strings.Contains(table, s) {
			t.Errorf("the table lacks %q:\n%s", s, table)
		}
	}
	if len(lines) != 3+3+2 { // top border, header, separator; 3 rows; bottom border, the count
		t.Errorf("%d lines, want 8 (one per device, none broken by a newline in a name):\n%s", len(lines), table)
	}
}
