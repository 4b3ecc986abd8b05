package names

// Vendors: netmon embeds no OUI table. The IEEE Registration Authority's
// public listing (oui.csv, oui.txt) could be shipped: IEEE asserts no
// copyright in it and does not restrict its distribution (as Debian's
// ieee-data package records), which is compatible with Apache-2.0. But it
// is not small (tens of thousands of assignments, megabytes as CSV) for
// routers whose flash is often 16 MB, for the lowest of the name
// sources, and it goes stale. So the vendor is read at run
// time from a listing the owner installed (Debian: apt install ieee-data,
// /usr/share/ieee-data/oui.csv), and is empty without one.

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/netmon-dev/netmon/pkg/device"
)

// DefaultOUIFile is where Debian's ieee-data puts IEEE's listing.
const DefaultOUIFile = "/usr/share/ieee-data/oui.csv"

// Vendors maps a MAC's OUI (MA-L assignment) to its organisation.
type Vendors struct {
	entries []vendorEntry // sorted by oui
	intern  map[string]string
}

type vendorEntry struct {
	oui  [3]byte
	name string
}

// LoadVendors reads IEEE's oui.csv (Registry,Assignment,Organization
// Name,Organization Address) or oui.txt ("00-1B-21   (hex)\t\tIntel
// Corporate") from path.
func LoadVendors(path string) (*Vendors, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("load vendors: %w", err)
	}
	defer f.Close()
	v, err := ParseVendors(f)
	if err != nil {
		return nil, fmt.Errorf("load vendors %s: %w", path, err)
	}
	return v, nil
}

// ParseVendors reads either IEEE format, telling them apart by the first
// line. Unusable lines are passed over.
func ParseVendors(r io.Reader) (*Vendors, error) {
	br := bufio.NewReader(r)
	head, _ := br.Peek(64)
	v := &Vendors{intern: map[string]string{}}
	if strings.HasPrefix(string(head), "Registry,") {
		cr := csv.NewReader(br)
		cr.FieldsPerRecord = -1
		cr.LazyQuotes = true
		for {
			rec, err := cr.Read()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				continue
			}
			if len(rec) >= 3 && rec[0] == "MA-L" {
				v.add(rec[1], rec[2])
			}
		}
	} else {
		err := eachLine(br, func(_ int, line []byte) {
			s := string(line)
			hexPart, name, ok := strings.Cut(s, "(hex)")
			if ok {
				v.add(strings.ReplaceAll(strings.TrimSpace(hexPart), "-", ""), name)
			}
		})
		if err != nil {
			return nil, err
		}
	}
	slices.SortFunc(v.entries, func(a, b vendorEntry) int { return bytes.Compare(a.oui[:], b.oui[:]) })
	v.entries = slices.CompactFunc(v.entries, func(a, b vendorEntry) bool { return a.oui == b.oui })
	v.intern = nil
	v.entries = slices.Clip(v.entries)
	if len(v.entries) == 0 {
		return nil, errors.New("no OUI assignments found")
	}
	return v, nil
}

func (v *Vendors) add(hexOUI, name string) {
	b, err := hex.DecodeString(strings.TrimSpace(hexOUI))
	name = strings.TrimSpace(name)
	if err != nil || len(b) != 3 || name == "" {
		return
	}
	// One string per organisation: some hold a thousand assignments.
	if s, ok := v.intern[name]; ok {
		name = s
	} else {
		name = strings.Clone(name)
		v.intern[name] = name
	}
	v.entries = append(v.entries, vendorEntry{[3]byte(b), name})
}

// Vendor returns the organisation of m's OUI, or "" (also for a
// randomised MAC, whose first bytes are no assignment). It suits
// device.Options.Vendor.
func (v *Vendors) Vendor(m device.MAC) string {
	if v == nil || m.Randomized() || !m.Valid() {
		return ""
	}
	o := m.OUI()
	i, ok := slices.BinarySearchFunc(v.entries, o, func(e vendorEntry, t [3]byte) int {
		return bytes.Compare(e.oui[:], t[:])
	})
	if !ok {
		return ""
	}
	return v.entries[i].name
}

// Len is the number of assignments loaded.
func (v *Vendors) Len() int { return len(v.entries) }
