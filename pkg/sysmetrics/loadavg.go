package sysmetrics

import (
	"bytes"
	"fmt"
	"math"
	"strconv"
)

// LoadAvg is the 1, 5 and 15 minute load average from /proc/loadavg.
type LoadAvg struct {
	Load1  float64 `json:"load1"`
	Load5  float64 `json:"load5"`
	Load15 float64 `json:"load15"`
}

// readLoadAvg reads /proc/loadavg under the root.
func (r *Reader) readLoadAvg() (LoadAvg, error) {
	b, err := readFile(r.path("/proc/loadavg"))
	if err != nil {
		return LoadAvg{}, fmt.Errorf("read loadavg: %w", err)
	}
	l, err := ParseLoadAvg(b)
	if err != nil {
		return LoadAvg{}, fmt.Errorf("parse loadavg: %w", err)
	}
	return l, nil
}

// ParseLoadAvg parses the text of /proc/loadavg
// ("0.57 0.49 0.21 4/102 10282"). Only the three averages are used; they
// must be finite and not negative.
func ParseLoadAvg(b []byte) (LoadAvg, error) {
	f := bytes.Fields(b)
	if len(f) < 3 {
		return LoadAvg{}, fmt.Errorf("want 3 load averages, got %d fields", len(f))
	}
	var v [3]float64
	for i := range v {
		x, err := strconv.ParseFloat(string(f[i]), 64)
		if err != nil || math.IsNaN(x) || math.IsInf(x, 0) || x < 0 {
			return LoadAvg{}, fmt.Errorf("field %d: bad load average %q", i+1, truncate(f[i]))
		}
		v[i] = x
	}
	return LoadAvg{Load1: v[0], Load5: v[1], Load15: v[2]}, nil
}

// truncate shortens hostile input before it goes into an error message.
func truncate(b []byte) string {
	const max = 32
	if len(b) > max {
		return string(b[:max]) + "..."
	}
	return string(b)
}
