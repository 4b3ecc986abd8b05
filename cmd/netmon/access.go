package main

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/netip"
	"os"

	"golang.org/x/crypto/bcrypt"

	"github.com/netmon-dev/netmon/pkg/config"
	"github.com/netmon-dev/netmon/pkg/web"
)

// webAccess reads who may read the dashboard from cfg: the Host names,
// allow_from, and the password and token files. A missing file turns its
// part off; a file that exists but cannot be read or holds no valid
// hash is an error, never a silently open dashboard. It logs, once, a
// warning when the dashboard listens beyond loopback without a login.
func webAccess(cfg config.Config, logger *slog.Logger) (*web.Access, error) {
	prefixes, err := cfg.AllowFromPrefixes()
	if err != nil {
		return nil, err
	}
	a := &web.Access{Bind: cfg.Bind, AllowedHosts: cfg.AllowedHosts, AllowFrom: prefixes}
	hash, err := readSecret("password_file", cfg.PasswordFile)
	if err != nil {
		return nil, err
	}
	if hash != nil {
		if _, err := bcrypt.Cost(hash); err != nil {
			return nil, configError{&config.FieldError{Key: "password_file", Value: cfg.PasswordFile, Reason: "holds no bcrypt hash; write it with 'netmon passwd'"}}
		}
	}
	a.PasswordHash = hash
	tok, err := readSecret("api_token_file", cfg.APITokenFile)
	if err != nil {
		return nil, err
	}
	if tok != nil && len(tok) < web.MinAPITokenLen {
		return nil, configError{&config.FieldError{Key: "api_token_file", Value: cfg.APITokenFile, Reason: fmt.Sprintf("holds a token shorter than %d characters; make one with 'netmon passwd --api-token'", web.MinAPITokenLen)}}
	}
	a.APIToken = string(tok)
	switch {
	case hash == nil && !loopbackOnly(cfg.Bind):
		logger.Warn("the dashboard listens beyond this machine without a login: anyone who reaches "+cfg.Bind+
			" sees every device's connections; run 'netmon passwd' to set a password, limit clients with allow_from, and keep the port off the WAN",
			"bind", cfg.Bind, "password_file", cfg.PasswordFile)
	case hash != nil:
		logger.Info("login on", "password_file", cfg.PasswordFile, "api_token", a.APIToken != "")
	}
	if hash == nil && a.APIToken != "" {
		logger.Warn("api_token_file is set but the login is off, so the token is not needed: set a password with 'netmon passwd'", "api_token_file", cfg.APITokenFile)
	}
	return a, nil
}

// readSecret reads a one-line secret file; nil when path is empty or the
// file does not exist.
func readSecret(key, path string) ([]byte, error) {
	if path == "" {
		return nil, nil
	}
	b, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, nil
	case err != nil:
		return nil, configError{&config.FieldError{Key: key, Value: path, Reason: "cannot be read: " + statReason(err)}}
	}
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return nil, configError{&config.FieldError{Key: key, Value: path, Reason: "is empty; delete it to turn the login off, or run 'netmon passwd'"}}
	}
	return b, nil
}

// loopbackOnly reports whether addr listens on loopback only.
func loopbackOnly(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.IsLoopback()
}
