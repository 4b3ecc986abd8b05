// Command netmon shows which machines on a router's LAN talk to which hosts
// on the internet, how much, and since when. See `netmon --help`.
package main

import (
	"os"
	"runtime/debug"
)

// Set by the release build: -ldflags "-X main.version=... -X main.commit=... -X main.date=...".
var (
	version = "dev"
	commit  = "none"
	date    = "unknown"
)

// gcPercent is netmon's garbage collector target when GOGC is not set:
// the heap may grow to 1.5 times the live data between collections
// instead of Go's default 2 times. netmon's big data, the store's cache of
// active connections, holds no pointers, so a collection costs about a
// millisecond and collecting more often costs no measurable CPU, while a
// cold 100,000-flow cycle peaks about 8 MiB lower (see README,
// "Performance").
const gcPercent = 50

// tuneGC sets gcPercent unless the environment sets GOGC.
func tuneGC(lookupEnv func(string) (string, bool)) {
	if _, set := lookupEnv("GOGC"); !set {
		debug.SetGCPercent(gcPercent)
	}
}

func main() {
	tuneGC(os.LookupEnv)
	os.Exit(run(os.Args[1:], os.Stderr, execSelf))
}
