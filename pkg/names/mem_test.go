package names

import "runtime"

// heapInUse is the live heap after a collection, for the memory
// benchmarks.
func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}
