package store

import (
	"bufio"
	"bytes"
	"io"
	"os"
	"slices"
	"strconv"

	"golang.org/x/sys/unix"
)

// procMountinfo lists the mounts this process sees (proc(5)).
const procMountinfo = "/proc/self/mountinfo"

// mountEntry is one line of /proc/self/mountinfo, the fields netmon needs
// to tell whether a file system refuses writes. Paths are unescaped.
type mountEntry struct {
	Major, Minor uint32   // st_dev of the files on it
	Root, Point  string   // the directory of the file system mounted, and where
	Options      []string // per mount: rw or ro, relatime, ...
	FSType       string
	Source       string
	SuperOptions []string // per file system: rw or ro, errors=..., emergency_ro
}

// maxMountinfoLine bounds one line (an overlay mount names all its layers).
const maxMountinfoLine = 1 << 20

// parseMountinfo parses the text of /proc/<pid>/mountinfo. A line that is
// not what proc(5) describes is skipped: finding no mount only means
// netmon cannot say more about an error. The error is the reader's.
func parseMountinfo(r io.Reader) ([]mountEntry, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(nil, maxMountinfoLine)
	var out []mountEntry
	for sc.Scan() {
		if m, ok := parseMountLine(sc.Bytes()); ok {
			out = append(out, m)
		}
	}
	return out, sc.Err()
}

// parseMountLine parses one line:
//
//	36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue
//
// mount ID, parent ID, major:minor, root, mount point, mount options, zero
// or more optional fields ended by "-", then file system type, source and
// super options. Fields are separated by one space; the kernel writes a
// space, tab, newline or backslash inside one as an octal escape (\040).
// Fields after the super options are ignored, as proc(5) asks of optional
// fields the parser does not know.
func parseMountLine(line []byte) (mountEntry, bool) {
	var (
		m      mountEntry
		f      []byte
		fields [6][]byte
	)
	for i := range fields {
		if f, line = nextField(line); f == nil {
			return mountEntry{}, false
		}
		fields[i] = f
	}
	for {
		if f, line = nextField(line); f == nil {
			return mountEntry{}, false
		}
		if string(f) == "-" {
			break
		}
	}
	var after [3][]byte
	for i := range after {
		if f, line = nextField(line); f == nil {
			return mountEntry{}, false
		}
		after[i] = f
	}
	if !isUint(fields[0]) || !isUint(fields[1]) {
		return mountEntry{}, false
	}
	major, minor, ok := bytes.Cut(fields[2], []byte(":"))
	if !ok {
		return mountEntry{}, false
	}
	var err1, err2 error
	m.Major, err1 = parseUint32(major)
	m.Minor, err2 = parseUint32(minor)
	if err1 != nil || err2 != nil {
		return mountEntry{}, false
	}
	m.Root, m.Point = unescape(fields[3]), unescape(fields[4])
	m.Options = splitOptions(fields[5])
	m.FSType, m.Source = unescape(after[0]), unescape(after[1])
	m.SuperOptions = splitOptions(after[2])
	return m, true
}

// nextField returns the text before the next space and the rest after it,
// or a nil field at the end of the line or where two spaces leave a field
// empty (the kernel never writes one).
func nextField(line []byte) (field, rest []byte) {
	field, rest, _ = bytes.Cut(line, []byte(" "))
	if len(field) == 0 {
		return nil, nil
	}
	return field, rest
}

// isUint tells whether b is a decimal number: digits only.
func isUint(b []byte) bool {
	_, err := strconv.ParseUint(string(b), 10, 64)
	return err == nil
}

func parseUint32(b []byte) (uint32, error) {
	n, err := strconv.ParseUint(string(b), 10, 32)
	return uint32(n), err
}

// unescape undoes the kernel's octal escapes (\040 is a space). A
// backslash not followed by three octal digits of a byte stays as it is.
func unescape(b []byte) string {
	if bytes.IndexByte(b, '\\') < 0 {
		return string(b)
	}
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); i++ {
		if b[i] == '\\' && i+3 < len(b) && '0' <= b[i+1] && b[i+1] <= '3' && isOctal(b[i+2]) && isOctal(b[i+3]) {
			out = append(out, (b[i+1]-'0')<<6|(b[i+2]-'0')<<3|(b[i+3]-'0'))
			i += 3
			continue
		}
		out = append(out, b[i])
	}
	return string(out)
}

func isOctal(c byte) bool { return '0' <= c && c <= '7' }

// splitOptions splits a comma-separated option list.
func splitOptions(b []byte) []string {
	var out []string
	for o := range bytes.SplitSeq(b, []byte(",")) {
		out = append(out, string(o))
	}
	return out
}

// readOnlyMount tells whether the mounts list the file system on device
// major:minor as read-only, and, when they say more than that, why (note).
// The device, not a path prefix, finds the entries: a bind mount or a
// symlink puts the database under a path no entry names. A device has one
// entry per mount (bind mounts), all of one file system, so:
//   - super options are the file system's: "emergency_ro" (ext4 after an
//     error with errors=remount-ro, since Linux 6.x: writes fail with EROFS,
//     yet statfs and access(2) do not say read-only) or "ro";
//   - mount options are one mount's, and which mount the database is under
//     the device cannot tell: "ro" counts only when every entry says it (a
//     read-only mount the database is under access(2) reports anyway).
func readOnlyMount(mounts []mountEntry, major, minor uint32) (note string, ro bool) {
	found, allRO := false, true
	for _, m := range mounts {
		if m.Major != major || m.Minor != minor {
			continue
		}
		found = true
		switch {
		case slices.Contains(m.SuperOptions, "emergency_ro"):
			return m.FSType + " remounted it read-only after errors: see dmesg", true
		case slices.Contains(m.SuperOptions, "ro"):
			return "", true
		case !slices.Contains(m.Options, "ro"):
			allRO = false
		}
	}
	return "", found && allRO
}

// mountReadOnly is readOnlyMount for the file system holding dir, read
// from the mountinfo file. When dir or the file cannot be read it finds
// nothing: it only adds detail to an error already on its way.
func mountReadOnly(mountinfo, dir string) (note string, ro bool) {
	var st unix.Stat_t
	if err := unix.Stat(dir, &st); err != nil {
		return "", false
	}
	f, err := os.Open(mountinfo)
	if err != nil {
		return "", false
	}
	defer f.Close()
	mounts, err := parseMountinfo(f)
	if err != nil {
		return "", false
	}
	return readOnlyMount(mounts, unix.Major(uint64(st.Dev)), unix.Minor(uint64(st.Dev)))
}
