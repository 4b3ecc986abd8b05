// Command labtraffic makes known traffic in netmon's router lab
// (scripts/lab.sh): `serve` runs download and echo servers in the WAN,
// router and second-LAN namespaces, `client` makes the planned flows from
// the LAN namespace, writes a manifest of them and holds the long-lived
// connections open until it receives SIGTERM or SIGINT. `fetch` and `udp`
// make the many short, reset, paced or port-reusing flows of the
// end-of-flow scenarios (scripts/e2e-events.sh); `pace` makes one
// download at a known rate, paced by the server (scripts/e2e-rates.sh).
//
// It uses the standard library only and talks only to the addresses given
// on its command line or in its built-in plan, all of them lab addresses.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/netmon-dev/netmon/scripts/internal/manifest"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "labtraffic:", err)
		os.Exit(1)
	}
}

// errUsage is returned for a wrong command line.
var errUsage = errors.New("usage: labtraffic serve|client|fetch|udp|pace [flags]")

func run(ctx context.Context, args []string, stderr io.Writer) error {
	if len(args) == 0 {
		return errUsage
	}
	logger := log.New(stderr, "labtraffic "+args[0]+": ", log.LstdFlags|log.Lmicroseconds)
	switch args[0] {
	case "serve":
		return runServe(ctx, args[1:], logger, stderr)
	case "client":
		return runClient(ctx, args[1:], logger, stderr)
	case "fetch":
		return runFetch(ctx, args[1:], logger, stderr)
	case "udp":
		return runUDP(ctx, args[1:], logger, stderr)
	case "pace":
		return runPace(ctx, args[1:], logger, stderr)
	}
	return fmt.Errorf("%w: unknown command %q", errUsage, args[0])
}

func runServe(ctx context.Context, args []string, logger *log.Logger, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	tcp := fs.String("tcp", "", "comma-separated host:port list for the download server")
	udp := fs.String("udp", "", "comma-separated host:port list for the echo server")
	lifetime := fs.Duration("lifetime", 15*time.Minute, "exit after this long even if nobody stops the server")
	ready := fs.String("ready", "", "file to create once every address is bound")
	if err := fs.Parse(args); err != nil {
		return err
	}
	tcpAddrs, udpAddrs := splitList(*tcp), splitList(*udp)
	if len(tcpAddrs)+len(udpAddrs) == 0 {
		return fmt.Errorf("%w: serve needs -tcp or -udp", errUsage)
	}
	if *lifetime <= 0 {
		return fmt.Errorf("lifetime: must be > 0, got %s", *lifetime)
	}
	ctx, cancel := context.WithTimeout(ctx, *lifetime)
	defer cancel()
	lns, pcs, err := listen(ctx, tcpAddrs, udpAddrs)
	if err != nil {
		return err
	}
	if *ready != "" {
		if err := os.WriteFile(*ready, []byte("ready\n"), 0o644); err != nil {
			return fmt.Errorf("write ready file: %w", err)
		}
	}
	logger.Printf("serving tcp %v udp %v for at most %s", tcpAddrs, udpAddrs, *lifetime)
	s := &server{log: logger}
	s.run(ctx, lns, pcs)
	logger.Printf("stopped")
	return nil
}

func runClient(ctx context.Context, args []string, logger *log.Logger, stderr io.Writer) error {
	fs := flag.NewFlagSet("client", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("manifest", "", "write the manifest of generated flows here (required)")
	timeout := fs.Duration("timeout", 5*time.Second, "bound on every dial, read and write")
	holdMax := fs.Duration("hold-max", 10*time.Minute, "close held connections after this long even without a signal")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *out == "" {
		return fmt.Errorf("%w: client needs -manifest", errUsage)
	}
	if *timeout <= 0 || *holdMax <= 0 {
		return fmt.Errorf("timeout and hold-max: must be > 0")
	}
	c := &client{timeout: *timeout, icmpID: uint16(os.Getpid())}
	flows, held, err := c.run(ctx, DefaultPlan())
	if err != nil {
		return err
	}
	m := &manifest.Manifest{Version: manifest.Version, Flows: flows}
	if err := m.Validate(); err != nil {
		closeAll(held)
		return fmt.Errorf("generated manifest: %w", err)
	}
	if err := manifest.Write(*out, m); err != nil {
		closeAll(held)
		return err
	}
	logger.Printf("made %d flows, holding %d connections open", len(flows), len(held))
	if len(held) == 0 {
		return nil
	}
	select {
	case <-ctx.Done():
		logger.Printf("told to close")
	case <-time.After(*holdMax):
		logger.Printf("held for %s, closing", *holdMax)
	}
	if err := closeAll(held); err != nil {
		return fmt.Errorf("close held connections: %w", err)
	}
	logger.Printf("closed %d held connections", len(held))
	return nil
}

// splitList splits a comma-separated list, dropping empty items.
func splitList(s string) []string {
	var out []string
	for item := range strings.SplitSeq(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}
