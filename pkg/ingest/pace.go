package ingest

import (
	"slices"
	"syscall"
	"time"
)

// DefaultPollCPUBudget is the share of one core polling may take (the
// conntrack run plus netmon's own cycle) when the configuration says
// nothing: config's poll_cpu_budget default.
const DefaultPollCPUBudget = 0.10

// maxInterval bounds how far the interval stretches: past it a huge
// table may cost more than the budget.
const maxInterval = 10 * time.Minute

// paceSamples is how many recent cycle costs set the interval: their
// median, so that one disturbed cycle does not move it.
const paceSamples = 5

// paceHeadroom is the share of the budget the interval aims at, so that a
// cycle's jitter around the median stays under the budget.
const paceHeadroom = 0.9

// pace stretches the poll interval so that polling stays within a CPU
// budget: the configured interval while the table is small, and as the
// table grows, as long as the median CPU cost of the last cycles divided
// by 90% of the budget. With DESTROY events a longer interval loses no bytes,
// only rate resolution; consumers use the real time between reads. It is
// pure: the caller measures.
type pace struct {
	base   time.Duration // the configured interval
	budget float64       // share of one core; <= 0: the interval never stretches
	costs  []time.Duration
	warm   bool // the first cycle was seen
}

// observe records the CPU cost of one cycle and returns the interval to
// wait before the next one starts. The first cycle's cost is not a
// sample: it stores every flow of the table at once (a cold start), and at
// 100,000 flows costs twice a steady cycle.
func (p *pace) observe(cost time.Duration) time.Duration {
	if !p.warm {
		p.warm = true
		return p.interval()
	}
	if len(p.costs) == paceSamples {
		p.costs = p.costs[1:]
	}
	p.costs = append(p.costs, cost)
	return p.interval()
}

// interval is the current interval: base, or the median cost over 90% of
// the budget, whichever is longer, at most maxInterval (or base when that
// is longer).
func (p *pace) interval() time.Duration {
	if p.budget <= 0 || len(p.costs) == 0 {
		return p.base
	}
	sorted := slices.Clone(p.costs)
	slices.Sort(sorted)
	need := time.Duration(float64(sorted[len(sorted)/2]) / (p.budget * paceHeadroom))
	need = (need + time.Millisecond - 1).Truncate(time.Millisecond) // whole milliseconds, rounded up
	return max(p.base, min(need, maxInterval))
}

// cpuTime is the CPU (user and system) netmon and the children it waited
// for (the conntrack runs) have used so far: the cost of a cycle is its
// difference across the cycle. Other goroutines' work during the cycle
// (the web server) counts too, so the interval errs on the long side.
func cpuTime() time.Duration {
	var self, children syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &self) != nil || syscall.Getrusage(syscall.RUSAGE_CHILDREN, &children) != nil {
		return 0
	}
	tv := func(t syscall.Timeval) time.Duration { return time.Duration(t.Nano()) }
	return tv(self.Utime) + tv(self.Stime) + tv(children.Utime) + tv(children.Stime)
}
