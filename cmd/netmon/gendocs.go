package main

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"
)

// newGenDocsCmd generates what packages install besides the binary: a man
// page per command (gzipped, as Debian wants them) and the bash, zsh and
// fish completions. Hidden: packaging runs it (scripts/package-check.sh,
// .goreleaser.yaml) into build/docs.
func newGenDocsCmd(info buildInfo) *cobra.Command {
	return &cobra.Command{
		Use:    "gen-docs DIR",
		Short:  "Write man pages to DIR/man and shell completions to DIR/completions",
		Hidden: true,
		Args:   cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return genDocs(cmd.Root(), args[0], info)
		},
	}
}

// genDocs writes the man pages and completions of root under dir.
func genDocs(root *cobra.Command, dir string, info buildInfo) error {
	manDir := filepath.Join(dir, "man")
	compDir := filepath.Join(dir, "completions")
	for _, d := range []string{manDir, compDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("gen-docs: %w", err)
		}
	}
	// The commit's time, so the same commit makes the same pages.
	date, err := time.Parse(time.RFC3339, info.date)
	if err != nil {
		date = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	root.DisableAutoGenTag = true
	tmp, err := os.MkdirTemp("", "netmon-man-")
	if err != nil {
		return fmt.Errorf("gen-docs: %w", err)
	}
	defer os.RemoveAll(tmp)
	header := &doc.GenManHeader{Section: "1", Date: &date, Source: "netmon " + info.version, Manual: "netmon manual"}
	if err := doc.GenManTreeFromOpts(root, doc.GenManTreeOptions{Header: header, Path: tmp, CommandSeparator: "-"}); err != nil {
		return fmt.Errorf("gen-docs: man pages: %w", err)
	}
	pages, err := filepath.Glob(filepath.Join(tmp, "*.1"))
	if err != nil {
		return fmt.Errorf("gen-docs: %w", err)
	}
	for _, p := range pages {
		b, err := os.ReadFile(p)
		if err != nil {
			return fmt.Errorf("gen-docs: %w", err)
		}
		if err := writeGzip(filepath.Join(manDir, filepath.Base(p)+".gz"), b); err != nil {
			return err
		}
	}
	var bash, zsh, fish bytes.Buffer
	if err := root.GenBashCompletionV2(&bash, true); err != nil {
		return fmt.Errorf("gen-docs: bash completion: %w", err)
	}
	if err := root.GenZshCompletion(&zsh); err != nil {
		return fmt.Errorf("gen-docs: zsh completion: %w", err)
	}
	if err := root.GenFishCompletion(&fish, true); err != nil {
		return fmt.Errorf("gen-docs: fish completion: %w", err)
	}
	for name, b := range map[string][]byte{"netmon.bash": bash.Bytes(), "_netmon": zsh.Bytes(), "netmon.fish": fish.Bytes()} {
		if err := os.WriteFile(filepath.Join(compDir, name), b, 0o644); err != nil {
			return fmt.Errorf("gen-docs: %w", err)
		}
	}
	return nil
}

// writeGzip writes b compressed at the best level, with no name and no
// time in the header (gzip -9n), so the file depends on b alone.
func writeGzip(path string, b []byte) error {
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return fmt.Errorf("gen-docs: %w", err)
	}
	zw.Write(b)
	if err := zw.Close(); err != nil {
		return fmt.Errorf("gen-docs: %w", err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("gen-docs: %w", err)
	}
	return nil
}
