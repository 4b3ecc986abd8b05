package main

import (
	"cmp"
	"slices"
	"time"
)

// median returns the middle value of xs (the mean of the two middle ones
// for an even count), or the zero value for none. xs is not modified.
func median[T ~int64 | ~float64](xs []T) T {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	m := len(s) / 2
	if len(s)%2 == 1 {
		return s[m]
	}
	return (s[m-1] + s[m]) / 2
}

// percentile returns the nearest-rank p-th percentile (0 < p <= 100) of
// sorted, or 0 for none.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(p/100*float64(len(sorted)) + 0.999999999)
	rank = min(max(rank, 1), len(sorted))
	return sorted[rank-1]
}

// medianRun returns, field by field, the median of runs (so the wall time
// and the peak RSS may come from different runs).
func medianRun(runs []Run) Run {
	pick := func(f func(Run) int64) int64 {
		xs := make([]int64, len(runs))
		for i, r := range runs {
			xs[i] = f(r)
		}
		return median(xs)
	}
	return Run{
		Wall:   time.Duration(pick(func(r Run) int64 { return int64(r.Wall) })),
		User:   time.Duration(pick(func(r Run) int64 { return int64(r.User) })),
		Sys:    time.Duration(pick(func(r Run) int64 { return int64(r.Sys) })),
		MaxRSS: pick(func(r Run) int64 { return r.MaxRSS }),
		IO: IO{
			WChar:      uint64(pick(func(r Run) int64 { return int64(r.IO.WChar) })),
			WriteBytes: uint64(pick(func(r Run) int64 { return int64(r.IO.WriteBytes) })),
		},
	}
}

// sortDurations sorts ds in place and returns it.
func sortDurations(ds []time.Duration) []time.Duration {
	slices.SortFunc(ds, cmp.Compare)
	return ds
}
