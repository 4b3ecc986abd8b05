package store

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestLockHolder(t *testing.T) {
	const locks = `1: POSIX  ADVISORY  WRITE 999 fd:01:1234567 1073741824 1073742335
2: FLOCK  ADVISORY  WRITE 4242 fd:01:1234567 0 EOF
2: -> FLOCK  ADVISORY  WRITE 5151 fd:01:1234567 0 EOF
3: FLOCK  ADVISORY  READ 77 fd:01:7654321 0 EOF
4: FLOCK  ADVISORY  WRITE 88 00:2b:42 0 EOF
`
	tests := []struct {
		name         string
		major, minor uint32
		ino          uint64
		want         int
	}{
		{"the flock, not the POSIX lock or a waiter", 0xfd, 1, 1234567, 4242},
		{"a read lock is no writer", 0xfd, 1, 7654321, 0},
		{"hex device numbers", 0, 0x2b, 42, 88},
		{"no lock on the file", 0xfd, 1, 1, 0},
	}
	for _, tc := range tests {
		if got := lockHolder([]byte(locks), tc.major, tc.minor, tc.ino); got != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, got, tc.want)
		}
	}
}

// TestSecondWriterRefused: a second writer of the same file is refused
// with ErrLocked naming the holder (this process), nothing is written, and
// once the first closes the file can be written again; readers never wait.
func TestSecondWriterRefused(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "live.db")
	first, err := OpenLive(ctx, path, WithWriterLock())
	if err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(path)
	_, err = OpenLive(ctx, path, WithWriterLock())
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), "pid "+strconv.Itoa(os.Getpid())) || !strings.Contains(err.Error(), path) {
		t.Fatalf("second writer: %v; want ErrLocked naming %s and pid %d", err, path, os.Getpid())
	}
	if after, _ := os.ReadFile(path); string(after) != string(before) {
		t.Error("the refused writer changed the file")
	}
	reader, err := OpenLive(ctx, path)
	if err != nil {
		t.Fatalf("a reader beside the writer: %v", err)
	}
	reader.Close()
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	again, err := OpenLive(ctx, path, WithWriterLock())
	if err != nil {
		t.Fatalf("writer after the first closed: %v", err)
	}
	again.Close()
}
