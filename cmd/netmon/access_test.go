package main

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/netmon-dev/netmon/pkg/config"
)

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

func TestWebAccess(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	hash := write("passwd", "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy\n")
	empty := write("empty", "\n")
	notHash := write("plain", "hunter22\n")
	token := write("token", "0123456789abcdef0123\n")
	short := write("short", "abc\n")
	unreadable := write("unreadable", "x")
	os.Chmod(unreadable, 0)
	tests := []struct {
		name        string
		edit        func(*config.Config)
		wantErr     string // "" for none
		wantLogin   bool
		wantWarning bool
	}{
		{name: "no files, loopback", edit: func(c *config.Config) {}},
		{name: "no files, LAN bind warns", edit: func(c *config.Config) { c.Bind = "10.0.0.1:8080" }, wantWarning: true},
		{name: "no files, wildcard bind warns", edit: func(c *config.Config) { c.Bind = ":8080" }, wantWarning: true},
		{name: "missing file: login off", edit: func(c *config.Config) { c.PasswordFile = filepath.Join(dir, "absent") }},
		{name: "password", edit: func(c *config.Config) { c.Bind = "10.0.0.1:8080"; c.PasswordFile = hash; c.APITokenFile = token }, wantLogin: true},
		{name: "empty password file", edit: func(c *config.Config) { c.PasswordFile = empty }, wantErr: "password_file: is empty"},
		{name: "not a hash", edit: func(c *config.Config) { c.PasswordFile = notHash }, wantErr: "password_file: holds no bcrypt hash"},
		{name: "short token", edit: func(c *config.Config) { c.PasswordFile = hash; c.APITokenFile = short }, wantErr: "api_token_file: holds a token shorter than 16"},
		{name: "allow_from", edit: func(c *config.Config) { c.AllowFrom = []string{"10.0.0.0/24"} }},
	}
	if os.Geteuid() != 0 { // root reads any file
		tests = append(tests, struct {
			name        string
			edit        func(*config.Config)
			wantErr     string
			wantLogin   bool
			wantWarning bool
		}{name: "unreadable", edit: func(c *config.Config) { c.PasswordFile = unreadable }, wantErr: "password_file: cannot be read: permission denied"})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := config.Default()
			tt.edit(&cfg)
			var logs bytes.Buffer
			a, err := webAccess(cfg, slog.New(slog.NewTextHandler(&logs, nil)))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("webAccess = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := a.PasswordHash != nil; got != tt.wantLogin {
				t.Errorf("login %v, want %v", got, tt.wantLogin)
			}
			if got := strings.Contains(logs.String(), "without a login"); got != tt.wantWarning {
				t.Errorf("warning %v, want %v:\n%s", got, tt.wantWarning, logs.String())
			}
			if n := strings.Count(logs.String(), "level=WARN"); n > 1 {
				t.Errorf("%d warnings, want at most one", n)
			}
			if a.Bind != cfg.Bind {
				t.Errorf("Bind %q", a.Bind)
			}
		})
	}
}
