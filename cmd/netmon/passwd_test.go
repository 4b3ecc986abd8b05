package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/netmon-dev/netmon/pkg/config"
)

func TestRunPasswd(t *testing.T) {
	tests := []struct {
		name    string
		answers []string
		wantErr string // "" for success
	}{
		{name: "set", answers: []string{"correct horse", "correct horse"}},
		{name: "differ", answers: []string{"correct horse", "correct house"}, wantErr: "differ"},
		{name: "short", answers: []string{"short", "short"}, wantErr: "shorter than 8"},
		{name: "long", answers: []string{strings.Repeat("p", 73), strings.Repeat("p", 73)}, wantErr: "longer than 72"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := config.Default()
			cfg.PasswordFile = filepath.Join(t.TempDir(), "passwd")
			i := 0
			read := func(string) (string, error) { i++; return tt.answers[i-1], nil }
			var out bytes.Buffer
			err := runPasswd(cfg, read, &out)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("runPasswd = %v, want %q", err, tt.wantErr)
				}
				if _, err := os.Stat(cfg.PasswordFile); !os.IsNotExist(err) {
					t.Errorf("a refused password left a file: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			hash, err := os.ReadFile(cfg.PasswordFile)
			if err != nil {
				t.Fatal(err)
			}
			if err := bcrypt.CompareHashAndPassword(bytes.TrimSpace(hash), []byte(tt.answers[0])); err != nil {
				t.Errorf("the file does not hold the password's hash: %v", err)
			}
			if cost, _ := bcrypt.Cost(bytes.TrimSpace(hash)); cost != bcrypt.DefaultCost {
				t.Errorf("cost %d, want %d", cost, bcrypt.DefaultCost)
			}
			st, err := os.Stat(cfg.PasswordFile)
			if err != nil || st.Mode().Perm() != secretMode {
				t.Errorf("mode %v, want %v (%v)", st.Mode().Perm(), os.FileMode(secretMode), err)
			}
			if !strings.Contains(out.String(), cfg.PasswordFile) {
				t.Errorf("output %q does not name the file", out.String())
			}
		})
	}
}

func TestRunPasswdNoFile(t *testing.T) {
	err := runPasswd(config.Default(), func(string) (string, error) { return "correct horse", nil }, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "password_file") {
		t.Errorf("runPasswd without a file = %v", err)
	}
}

func TestReadPasswordLine(t *testing.T) {
	read := readPasswordLine(strings.NewReader("a long passphrase\r\nignored\n"))
	a, err1 := read("1")
	b, err2 := read("2")
	if a != "a long passphrase" || b != a || err1 != nil || err2 != nil {
		t.Errorf("read %q, %q (%v, %v)", a, b, err1, err2)
	}
	if _, err := readPasswordLine(strings.NewReader(""))("1"); err == nil {
		t.Error("empty input read as a password")
	}
}

// TestPasswdCommand runs `netmon passwd --stdin` and `--api-token`
// through the command tree, then checks that the files make a web.Access
// with the login on.
func TestPasswdCommand(t *testing.T) {
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "netmon.yaml")
	if err := os.WriteFile(cfgFile, []byte("bind: 10.0.0.1:8080\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	run := func(stdin string, args ...string) string {
		t.Helper()
		cmd := newRootCmd(buildInfo{"test", "none", "never"})
		var stdout, stderr bytes.Buffer
		cmd.SetIn(strings.NewReader(stdin))
		cmd.SetOut(&stdout)
		cmd.SetErr(&stderr)
		cmd.SetArgs(append([]string{"--config", cfgFile}, args...))
		if code := exitCode(&stderr, cmd.Execute()); code != 0 {
			t.Fatalf("netmon %v: exit %d: %s", args, code, stderr.String())
		}
		return stdout.String()
	}
	run("correct horse battery\n", "passwd", "--stdin")
	tok := strings.TrimSpace(run("", "passwd", "--api-token"))
	if len(tok) != 43 {
		t.Errorf("token %q, want 43 characters", tok)
	}
	cfg, err := loadConfig(testFlags(t), cfgFile, "")
	if err != nil {
		t.Fatal(err)
	}
	a, err := webAccess(cfg, discardLogger())
	if err != nil {
		t.Fatal(err)
	}
	if bcrypt.CompareHashAndPassword(a.PasswordHash, []byte("correct horse battery")) != nil || a.APIToken != tok {
		t.Errorf("access from the written files: hash %q, token %q", a.PasswordHash, a.APIToken)
	}
}
