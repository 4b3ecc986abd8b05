package sysmetrics

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"math"
	"strconv"
)

// Memory is the RAM figures from /proc/meminfo, in bytes.
type Memory struct {
	TotalBytes     uint64 `json:"total_bytes"`
	AvailableBytes uint64 `json:"available_bytes"`
	// UsedBytes is TotalBytes - AvailableBytes: what programs hold and the
	// kernel cannot reclaim, which is what "used" means on a router.
	UsedBytes uint64 `json:"used_bytes"`
}

// readMemory reads /proc/meminfo under the root.
func (r *Reader) readMemory() (Memory, error) {
	b, err := readFile(r.path("/proc/meminfo"))
	if err != nil {
		return Memory{}, fmt.Errorf("read meminfo: %w", err)
	}
	m, err := ParseMeminfo(b)
	if err != nil {
		return Memory{}, fmt.Errorf("parse meminfo: %w", err)
	}
	return m, nil
}

// ParseMeminfo parses the text of /proc/meminfo. It needs MemTotal and
// MemAvailable; kernels older than 3.14 have no MemAvailable, and then
// MemFree + Buffers + Cached stands in for it. Unknown lines are ignored.
func ParseMeminfo(b []byte) (Memory, error) {
	fields := map[string]uint64{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for line := 1; sc.Scan(); line++ {
		key, rest, ok := bytes.Cut(sc.Bytes(), []byte(":"))
		if !ok {
			continue
		}
		switch k := string(key); k {
		case "MemTotal", "MemAvailable", "MemFree", "Buffers", "Cached":
			v, err := parseKB(rest)
			if err != nil {
				return Memory{}, fmt.Errorf("line %d: %s: %w", line, k, err)
			}
			fields[k] = v
		}
	}
	if err := sc.Err(); err != nil {
		return Memory{}, fmt.Errorf("scan: %w", err)
	}
	total, ok := fields["MemTotal"]
	if !ok {
		return Memory{}, errors.New("no MemTotal line")
	}
	avail, ok := fields["MemAvailable"]
	if !ok {
		free, okF := fields["MemFree"]
		if !okF {
			return Memory{}, errors.New("no MemAvailable or MemFree line")
		}
		avail = sat(sat(free, fields["Buffers"]), fields["Cached"])
		avail = min(avail, total)
	}
	if avail > total {
		return Memory{}, fmt.Errorf("MemAvailable %d exceeds MemTotal %d", avail, total)
	}
	return Memory{TotalBytes: total, AvailableBytes: avail, UsedBytes: total - avail}, nil
}

// parseKB parses "   24684084 kB" into bytes. A value without a unit is
// taken as bytes (the kernel prints HugePages_* that way).
func parseKB(b []byte) (uint64, error) {
	f := bytes.Fields(b)
	if len(f) == 0 || len(f) > 2 {
		return 0, fmt.Errorf("bad value %q", truncate(b))
	}
	v, err := strconv.ParseUint(string(f[0]), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("bad number %q", truncate(f[0]))
	}
	if len(f) == 1 {
		return v, nil
	}
	if string(f[1]) != "kB" {
		return 0, fmt.Errorf("unknown unit %q", truncate(f[1]))
	}
	if v > math.MaxUint64/1024 {
		return 0, fmt.Errorf("value %d kB overflows", v)
	}
	return v * 1024, nil
}

// sat adds without wrapping around.
func sat(a, b uint64) uint64 {
	if a > math.MaxUint64-b {
		return math.MaxUint64
	}
	return a + b
}
