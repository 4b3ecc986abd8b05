package main

import (
	"bytes"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestLoadCommands(t *testing.T) {
	src, err := os.ReadFile("../../fixtures/conntrack/small_mixed.txt")
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	n, err := loadCommands(bytes.NewReader(src), &out)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if n != len(lines) {
		t.Errorf("n = %d, %d lines written", n, len(lines))
	}
	// small_mixed holds 13 TCP and 11 UDP entries (IPv4 and IPv6).
	if n != 24 {
		t.Errorf("%d commands, want 24 (every TCP and UDP entry)", n)
	}
	want := "-I -s 10.0.0.5 -d 203.0.113.80 -p tcp --sport 58337 --dport 80 --state ESTABLISHED -t 600"
	if !strings.Contains(out.String(), want+"\n") {
		t.Errorf("no %q in\n%s", want, out.String())
	}
	for _, l := range lines {
		if strings.Contains(l, "icmp") || strings.Contains(l, "gre") {
			t.Errorf("non-TCP/UDP command: %s", l)
		}
	}
}

func TestLoadCommandsRefuses(t *testing.T) {
	for _, tc := range []struct{ name, in string }{
		{"only icmp", "ipv4     2 icmp     1 29 src=10.0.0.5 dst=203.0.113.80 type=8 code=0 id=7 src=203.0.113.80 dst=203.0.113.1 type=0 code=0 id=7 mark=0 use=1\n"},
		{"malformed", "ipv4     2 tcp      6 x\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := loadCommands(strings.NewReader(tc.in), &bytes.Buffer{}); err == nil {
				t.Error("no error")
			}
		})
	}
}

func TestLabRows(t *testing.T) {
	ct := Run{Wall: 330 * time.Millisecond, MaxRSS: 3 << 20}
	nm := Run{Wall: 400 * time.Millisecond, MaxRSS: 14 << 20}
	rows := labRows(ct, nm, 300*time.Millisecond, 380*time.Millisecond, 100_000, 5)
	got := []string{rows[0].Netmon, rows[1].Ratio}
	want := []string{"330 ms (CPU 300 ms), 3.30 µs/entry", "netmon adds 70 ms wall (21%), 80 ms CPU (27%)"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestTrimNL(t *testing.T) {
	if got := string(trimNL([]byte("100\r\n\n"))); got != "100" {
		t.Errorf("= %q", got)
	}
}
