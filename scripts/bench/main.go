// Command bench measures netmon against baselines run side by side on the
// same machine, and prints the markdown table of the performance targets
// (issue 7): parser throughput, print-outbound against the mawk script a
// user would write instead, ingest cycles cold and steady with the bytes
// they write, the CPU of a running ingest loop, and /connections.json
// latency under concurrent loopback load; with -lab-netns (root, a
// scripts/lab.sh lab) also `conntrack -L` itself on a filled kernel table.
// scripts/bench.sh builds netmon and runs it:
//
//	go run ./scripts/bench -netmon /tmp/netmon [-mode quick|default|big] [-lab-netns NS]
//
// Every absolute figure drifts with the load of a shared machine; each
// comes with a baseline or a CPU time measured in the same run.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	var o Options
	flag.StringVar(&o.Netmon, "netmon", "", "netmon binary to measure (required)")
	flag.StringVar(&o.Repo, "repo", ".", "repository root (for go test and fixtures/)")
	flag.StringVar(&o.Work, "work", "", "scratch directory for captures and databases (default: a new temporary one)")
	flag.StringVar(&o.Out, "out", "bench-results.md", "file the markdown table is written to as well")
	flag.StringVar(&o.Mode, "mode", "default", "quick (CI smoke, under a minute), default (about 2 minutes) or big (more runs, longer windows)")
	flag.StringVar(&o.Shared, "shared", "../shared/captures", "directory of the shared captures; -mode big also uses the ones found there")
	flag.StringVar(&o.LabNetns, "lab-netns", "", "router namespace of a scripts/lab.sh lab: fill its conntrack table and time conntrack -L itself (root)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}
