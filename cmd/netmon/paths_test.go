package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/pflag"

	"github.com/netmon-dev/netmon/pkg/config"
)

func TestCheckPaths(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "netmon.db")
	if err := os.WriteFile(db, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(dir, "conntrack")
	if err := os.WriteFile(script, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	plain := filepath.Join(dir, "plain")
	if err := os.WriteFile(plain, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	serve := func(args ...string) *pflag.FlagSet { return testFlags(t, args...) }
	printOutbound := func(args ...string) *pflag.FlagSet {
		fs := pflag.NewFlagSet("print-outbound", pflag.ContinueOnError)
		addSourceFlags(fs)
		if err := fs.Parse(args); err != nil {
			t.Fatal(err)
		}
		return fs
	}
	tests := []struct {
		name  string
		flags *pflag.FlagSet
		edit  func(*config.Config)
		want  string // substring of the error; "" for none
	}{
		{name: "all there", flags: serve(), edit: func(c *config.Config) { c.ConntrackPath = script }},
		{name: "new database in an existing directory", flags: serve(), edit: func(c *config.Config) {
			c.ConntrackPath = script
			c.DBPath = filepath.Join(dir, "new.db")
		}},
		{name: "db is a directory", flags: serve("--db", dir), edit: func(c *config.Config) { c.ConntrackPath = script; c.DBPath = dir },
			want: `db_path: is a directory; name the database file, like ` + filepath.Join(dir, "netmon.db") + ` (got "` + dir + `" in --db)`},
		{name: "db directory missing", flags: serve(), edit: func(c *config.Config) { c.ConntrackPath = script; c.DBPath = "/nonexistent/netmon.db" },
			want: `db_path: directory /nonexistent: does not exist (got "/nonexistent/netmon.db")`},
		{name: "reader of a missing database", flags: serve("--ingest=false"), edit: func(c *config.Config) {
			c.ConntrackPath = script
			c.DBPath = filepath.Join(dir, "typo.db")
			c.Ingest = false
		}, want: "db_path: no such database; with ingest false, serve reads the database that ingest-loop writes"},
		{name: "reader of an existing database", flags: serve("--ingest=false"), edit: func(c *config.Config) { c.ConntrackPath = script; c.Ingest = false }},
		{name: "absolute conntrack that does not exist", flags: serve("--conntrack-path", "/nonexistent"), edit: func(c *config.Config) { c.ConntrackPath = "/nonexistent" },
			want: `conntrack_path: does not exist (got "/nonexistent" in --conntrack-path)`},
		{name: "conntrack not executable", flags: serve(), edit: func(c *config.Config) { c.ConntrackPath = plain }, want: "conntrack_path: is not executable"},
		{name: "conntrack a directory", flags: serve(), edit: func(c *config.Config) { c.ConntrackPath = dir }, want: "conntrack_path: is a directory"},
		{name: "bare name not in PATH", flags: serve(), edit: func(c *config.Config) { c.ConntrackPath = "conntrack-nope" }, want: "conntrack_path: not found in PATH"},
		{name: "replay file missing", flags: printOutbound(), edit: func(c *config.Config) { c.InputFile = "/nonexistent/capture.txt" },
			want: `input_file: does not exist (got "/nonexistent/capture.txt")`},
		{name: "replay file makes conntrack unneeded", flags: printOutbound(), edit: func(c *config.Config) { c.InputFile = db; c.ConntrackPath = "/nonexistent" }},
		{name: "print-outbound opens no database", flags: printOutbound(), edit: func(c *config.Config) { c.ConntrackPath = script; c.DBPath = dir }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := config.Default()
			c.DBPath = db
			tt.edit(&c)
			err := checkPaths(tt.flags, c)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("checkPaths = %v, want nil", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("checkPaths = %v\nwant one containing %s", err, tt.want)
			}
		})
	}
}
