package sysmetrics

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Interface is the traffic of one network interface, from
// /sys/class/net/<name>/statistics.
type Interface struct {
	Name      string `json:"name"`
	RxBytes   uint64 `json:"rx_bytes"`
	TxBytes   uint64 `json:"tx_bytes"`
	RxPackets uint64 `json:"rx_packets"`
	TxPackets uint64 `json:"tx_packets"`
	// RxRate and TxRate are bytes per second since the previous reading of
	// this interface; nil on the first reading, after a counter went
	// backwards (interface re-created) or when the clock did not advance.
	RxRate *float64 `json:"rx_bytes_per_second"`
	TxRate *float64 `json:"tx_bytes_per_second"`
	// Error says why the interface could not be read (most often: it does
	// not exist on this machine); the counters are then zero.
	Error string `json:"error,omitempty"`
}

// readInterfaces reads every monitored interface and updates the rate
// state. A detected interface that cannot be read is left out: it went
// away, and the user named no such interface.
func (r *Reader) readInterfaces(at time.Time) []Interface {
	names, detected := r.ifaces, r.ifaces == nil
	if detected {
		names = r.detectInterfaces()
	}
	out := make([]Interface, 0, len(names))
	for _, name := range names {
		it, err := r.readInterface(name)
		if err != nil {
			r.mu.Lock()
			delete(r.prev, name)
			r.mu.Unlock()
			if !detected {
				out = append(out, Interface{Name: name, Error: err.Error()})
			}
			continue
		}
		r.rate(&it, at)
		out = append(out, it)
	}
	return out
}

// rate fills the rates of it from the previous sample and records this one.
func (r *Reader) rate(it *Interface, at time.Time) {
	cur := ifaceSample{at: at, rxBytes: it.RxBytes, txBytes: it.TxBytes}
	r.mu.Lock()
	defer r.mu.Unlock()
	prev, ok := r.prev[it.Name]
	if ok && !at.After(prev.at) {
		// A concurrent Read stamped later got here first: keep its sample.
		return
	}
	r.prev[it.Name] = cur
	if !ok {
		return
	}
	it.RxRate, it.TxRate = Rate(prev.rxBytes, cur.rxBytes, at.Sub(prev.at)), Rate(prev.txBytes, cur.txBytes, at.Sub(prev.at))
}

// Rate returns the per-second growth from before to after over d, or nil
// when it is unknown: d not positive, or the counter went backwards.
func Rate(before, after uint64, d time.Duration) *float64 {
	if d <= 0 || after < before {
		return nil
	}
	v := float64(after-before) / d.Seconds()
	return &v
}

// readInterface reads the four counters of one interface.
func (r *Reader) readInterface(name string) (Interface, error) {
	if err := ValidInterfaceName(name); err != nil {
		return Interface{}, err
	}
	it := Interface{Name: name}
	for _, c := range [...]struct {
		file string
		dst  *uint64
	}{
		{"rx_bytes", &it.RxBytes},
		{"tx_bytes", &it.TxBytes},
		{"rx_packets", &it.RxPackets},
		{"tx_packets", &it.TxPackets},
	} {
		v, err := r.readCounter("/sys/class/net/" + name + "/statistics/" + c.file)
		if isNotExist(err) {
			return Interface{}, fmt.Errorf("interface %s: %w", name, errNoInterface)
		}
		if err != nil {
			return Interface{}, fmt.Errorf("interface %s: %s: %w", name, c.file, err)
		}
		*c.dst = v
	}
	return it, nil
}

// errNoInterface is reported in Interface.Error when an interface does
// not exist.
var errNoInterface = errors.New("no such interface")

// ValidInterfaceName checks name the way the kernel does (dev_valid_name):
// 1 to 15 bytes, not "." or "..", no '/', ':' or white space. It keeps a
// configured name from walking out of /sys/class/net.
func ValidInterfaceName(name string) error {
	switch {
	case name == "":
		return errors.New("empty interface name")
	case len(name) > 15:
		return fmt.Errorf("interface name %q: longer than 15 bytes", truncate([]byte(name)))
	case name == "." || name == "..", strings.ContainsAny(name, "/: \t\n\r\v\f"):
		return fmt.Errorf("interface name %q: not a valid name", name)
	}
	return nil
}

// readCounter reads a file holding one decimal integer.
func (r *Reader) readCounter(p string) (uint64, error) {
	b, err := readFile(r.path(p))
	if err != nil {
		return 0, err
	}
	return ParseCounter(b)
}

// ParseCounter parses a sysfs or sysctl file holding one unsigned decimal
// integer and a newline.
func ParseCounter(b []byte) (uint64, error) {
	s := bytes.TrimSpace(b)
	v, err := strconv.ParseUint(string(s), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("bad counter %q", truncate(s))
	}
	return v, nil
}
