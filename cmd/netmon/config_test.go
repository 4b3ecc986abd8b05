package main

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/spf13/cobra"
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
	noTestStateDir(t)
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
		{name: "flags under another name and derived ones",
			args: []string{"--interfaces", "eth9,wan0", "--new-host-window", "5m", "--top-rows", "7", "--conntrack-path", "/sbin/conntrack"},
			mutate: func(c *config.Config) {
				c.MonitorInterfaces = []string{"eth9", "wan0"}
				c.NewHostWindow = 5 * time.Minute
				c.TopRows = 7
				c.ConntrackPath = "/sbin/conntrack"
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
			if tt.file != "" {
				want.PasswordFile = filepath.Join(filepath.Dir(tt.file), "passwd")
				want.APITokenFile = filepath.Join(filepath.Dir(tt.file), "api-token")
			}
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
		args []string
		want []string // substrings of the one-line error; FILE is the file's name
	}{
		{name: "negative interval", file: "interval: -1s\n", want: []string{`interval: must be at least 100ms (got "-1s" in FILE)`}},
		{name: "not a duration", file: "interval: soon\n", want: []string{`interval: not a duration (like 1s, 5m, 168h) (got "soon" in FILE)`}},
		{name: "bare number in YAML", file: "interval: 5\n", want: []string{"interval: 5 has no unit; write 5s (in FILE)"}},
		{name: "bare retention in YAML", file: "retention: 7\n", want: []string{"retention: 7 has no unit; write 7s (in FILE)"}},
		{name: "bare conntrack timeout", file: "conntrack_timeout: 10\n", want: []string{"conntrack_timeout: 10 has no unit; write 10s (in FILE)"}},
		{name: "bare number quoted in YAML", file: "new_host_window: \"60\"\n", want: []string{"new_host_window: 60 has no unit; write 60s (in FILE)"}},
		{name: "bare number in env", env: map[string]string{"NETMON_INTERVAL": "5"}, want: []string{"interval: 5 has no unit; write 5s (in NETMON_INTERVAL)"}},
		{name: "too short from env", env: map[string]string{"NETMON_INTERVAL": "5ms"}, want: []string{`interval: must be at least 100ms (got "5ms" in NETMON_INTERVAL)`}},
		{name: "retention under an hour", file: "retention: 30m\n", want: []string{`retention: must be at least 1h0m0s (got "30m0s" in FILE)`}},
		{name: "unknown key", file: "intervall: 1s\n", want: []string{"intervall: is not a setting; did you mean interval? (in FILE)"}},
		{name: "unknown key, nothing near", file: "colour: blue\n", want: []string{"colour: is not a setting (in FILE)"}},
		{name: "unknown key in a block", file: "alerts:\n  learnin_period: 1h\n", want: []string{"alerts.learnin_period: is not a setting; did you mean alerts.learning_period? (in FILE)"}},
		{name: "a key of a block at the top", file: "learning_period: 1h\n", want: []string{"learning_period: is not a setting (in FILE)"}},
		{name: "not YAML", file: "interval: [1s\n", want: []string{"FILE: not YAML: "}},
		{name: "top rows from a flag", args: []string{"--top-rows", "2000000"}, want: []string{`top_rows: must be between 1 and 10000 (got "2000000" in --top-rows)`}},
		{name: "bad cidr from env", env: map[string]string{"NETMON_LOCAL_SUBNETS": "10.0.0.0/33"}, want: []string{`local_subnets: "10.0.0.0/33" is not a CIDR prefix (like 10.0.0.0/24) (in NETMON_LOCAL_SUBNETS)`}},
		{name: "catch-all", env: map[string]string{"NETMON_LOCAL_SUBNETS": "0.0.0.0/0"}, want: []string{"local_subnets", "catch-all"}},
		{name: "bad bind", env: map[string]string{"NETMON_BIND": "8080"}, want: []string{"bind", "8080", "NETMON_BIND"}},
		{name: "bad allow_from", file: "allow_from: [lan]\n", want: []string{`allow_from: "lan" is not a CIDR prefix (like 10.0.0.0/24) (in FILE)`}},
		{name: "bad log format", args: []string{"--log-format", "xml"}, want: []string{`log_format: must be text or json (got "xml" in --log-format)`}},
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
			_, err := loadConfig(testFlags(t, tt.args...), file, "")
			if err == nil {
				t.Fatal("loadConfig accepted it")
			}
			msg := err.Error()
			if strings.Contains(msg, "\n") {
				t.Errorf("error spans lines: %q", msg)
			}
			for _, w := range tt.want {
				if w = strings.ReplaceAll(w, "FILE", file); !strings.Contains(msg, w) {
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
	noTestStateDir(t)
	got, err := loadConfig(testFlags(t), "../../configs/netmon.yaml", "")
	if err != nil {
		t.Fatal(err)
	}
	want := config.Default()
	want.DBPath = "/var/lib/netmon/netmon.db"
	want.PasswordFile = "../../configs/passwd"
	want.APITokenFile = "../../configs/api-token"
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("configs/netmon.yaml (-want +got)\n%s", diff)
	}
}

func TestFlagKey(t *testing.T) {
	keys := keyValues(config.Default())
	tests := []struct {
		flag   string
		want   string
		wantOK bool
	}{
		{flag: "new-host-window", want: "new_host_window", wantOK: true},
		{flag: "interval", want: "interval", wantOK: true},
		{flag: "db", want: "db_path", wantOK: true},
		{flag: "interfaces", want: "monitor_interfaces", wantOK: true},
		{flag: "top", want: "top"},
		{flag: "config", want: "config"},
	}
	for _, tt := range tests {
		t.Run(tt.flag, func(t *testing.T) {
			got, ok := flagKey(tt.flag, keys)
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("flagKey(%q) = %q, %v; want %q, %v", tt.flag, got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

// localFlags are the flags that set no configuration key, with the
// commands that may have them ("*": every command).
var localFlags = map[string][]string{
	"help":            {"*"},      // cobra's, on every command
	"config":          {"*"},      // names the file the other settings come from
	"version":         {"netmon"}, // cobra's, where Version is set
	"top":             {"netmon print-outbound"},
	"rate":            {"netmon print-outbound"},
	"numeric":         {"netmon print-outbound"},
	"iterations":      {"netmon top"},
	"output":          {"netmon print-outbound", "netmon report", "netmon alerts", "netmon devices"},
	"limit":           {"netmon alerts"},
	"period":          {"netmon report"},
	"from":            {"netmon report"},
	"to":              {"netmon report"},
	"by":              {"netmon report"},
	"stdin":           {"netmon passwd"},
	"api-token":       {"netmon passwd"},
	"no-descriptions": {"netmon completion bash", "netmon completion fish", "netmon completion powershell", "netmon completion zsh"},
}

// TestFlagsMapToConfig walks the real command tree, with the help and
// completion commands and the help and version flags cobra adds when it
// runs, and checks that every flag either sets a key of config.Config or
// is listed in localFlags for its command. It also fails on entries of
// localFlags and flagKeyExceptions that no command uses any more.
func TestFlagsMapToConfig(t *testing.T) {
	root := newRootCmd(buildInfo{version: "test", commit: "none", date: "never"})
	root.InitDefaultHelpCmd()
	root.InitDefaultCompletionCmd()
	keys := keyValues(config.Default())
	seen := map[string]bool{}
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		c.InitDefaultHelpFlag()
		c.InitDefaultVersionFlag()
		check := func(f *pflag.Flag) {
			seen[f.Name] = true
			key, isKey := flagKey(f.Name, keys)
			cmds, isLocal := localFlags[f.Name]
			allowed := isLocal && (slices.Contains(cmds, "*") || slices.Contains(cmds, c.CommandPath()))
			switch {
			case isKey && isLocal:
				t.Errorf("%s --%s: listed as command-local but sets config key %s", c.CommandPath(), f.Name, key)
			case !isKey && !allowed:
				t.Errorf("%s --%s: sets no config key (%s is none) and is not in localFlags for this command; add the key to config.Config, an entry to flagKeyExceptions or to localFlags", c.CommandPath(), f.Name, key)
			}
		}
		c.LocalFlags().VisitAll(check)
		c.InheritedFlags().VisitAll(check)
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
	for name, key := range flagKeyExceptions {
		if !seen[name] {
			t.Errorf("flagKeyExceptions: no command has --%s", name)
		}
		if _, ok := keys[key]; !ok {
			t.Errorf("flagKeyExceptions: --%s names %s, which is not a key of config.Config", name, key)
		}
	}
	for name := range localFlags {
		if !seen[name] {
			t.Errorf("localFlags: no command has --%s", name)
		}
	}
}

func TestBesideConfig(t *testing.T) {
	tests := []struct {
		path, configFile, want string
	}{
		{"", "", ""},
		{"", "/etc/netmon/netmon.yaml", "/etc/netmon/passwd"},
		{"secret", "/etc/netmon/netmon.yaml", "/etc/netmon/secret"},
		{"/srv/pw", "/etc/netmon/netmon.yaml", "/srv/pw"},
		{"pw", "", "pw"},
	}
	for _, tt := range tests {
		if got := besideConfig(tt.path, tt.configFile, "passwd"); got != tt.want {
			t.Errorf("besideConfig(%q, %q) = %q, want %q", tt.path, tt.configFile, got, tt.want)
		}
	}
}

func TestNearestKey(t *testing.T) {
	keys := keyValues(config.Default())
	tests := map[string]string{
		"intervall":     "interval",
		"db":            "",
		"dbpath":        "db_path",
		"local_subnet":  "local_subnets",
		"loglevel":      "log_level",
		"password-file": "password_file",
		"colour":        "",
	}
	for in, want := range tests {
		if got := nearestKey(in, keys); got != want {
			t.Errorf("nearestKey(%q) = %q, want %q", in, got, want)
		}
	}
}
