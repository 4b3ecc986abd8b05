package main

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
)

func TestNamesDNSLog(t *testing.T) {
	const log = "../../fixtures/names/dnsmasq-lab.log"
	tests := []struct {
		name string
		want []string
		fail bool
	}{
		{"the lab's real pairings", []string{"10.0.3.114=203.0.113.82=www.lab.test", "fd00:3::112=2001:db8::81=video.lab.test"}, false},
		{"a name nobody asked", []string{"10.0.3.114=203.0.113.82=cdn.lab.test"}, true},
		{"a client that did not ask", []string{"10.0.3.134=203.0.113.81=video.lab.test"}, true},
	}
	for _, tc := range tests {
		args := []string{"names-dnslog", "-file", log}
		for _, w := range tc.want {
			args = append(args, "-want", w)
		}
		var out, errb bytes.Buffer
		err := run(context.Background(), args, &out, &errb)
		if tc.fail != errors.Is(err, errProblems) || !tc.fail && err != nil {
			t.Errorf("%s: run = %v (stderr %q), want failure %v", tc.name, err, errb.String(), tc.fail)
		}
	}
}

func TestNamesUsage(t *testing.T) {
	for _, args := range [][]string{
		{"names-nope"},
		{"names-dnslog", "-file", "../../fixtures/names/dnsmasq-lab.log", "-want", "no-equals"},
		{"names-devices"},
		{"names-devices", "-client", "bad"},
		{"names-devices", "-client", "zz=name=10.0.0.1"},
		{"names-dnslog", "-file", "/nonexistent"},
	} {
		var out, errb bytes.Buffer
		if err := run(context.Background(), args, &out, &errb); err == nil || errors.Is(err, errProblems) {
			t.Errorf("run(%v) = %v, want a usage or read error", args, err)
		}
	}
	var out, errb bytes.Buffer
	err := run(context.Background(), []string{"names-query"}, &out, &errb)
	if !errors.Is(err, errProblems) || !strings.Contains(errb.String(), "required") {
		t.Errorf("names-query without flags = %v, %q", err, errb.String())
	}
}

func TestParseClient(t *testing.T) {
	c, err := parseClient("BA:48:48:04:35:67=lab-laptop=10.0.3.114,fd00:3::102")
	if err != nil || c.mac.String() != "ba:48:48:04:35:67" || c.name != "lab-laptop" || len(c.addrs) != 2 {
		t.Errorf("parseClient = %+v, %v", c, err)
	}
	if _, err := parseClient("ba:48:48:04:35:67=x=nope"); err == nil {
		t.Error("bad address: nil error")
	}
}
