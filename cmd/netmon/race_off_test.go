//go:build !race

package main

// raceEnabled: the tests run under the race detector, which slows SQLite
// (pure Go here) about twentyfold; heavy database tests shrink their data.
const raceEnabled = false
