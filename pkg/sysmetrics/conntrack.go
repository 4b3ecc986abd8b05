package sysmetrics

import (
	"fmt"
)

// Conntrack is the fill of the kernel connection-tracking table.
type Conntrack struct {
	Count uint64 `json:"count"`
	Max   uint64 `json:"max"`
	// Error says why the figures could not be read when the sysctls exist
	// but are unreadable or hold garbage; Count and Max are then zero.
	Error string `json:"error,omitempty"`
}

// readConntrack reads /proc/sys/net/netfilter/nf_conntrack_{count,max}.
// It returns nil when either file does not exist (nf_conntrack not loaded,
// or a container that hides the sysctls): absent is not an error.
func (r *Reader) readConntrack() *Conntrack {
	var v [2]uint64
	for i, name := range [...]string{"nf_conntrack_count", "nf_conntrack_max"} {
		n, err := r.readCounter("/proc/sys/net/netfilter/" + name)
		if isNotExist(err) {
			return nil
		}
		if err != nil {
			return &Conntrack{Error: fmt.Sprintf("%s: %v", name, err)}
		}
		v[i] = n
	}
	return &Conntrack{Count: v[0], Max: v[1]}
}
