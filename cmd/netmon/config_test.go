package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/spf13/pflag"

	"github.com/netmon-dev/netmon/pkg/config"
)

// testFlags returns the flag set of a command that has every config flag.
func testFlags(t *testing.T, args ...string) *pflag.FlagSet {
	t.Helper()
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	addSourceFlags(fs)
	addStoreFlags(fs)
	addLogFlags(fs)
	addServeFlags(fs)
	fs.Duration("interval", config.Default().Interval, "")
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	return fs
}

func writeFile(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "netmon.yaml")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadConfigPrecedence(t *testing.T) {
	file := writeFile(t, "interval: 5s\nretention: 48h\ndb_path: /from/file.db\nlocal_subnets: [192.168.1.0/24]\n")
	tests := []struct {
		name   string
		env    map[string]string
		args   []string
		file   string
		mutate func(*config.Config)
	}{
		{name: "defaults", mutate: func(*config.Config) {}},
		{name: "file", file: file, mutate: func(c *config.Config) {
			c.Interval = 5 * time.Second
			c.Retention = 48 * time.Hour
			c.DBPath = "/from/file.db"
			c.LocalSubnets = []string{"192.168.1.0/24"}
		}},
		{name: "env beats file", file: file,
			env: map[string]string{"NETMON_INTERVAL": "3s", "NETMON_DB": "/from/env.db"},
			mutate: func(c *config.Config) {
				c.Interval = 3 * time.Second
				c.Retention = 48 * time.Hour
				c.DBPath = "/from/env.db"
				c.LocalSubnets = []string{"192.168.1.0/24"}
			}},
		{name: "flag beats env", file: file,
			env:  map[string]string{"NETMON_INTERVAL": "3s", "NETMON_DB_PATH": "/from/env.db"},
			args: []string{"--interval", "2s", "--db", "/from/flag.db", "--local-subnets", "10.1.0.0/16,fd00::/64"},
			mutate: func(c *config.Config) {
				c.Interval = 2 * time.Second
				c.Retention = 48 * time.Hour
				c.DBPath = "/from/flag.db"
				c.LocalSubnets = []string{"10.1.0.0/16", "fd00::/64"}
			}},
		{name: "env lists and aliases",
			env: map[string]string{
				"NETMON_LOCAL_SUBNETS": "10.0.0.0/24,fd00::/64",
				"NETMON_INTERFACES":    "eth0,eth1",
				"CONNTRACK_INPUT_FILE": "fixtures/conntrack/router_extended.txt",
				"NETMON_INGEST":        "false",
			},
			mutate: func(c *config.Config) {
				c.LocalSubnets = []string{"10.0.0.0/24", "fd00::/64"}
				c.MonitorInterfaces = []string{"eth0", "eth1"}
				c.InputFile = "fixtures/conntrack/router_extended.txt"
				c.Ingest = false
			}},
		{name: "canonical env beats alias",
			env:    map[string]string{"NETMON_INPUT_FILE": "a.txt", "CONNTRACK_INPUT_FILE": "b.txt"},
			mutate: func(c *config.Config) { c.InputFile = "a.txt" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			got, err := loadConfig(testFlags(t, tt.args...), tt.file, "")
			if err != nil {
				t.Fatal(err)
			}
			want := config.Default()
			tt.mutate(&want)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("config (-want +got)\n%s", diff)
			}
		})
	}
}

func TestLoadConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		file string // YAML body; "" for no file
		env  map[string]string
		want []string // substrings of the one-line error
	}{
		{name: "negative interval", file: "interval: -1s\n", want: []string{"interval", "-1s"}},
		{name: "not a duration", file: "interval: soon\n", want: []string{"interval", "soon"}},
		{name: "unknown key", file: "intervall: 1s\n", want: []string{"intervall"}},
		{name: "bad cidr from env", env: map[string]string{"NETMON_LOCAL_SUBNETS": "10.0.0.0/33"}, want: []string{"local_subnets", "10.0.0.0/33"}},
		{name: "catch-all", env: map[string]string{"NETMON_LOCAL_SUBNETS": "0.0.0.0/0"}, want: []string{"local_subnets", "catch-all"}},
		{name: "bad bind", env: map[string]string{"NETMON_BIND": "8080"}, want: []string{"bind", "8080"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			file := ""
			if tt.file != "" {
				file = writeFile(t, tt.file)
			}
			_, err := loadConfig(testFlags(t), file, "")
			if err == nil {
				t.Fatal("loadConfig accepted it")
			}
			msg := err.Error()
			if strings.Contains(msg, "\n") {
				t.Errorf("error spans lines: %q", msg)
			}
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not mention %q", msg, w)
				}
			}
		})
	}
}

func TestLoadConfigMissingFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "nope.yaml")
	_, err := loadConfig(testFlags(t), p, "")
	if !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), p) {
		t.Fatalf("err = %v, want a not-exist error naming %s", err, p)
	}
}

func TestLoadConfigFallbackFile(t *testing.T) {
	fallback := writeFile(t, "top_rows: 50\n")
	got, err := loadConfig(testFlags(t), "", fallback)
	if err != nil {
		t.Fatal(err)
	}
	if got.TopRows != 50 {
		t.Errorf("TopRows = %d, want 50 from the fallback file", got.TopRows)
	}
	// A missing fallback is not an error.
	if _, err := loadConfig(testFlags(t), "", filepath.Join(t.TempDir(), "absent.yaml")); err != nil {
		t.Errorf("missing fallback: %v", err)
	}
}

// TestShippedConfig keeps configs/netmon.yaml loadable and in step with
// config.Default: every value but db_path is the default.
func TestShippedConfig(t *testing.T) {
	got, err := loadConfig(testFlags(t), "../../configs/netmon.yaml", "")
	if err != nil {
		t.Fatal(err)
	}
	want := config.Default()
	want.DBPath = "/var/lib/netmon/netmon.db"
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("configs/netmon.yaml (-want +got)\n%s", diff)
	}
}
