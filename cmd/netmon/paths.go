package main

import (
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/spf13/pflag"

	"github.com/netmon-dev/netmon/pkg/config"
)

// checkPaths checks the files the command is about to use, as
// configuration errors naming the key, before any of them is opened: the
// replay file or the conntrack command, and the database. A command is
// checked only for the flags it has (print-outbound opens no database).
func checkPaths(flags *pflag.FlagSet, c config.Config) error {
	has := func(name string) bool { return flags != nil && flags.Lookup(name) != nil }
	fe := func(key, value, reason string) error {
		return &config.FieldError{Key: key, Value: value, Reason: reason, Source: sources{flags: flags}.of(key)}
	}
	switch {
	case has("input-file") && c.InputFile != "":
		if _, err := os.Stat(c.InputFile); err != nil {
			return fe("input_file", c.InputFile, statReason(err))
		}
	case has("conntrack-path"):
		if reason := commandProblem(c.ConntrackPath); reason != "" {
			return fe("conntrack_path", c.ConntrackPath, reason)
		}
	}
	if !has("db") {
		return nil
	}
	st, err := os.Stat(c.DBPath)
	switch {
	case err == nil && st.IsDir():
		return fe("db_path", c.DBPath, "is a directory; name the database file, like "+filepath.Join(c.DBPath, "netmon.db"))
	case err == nil:
		return nil
	case !errors.Is(err, fs.ErrNotExist):
		return fe("db_path", c.DBPath, statReason(err))
	case has("ingest") && !c.Ingest:
		// serve --ingest=false only reads: a mistyped path would be
		// created empty and the dashboard would stay empty for ever.
		return fe("db_path", c.DBPath, "no such database; with ingest false, serve reads the database that ingest-loop writes")
	}
	if dir := filepath.Dir(c.DBPath); dir != "." {
		if st, err := os.Stat(dir); err != nil {
			return fe("db_path", c.DBPath, "directory "+dir+": "+statReason(err))
		} else if !st.IsDir() {
			return fe("db_path", c.DBPath, dir+" is not a directory")
		}
	}
	return nil
}

// commandProblem says why name cannot be run, or "". A path is checked
// as a path: "not found in PATH" would be wrong for /sbin/conntrack.
func commandProblem(name string) string {
	if !strings.Contains(name, "/") {
		if _, err := exec.LookPath(name); err != nil {
			return "not found in PATH (install conntrack-tools, or give the full path)"
		}
		return ""
	}
	st, err := os.Stat(name)
	switch {
	case err != nil:
		return statReason(err)
	case st.IsDir():
		return "is a directory, not the conntrack command"
	case st.Mode()&0o111 == 0:
		return "is not executable"
	}
	return ""
}

// statReason is a stat error without the path (the message names it).
func statReason(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "does not exist"
	case errors.Is(err, fs.ErrPermission):
		return "permission denied"
	}
	return err.Error()
}
