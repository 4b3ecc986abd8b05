package sysmetrics

import (
	"bytes"
	"fmt"
)

// Conntrack is the fill of the kernel connection-tracking table.
type Conntrack struct {
	Count uint64 `json:"count"`
	Max   uint64 `json:"max"`
	// Error says why the figures could not be read when the sysctls exist
	// but are unreadable or hold garbage; Count and Max are then zero.
	Error string `json:"error,omitempty"`
	// Accounting says whether the kernel counts bytes and packets per
	// flow (AccountingSysctl); nil when unknown (the file is missing or
	// unreadable). With it off every counter conntrack reports is 0.
	Accounting *bool `json:"accounting"`
}

// AccountingSysctl is the kernel setting that turns conntrack's byte
// counting on (it is off by default), and AccountingFix the command
// that does it now; the netmon package sets it at every boot through
// AccountingSysctlFile.
const (
	AccountingSysctl     = "net.netfilter.nf_conntrack_acct"
	AccountingFix        = "sysctl -w net.netfilter.nf_conntrack_acct=1"
	AccountingSysctlFile = "/usr/lib/sysctl.d/90-netmon.conf"
)

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
			return &Conntrack{Error: fmt.Sprintf("%s: %v", name, err), Accounting: r.Accounting()}
		}
		v[i] = n
	}
	return &Conntrack{Count: v[0], Max: v[1], Accounting: r.Accounting()}
}

// Accounting reads /proc/sys/net/netfilter/nf_conntrack_acct: whether
// the kernel counts conntrack bytes, nil when that cannot be told.
func (r *Reader) Accounting() *bool {
	b, err := readFile(r.path("/proc/sys/net/netfilter/nf_conntrack_acct"))
	if err != nil {
		return nil
	}
	return parseAccounting(b)
}

// parseAccounting parses the sysctl's "0" or "1" (any other number is
// on, as the kernel takes it); nil for anything else.
func parseAccounting(b []byte) *bool {
	s := bytes.TrimSpace(b)
	if len(s) == 0 {
		return nil
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return nil
		}
	}
	on := len(bytes.TrimLeft(s, "0")) > 0
	return &on
}
