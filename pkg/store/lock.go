package store

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// ErrLocked is matched (errors.Is) by the error of opening a database as
// its writer while another process writes it. netmon has one writer per
// database: a second one (a stray ingest-once beside ingest-loop) would
// close the first one's connections and count their bytes twice.
var ErrLocked = errors.New("written by another netmon process")

// lockWriter takes an exclusive flock(2) on the database file (creating
// it empty if needed: SQLite takes an empty file for a new database). It
// is independent of SQLite's own POSIX locks on the same file. The error
// for a file another process holds names that process, from /proc/locks.
func lockWriter(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o640)
	if err != nil {
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		defer f.Close()
		if !errors.Is(err, unix.EWOULDBLOCK) {
			return nil, fmt.Errorf("lock database %s: %w", path, err)
		}
		return nil, fmt.Errorf("database %s: %w (%s): stop it, or give this one another --db and --state-dir", path, ErrLocked, holder(f, "/proc/locks"))
	}
	return f, nil
}

// holder describes the process holding an flock on f, as /proc/locks (at
// locks) and /proc/PID/cmdline tell: "pid 1234: netmon ingest-loop".
func holder(f *os.File, locks string) string {
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return "pid unknown"
	}
	b, err := os.ReadFile(locks)
	if err != nil {
		return "pid unknown"
	}
	pid := lockHolder(b, unix.Major(st.Dev), unix.Minor(st.Dev), st.Ino)
	if pid <= 0 {
		return "pid unknown"
	}
	cmd, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	args := strings.Fields(strings.ReplaceAll(string(cmd), "\x00", " "))
	if len(args) > 2 {
		args = args[:2]
	}
	if len(args) == 0 {
		return "pid " + strconv.Itoa(pid)
	}
	return "pid " + strconv.Itoa(pid) + ": " + strings.Join(args, " ")
}

// lockHolder finds the pid of the FLOCK write lock on the file dev:ino in
// the text of /proc/locks, whose lines read
// "1: FLOCK  ADVISORY  WRITE 4242 fd:01:1234567 0 EOF" (major and minor in
// hex). It returns 0 when there is none.
func lockHolder(locks []byte, major, minor uint32, ino uint64) int {
	want := fmt.Sprintf("%02x:%02x:%d", major, minor, ino)
	sc := bufio.NewScanner(bytes.NewReader(locks))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 6 || f[1] != "FLOCK" || f[3] != "WRITE" || f[5] != want {
			continue
		}
		if pid, err := strconv.Atoi(f[4]); err == nil {
			return pid
		}
	}
	return 0
}

// WriterPID returns the pid of the process holding the writer's lock on
// the database at path, or 0 when none does. A process that has the
// database open must not call it: closing another descriptor of the file
// drops that process's SQLite (POSIX) locks on it.
func WriterPID(path string) (int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, fmt.Errorf("open database %s: %w", path, err)
	}
	defer f.Close()
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return 0, fmt.Errorf("stat database %s: %w", path, err)
	}
	b, err := os.ReadFile("/proc/locks")
	if err != nil {
		return 0, fmt.Errorf("read /proc/locks: %w", err)
	}
	return lockHolder(b, unix.Major(st.Dev), unix.Minor(st.Dev), st.Ino), nil
}
