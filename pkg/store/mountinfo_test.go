package store

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"golang.org/x/sys/unix"
)

// mountinfoFixture returns the path of fixtures/store/mountinfo/<name>.
func mountinfoFixture(t *testing.T, name string) string {
	t.Helper()
	p := filepath.Join("..", "..", "fixtures", "store", "mountinfo", name)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("fixture: %v", err)
	}
	return p
}

// parseFixture parses a mountinfo fixture.
func parseFixture(t *testing.T, name string) []mountEntry {
	t.Helper()
	f, err := os.Open(mountinfoFixture(t, name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	mounts, err := parseMountinfo(f)
	if err != nil {
		t.Fatalf("parse %s: %v", name, err)
	}
	return mounts
}

func TestParseMountinfo(t *testing.T) {
	root := mountEntry{Major: 254, Minor: 0, Root: "/", Point: "/", Options: []string{"rw", "relatime"},
		FSType: "ext4", Source: "/dev/vda", SuperOptions: []string{"rw", "discard"}}
	loop := func(point string, opts string, super string) mountEntry {
		return mountEntry{Major: 7, Minor: 0, Root: "/", Point: point, Options: strings.Split(opts, ","),
			FSType: "ext4", Source: "/dev/loop0", SuperOptions: strings.Split(super, ",")}
	}
	tests := []struct {
		fixture string
		want    []mountEntry // the last entries of the file
		total   int          // how many entries in all
	}{
		{"rw.txt", []mountEntry{loop("/var/lib/netmon", "rw,relatime", "rw,errors=remount-ro")}, 6},
		{"ro.txt", []mountEntry{loop("/var/lib/netmon", "ro,relatime", "ro")}, 3},
		{"emergency-ro.txt", []mountEntry{
			loop("/var/lib/netmon", "rw,relatime", "rw,errors=remount-ro,emergency_ro"),
		}, 3},
		{"bind-ro.txt", []mountEntry{
			loop("/var/lib/netmon", "rw,relatime", "rw,errors=remount-ro"),
			loop("/srv/netmon", "ro,relatime", "rw,errors=remount-ro"),
		}, 4},
		{"escaped.txt", []mountEntry{
			root,
			{Major: 7, Minor: 0, Root: `/net\mon`, Point: "/var/lib net\tmon", Options: []string{"rw", "relatime"},
				FSType: "ext4", Source: "/dev/disk/by-label/my data", SuperOptions: []string{"rw", "errors=remount-ro"}},
			{Major: 7, Minor: 1, Root: "/", Point: `/mnt/odd\0\\x`, Options: []string{"rw"},
				FSType: "ext4", Source: "/dev/loop1", SuperOptions: []string{"rw"}},
		}, 3},
		{"malformed.txt", []mountEntry{
			root,
			{Major: 7, Minor: 2, Root: "/", Point: "/var/lib/netmon", Options: []string{"rw", "relatime"},
				FSType: "ext4", Source: "/dev/loop2", SuperOptions: []string{"rw", "emergency_ro"}},
		}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.fixture, func(t *testing.T) {
			got := parseFixture(t, tt.fixture)
			if diff := cmp.Diff(tt.total, len(got)); diff != "" {
				t.Errorf("entries (-want +got):\n%s", diff)
			}
			if len(got) >= len(tt.want) {
				got = got[len(got)-len(tt.want):]
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("last %d entries (-want +got):\n%s", len(tt.want), diff)
			}
		})
	}
}

func TestParseMountinfoReadError(t *testing.T) {
	_, err := parseMountinfo(iotest.ErrReader(iotest.ErrTimeout))
	if diff := cmp.Diff(iotest.ErrTimeout, err, cmpopts.EquateErrors()); diff != "" {
		t.Errorf("error (-want +got):\n%s", diff)
	}
}

func TestUnescape(t *testing.T) {
	tests := []struct{ in, want string }{
		{"/plain", "/plain"},
		{`/a\040b`, "/a b"},
		{`\011\012\134`, "\t\n\\"},
		{`/end\040`, "/end "},
		{`/short\04`, `/short\04`},
		{`/not-octal\08a`, `/not-octal\08a`},
		{`/too-big\400`, `/too-big\400`},
		{`/trailing\`, `/trailing\`},
		{`\\040`, `\ `},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, unescape([]byte(tt.in))); diff != "" {
			t.Errorf("unescape(%q) (-want +got):\n%s", tt.in, diff)
		}
	}
}

func TestReadOnlyMount(t *testing.T) {
	const emergency = "ext4 remounted it read-only after errors: see dmesg"
	type result struct {
		Note string
		RO   bool
	}
	tests := []struct {
		name         string
		fixture      string
		major, minor uint32
		want         result
	}{
		{"read-write ext4", "rw.txt", 7, 0, result{}},
		{"read-write root", "rw.txt", 254, 0, result{}},
		{"device not listed", "rw.txt", 8, 1, result{}},
		{"minor differs", "rw.txt", 7, 1, result{}},
		{"mounted ro", "ro.txt", 7, 0, result{"", true}},
		{"emergency_ro in super options", "emergency-ro.txt", 7, 0, result{emergency, true}},
		{"other device beside emergency_ro", "emergency-ro.txt", 254, 0, result{}},
		{"one of two bind mounts ro", "bind-ro.txt", 7, 0, result{}},
		{"bind mounts after an error", "bind-emergency-ro.txt", 7, 0, result{emergency, true}},
		{"escaped paths", "escaped.txt", 7, 0, result{}},
		{"valid line after malformed ones", "malformed.txt", 7, 2, result{emergency, true}},
		{"malformed lines name no device", "malformed.txt", 7, 0, result{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got result
			got.Note, got.RO = readOnlyMount(parseFixture(t, tt.fixture), tt.major, tt.minor)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("readOnlyMount(%s, %d:%d) (-want +got):\n%s", tt.fixture, tt.major, tt.minor, diff)
			}
		})
	}
}

// TestCheckAccessMountinfo runs checkAccess on a real directory against a
// mountinfo file that lists (or not) the directory's device as the
// fixtures show it: the device number found by stat must be the one
// looked up. The directory is writable, so access(2) finds nothing.
func TestCheckAccessMountinfo(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "netmon.db")
	var st unix.Stat_t
	if err := unix.Stat(dir, &st); err != nil {
		t.Fatal(err)
	}
	dev := func(major, minor uint32) string { return fmt.Sprintf("%d:%d", major, minor) }
	here := dev(unix.Major(uint64(st.Dev)), unix.Minor(uint64(st.Dev)))
	other := dev(unix.Major(uint64(st.Dev))+1, unix.Minor(uint64(st.Dev)))
	tests := []struct {
		name      string
		mountinfo string // a fixture with 7:0 made dev, or "" for a missing file
		dev       string
		want      access
	}{
		{"read-write", "rw.txt", here, access{}},
		{"mounted ro", "ro.txt", here, access{readOnlyFS: true}},
		{"emergency_ro", "emergency-ro.txt", here,
			access{readOnlyFS: true, note: "ext4 remounted it read-only after errors: see dmesg"}},
		{"emergency_ro on another device", "emergency-ro.txt", other, access{}},
		{"no mountinfo", "", here, access{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mountinfo := filepath.Join(t.TempDir(), "mountinfo")
			if tt.mountinfo != "" {
				b, err := os.ReadFile(mountinfoFixture(t, tt.mountinfo))
				if err != nil {
					t.Fatal(err)
				}
				b = []byte(strings.ReplaceAll(string(b), " 7:0 ", " "+tt.dev+" "))
				if err := os.WriteFile(mountinfo, b, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			got := checkAccess(path, mountinfo)
			if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(access{})); diff != "" {
				t.Errorf("checkAccess (-want +got):\n%s", diff)
			}
		})
	}
}
