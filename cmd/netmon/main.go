// Command netmon shows which machines on a router's LAN talk to which hosts
// on the internet, how much, and since when. See `netmon --help`.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

// Set by the release build: -ldflags "-X main.version=... -X main.commit=... -X main.date=...".
var (
	version = "dev"
	commit  = "none"
	date    = "unknown"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := newRootCmd(buildInfo{version, commit, date}).ExecuteContext(ctx)
	stop()
	os.Exit(exitCode(os.Stderr, err))
}
