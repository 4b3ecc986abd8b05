package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/netmon-dev/netmon/pkg/alert"
	"github.com/netmon-dev/netmon/pkg/config"
	"github.com/netmon-dev/netmon/pkg/store"
)

// TestAlertsList writes alerts into a record as the engine would and
// lists them as a table and as JSON.
func TestAlertsList(t *testing.T) {
	ctx := context.Background()
	cfg := testConfig(t)
	rec, err := store.OpenRecord(ctx, cfg.DBPath)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 25, 17, 0, 0, 0, time.Local)
	d := alert.Device{ID: "aa:bb:cc:dd:ee:02", Name: "tv\r\nX: y"}
	err = rec.Save(ctx, at, alert.Changes{Alerts: []alert.Outgoing{
		{Alert: alert.Alert{ID: "a1", Kind: alert.NewDevice, At: at, Title: "New device on the LAN: " + d.Name, Device: &d}, Sinks: []string{"hook", "log"}},
		{Alert: alert.Alert{ID: "a2", Kind: alert.Quota, At: at.Add(time.Minute), Title: "Quota lan-month: The LAN used 80% of 500 GB"}},
	}})
	if err == nil {
		err = rec.Delivered(ctx, "a1", "log", at.Add(time.Second))
	}
	if err == nil {
		err = rec.Retry(ctx, "a1", "hook", at.Add(time.Second), at.Add(11*time.Second), "answered 503 Service Unavailable")
	}
	rec.Close()
	if err != nil {
		t.Fatal(err)
	}

	var table bytes.Buffer
	if err := runAlerts(ctx, cfg, alertsOptions{output: "table", limit: 10}, &table); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"2026-11-25 17:01:00", "Quota lan-month", "(recorded only: no sink)", "New device on the LAN: tv  X: y",
		"hook: pending (1 attempts, next 17:00:11):", "log: delivered 17:00:01"} {
		if !strings.Contains(table.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, table.String())
		}
	}
	var out bytes.Buffer
	if err := runAlerts(ctx, cfg, alertsOptions{output: "json", limit: 1}, &out); err != nil {
		t.Fatal(err)
	}
	var entries []alert.Entry
	if err := json.Unmarshal(out.Bytes(), &entries); err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].ID != "a2" || entries[0].Deliveries == nil {
		t.Errorf("json --limit 1: %s", out.String())
	}

	missing := testConfig(t)
	if err := runAlerts(ctx, missing, alertsOptions{output: "table", limit: 10}, &out); err == nil {
		t.Error("a missing record listed no error")
	}
	empty := testConfig(t)
	if r, err := store.OpenRecord(ctx, empty.DBPath); err != nil {
		t.Fatal(err)
	} else {
		r.Close()
	}
	out.Reset()
	if err := runAlerts(ctx, empty, alertsOptions{output: "json", limit: 10}, &out); err != nil || out.String() != "[]\n" {
		t.Errorf("no alerts as JSON: %q, %v; want []", out.String(), err)
	}
}

func TestAlertsTest(t *testing.T) {
	ctx := context.Background()
	h := newHook(t, "k")
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusBadGateway) }))
	defer down.Close()
	cfg := config.Default()
	cfg.Alerts.Sinks = []config.AlertSink{
		{Name: "hook", Type: "webhook", URL: h.URL, Secret: "k"},
		{Name: "down", Type: "webhook", URL: down.URL},
		{Name: "log", Type: "log"},
	}
	var out, logs bytes.Buffer
	if err := runAlertsTest(ctx, cfg, "hook", time.Now(), &out, &logs); err != nil {
		t.Fatal(err)
	}
	got, _, badSig := h.received()
	if len(got) != 1 || got[0].Kind != alert.Test || badSig != 0 || !strings.Contains(out.String(), "sent test alert "+got[0].ID+" through hook") {
		t.Errorf("hook got %v (%d bad signatures); printed %q", got, badSig, out.String())
	}
	if err := runAlertsTest(ctx, cfg, "log", time.Now(), &out, &logs); err != nil || !strings.Contains(logs.String(), "kind=test") {
		t.Errorf("log sink: %v, logged %q", err, logs.String())
	}
	err := runAlertsTest(ctx, cfg, "down", time.Now(), &out, &logs)
	if err == nil || !strings.Contains(err.Error(), "answered 502") {
		t.Errorf("a sink answering 502: %v", err)
	}
	var ue usageError
	if err := runAlertsTest(ctx, cfg, "phone", time.Now(), &out, &logs); !errors.As(err, &ue) || !strings.Contains(err.Error(), "sinks: hook, down, log") {
		t.Errorf("an unknown sink: %v, want a usage error listing the sinks", err)
	}
}

func TestDeliveryText(t *testing.T) {
	got := deliveryText([]alert.Delivery{
		{Sink: "phone", State: alert.FoldedIn, FoldedInto: "0123456789abcdef"},
		{Sink: "hook", State: alert.Failed, Attempts: 1, Error: "answered 400\nBad Request"},
		{Sink: "log", State: alert.Pending},
	})
	want := "hook: failed: answered 400 Bad Request\nlog: pending\nphone: folded into 01234567"
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got)\n%s", diff)
	}
}
