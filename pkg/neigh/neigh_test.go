package neigh

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestOpen(t *testing.T) {
	ctx := context.Background()
	r, w, err := Open(ctx, Config{File: filepath.Join(fixtureDir, "ip-neigh-lab.txt")})
	if _, isFile := r.(*File); err != nil || !isFile || w != nil {
		t.Errorf("Open(file) = %T, %T, %v", r, w, err)
	}
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "proc", "net"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "proc", "net", "arp"), []byte("IP address HW type Flags HW address Mask Device\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r, w, err = Open(ctx, Config{Root: root, noNetlink: true})
	if _, isARP := r.(*ProcARP); err != nil || !isARP || w != nil {
		t.Errorf("Open(no netlink) = %T, %T, %v", r, w, err)
	}
	_, _, err = Open(ctx, Config{Root: t.TempDir(), noNetlink: true})
	if !errors.Is(err, ErrEmpty) {
		t.Errorf("Open(nothing) error = %v, want ErrEmpty", err)
	}
	r, w, err = Open(ctx, Config{})
	if _, isNL := r.(*Netlink); err != nil || !isNL || w == nil {
		t.Errorf("Open() = %T, %T, %v; want netlink", r, w, err)
	}
}
