package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/netmon-dev/netmon/pkg/device"
	"github.com/netmon-dev/netmon/pkg/names"
	"github.com/netmon-dev/netmon/pkg/neigh"
)

// The names-* commands check pkg/neigh and pkg/names against the real
// parts of the lab's DHCP LAN (scripts/lab.sh dhcp, scripts/e2e-names.sh):
//
//	e2echeck names-query -server 10.0.3.1:53 -names a,b
//	    look the names up (A and AAAA) at the server, as a LAN client does
//	e2echeck names-devices -client MAC=NAME=ADDR,ADDR ... [-leases F] [-local P,P] [-ip-neigh F]
//	    the neighbour table read through neigh.Netlink (and /proc/net/arp,
//	    and with -ip-neigh a saved `ip neigh show` through neigh.File) lists
//	    each client's MAC with its addresses; with -leases, the lease file parses to
//	    those MACs and names, and the device registry fed both names each
//	    client's device by its lease
//	e2echeck names-dnslog -file F -want CLIENT=ADDR=NAME ... [-follow 30s -ready R]
//	    the query log maps (client, address) to the name asked; with
//	    -follow, FollowDNSLog tails it until every pairing is seen
func runNames(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	var summary string
	var problems []string
	var err error
	switch args[0] {
	case "names-query":
		server := fs.String("server", "", "DNS server host:port (required)")
		list := fs.String("names", "", "names to look up, comma separated (required)")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		summary, problems = namesQuery(ctx, stdout, *server, splitList(*list))
	case "names-devices":
		var clients multiFlag
		fs.Var(&clients, "client", "MAC=NAME=ADDR,ADDR (repeatable)")
		leases := fs.String("leases", "", "the DHCP server's lease file")
		ipNeigh := fs.String("ip-neigh", "", "`ip neigh show` saved just before: neigh.File must read the clients as netlink does")
		local := fs.String("local", "", "LAN prefixes, comma separated (default: every address)")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		summary, problems, err = namesDevices(ctx, clients, *leases, *local, *ipNeigh)
	case "names-dnslog":
		var want multiFlag
		file := fs.String("file", "", "dnsmasq's query log (required)")
		follow := fs.Duration("follow", 0, "follow the log with FollowDNSLog for up to this long, until every -want is seen (else read it once)")
		ready := fs.String("ready", "", "with -follow: create this file once following")
		fs.Var(&want, "want", "CLIENT=ADDR=NAME (repeatable)")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		summary, problems, err = namesDNSLog(ctx, *file, want, *follow, *ready)
	default:
		return fmt.Errorf("%w: unknown command %q", errUsage, args[0])
	}
	if err != nil {
		return err
	}
	for _, p := range problems {
		fmt.Fprintf(stderr, "e2echeck %s: %s\n", args[0], p)
	}
	if len(problems) > 0 {
		return fmt.Errorf("%s: %d problems: %w", args[0], len(problems), errProblems)
	}
	fmt.Fprintf(stdout, "e2echeck %s: ok: %s\n", args[0], summary)
	return nil
}

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, " ") }
func (m *multiFlag) Set(s string) error { *m = append(*m, s); return nil }

func namesQuery(ctx context.Context, w io.Writer, server string, list []string) (string, []string) {
	if server == "" || len(list) == 0 {
		return "", []string{"-server and -names are required"}
	}
	r := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, server)
	}}
	var problems []string
	for _, n := range list {
		qctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		addrs, err := r.LookupNetIP(qctx, "ip", n)
		cancel()
		if err != nil || len(addrs) == 0 {
			problems = append(problems, fmt.Sprintf("%s: %v (answers %v)", n, err, addrs))
			continue
		}
		fmt.Fprintf(w, "%s %v\n", n, addrs)
	}
	return fmt.Sprintf("%d names answered by %s", len(list)-len(problems), server), problems
}

type wantClient struct {
	mac   device.MAC
	name  string
	addrs []netip.Addr
}

func parseClient(s string) (wantClient, error) {
	parts := strings.SplitN(s, "=", 3)
	if len(parts) != 3 {
		return wantClient{}, fmt.Errorf("%w: -client %q is not MAC=NAME=ADDRS", errUsage, s)
	}
	m, err := device.ParseMAC(parts[0])
	if err != nil {
		return wantClient{}, err
	}
	c := wantClient{mac: m, name: parts[1]}
	for _, a := range splitList(parts[2]) {
		addr, err := netip.ParseAddr(a)
		if err != nil {
			return wantClient{}, fmt.Errorf("-client %q: %w", s, err)
		}
		c.addrs = append(c.addrs, addr)
	}
	return c, nil
}

func namesDevices(ctx context.Context, clients []string, leaseFile, local, ipNeigh string) (string, []string, error) {
	var want []wantClient
	for _, s := range clients {
		c, err := parseClient(s)
		if err != nil {
			return "", nil, err
		}
		want = append(want, c)
	}
	if len(want) == 0 {
		return "", nil, fmt.Errorf("%w: names-devices needs -client", errUsage)
	}
	var prefixes []netip.Prefix
	if local != "" {
		var err error
		if prefixes, err = parsePrefixes(local); err != nil {
			return "", nil, err
		}
	}
	ns, err := (&neigh.Netlink{}).Read(ctx)
	if err != nil {
		return "", nil, err
	}
	var problems []string
	byMAC := map[device.MAC][]netip.Addr{}
	for _, n := range ns {
		byMAC[n.MAC] = append(byMAC[n.MAC], n.Addr)
	}
	for _, c := range want {
		for _, a := range c.addrs {
			if !slices.Contains(byMAC[c.mac], a) {
				problems = append(problems, fmt.Sprintf("netlink: %v not listed with %v (listed: %v)", a, c.mac, byMAC[c.mac]))
			}
		}
	}
	arp, err := (&neigh.ProcARP{}).Read(ctx)
	if err != nil {
		return "", nil, err
	}
	for _, c := range want {
		for _, a := range c.addrs {
			if a.Is4() && !slices.Contains(arp, device.Neighbour{Addr: a, MAC: c.mac, Iface: ifaceOf(arp, a)}) {
				problems = append(problems, fmt.Sprintf("/proc/net/arp: %v not listed with %v", a, c.mac))
			}
		}
	}
	summary := fmt.Sprintf("netlink lists %d neighbours, every client's MAC with its addresses", len(ns))
	if ipNeigh != "" {
		replay, err := (&neigh.File{Path: ipNeigh}).Read(ctx)
		if err != nil {
			return "", nil, err
		}
		for _, c := range want {
			for _, a := range c.addrs {
				if !slices.ContainsFunc(replay, func(n device.Neighbour) bool { return n.MAC == c.mac && n.Addr == a }) {
					problems = append(problems, fmt.Sprintf("%s: %v not read with %v", ipNeigh, a, c.mac))
				}
			}
		}
		summary += fmt.Sprintf("; the ip neigh text replays them too (%d neighbours)", len(replay))
	}
	if leaseFile == "" {
		return summary, problems, nil
	}
	now := time.Now()
	u := names.NewLeases("/", []string{leaseFile}).Refresh(now)
	for _, f := range u.Files {
		if f.Err != nil || f.Format != names.FormatDnsmasq || f.Stats.Skipped != 0 {
			problems = append(problems, fmt.Sprintf("lease file %s: format %v, %d leases, %d skipped, err %v", f.Path, f.Format, f.Leases, f.Stats.Skipped, f.Err))
		}
	}
	leaseName := map[device.MAC]string{}
	for _, n := range u.Leases {
		leaseName[n.MAC] = n.Name
	}
	opt := device.Options{}
	if prefixes != nil {
		opt.Local = func(a netip.Addr) bool {
			for _, p := range prefixes {
				if p.Contains(a) {
					return true
				}
			}
			return false
		}
	}
	reg := device.NewRegistry(opt)
	reg.Observe(ns, now)
	u.Apply(reg.SetNames)
	for _, c := range want {
		if leaseName[c.mac] != c.name {
			problems = append(problems, fmt.Sprintf("lease file: %v named %q, want %q", c.mac, leaseName[c.mac], c.name))
		}
		for _, a := range c.addrs {
			id := reg.Resolve(a, now)
			name, src := reg.Name(id)
			if id != device.MACID(c.mac) || name != c.name || src != device.SourceLease {
				problems = append(problems, fmt.Sprintf("registry: %v is device %q named %q from %v, want %v named %q from lease", a, id, name, src, c.mac, c.name))
			}
		}
	}
	return fmt.Sprintf("%s; %d leases name the clients' devices", summary, len(u.Leases)), problems, nil
}

func ifaceOf(ns []device.Neighbour, a netip.Addr) string {
	for _, n := range ns {
		if n.Addr == a {
			return n.Iface
		}
	}
	return ""
}

type wantPair struct {
	client, addr netip.Addr
	name         string
}

func parsePairs(want []string) ([]wantPair, error) {
	var out []wantPair
	for _, w := range want {
		parts := strings.SplitN(w, "=", 3)
		if len(parts) != 3 {
			return nil, fmt.Errorf("%w: -want %q is not CLIENT=ADDR=NAME", errUsage, w)
		}
		c, err1 := netip.ParseAddr(parts[0])
		a, err2 := netip.ParseAddr(parts[1])
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("%w: -want %q", errUsage, w)
		}
		out = append(out, wantPair{c, a, parts[2]})
	}
	return out, nil
}

// missing lists the wanted pairings d does not hold.
func missing(d *names.DNSLog, want []wantPair) []string {
	var problems []string
	now := time.Now()
	for _, w := range want {
		if got, ok := d.Lookup(w.client, w.addr, now); !ok || got != w.name {
			problems = append(problems, fmt.Sprintf("(%v, %v) maps to %q (%v), want %q", w.client, w.addr, got, ok, w.name))
		}
	}
	return problems
}

func namesDNSLog(ctx context.Context, file string, wantArgs []string, follow time.Duration, ready string) (string, []string, error) {
	want, err := parsePairs(wantArgs)
	if err != nil {
		return "", nil, err
	}
	d := names.NewDNSLog()
	if follow > 0 {
		fctx, cancel := context.WithTimeout(ctx, follow)
		defer cancel()
		done := make(chan error, 1)
		go func() { done <- names.FollowDNSLog(fctx, file, d, names.FollowOptions{Poll: 50 * time.Millisecond}) }()
		if ready != "" {
			if err := os.WriteFile(ready, nil, 0o644); err != nil {
				return "", nil, err
			}
		}
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for len(missing(d, want)) > 0 && fctx.Err() == nil {
			select {
			case <-fctx.Done():
			case <-tick.C:
			}
		}
		cancel()
		if err := <-done; err != nil {
			return "", nil, err
		}
		return fmt.Sprintf("FollowDNSLog saw %d pairings, every wanted one", d.Len()), missing(d, want), nil
	}
	f, err := os.Open(file)
	if err != nil {
		return "", nil, fmt.Errorf("read dns log: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, 64<<20))
	if err != nil {
		return "", nil, fmt.Errorf("read dns log: %w", err)
	}
	now := time.Now()
	lines := 0
	for line := range strings.Lines(string(b)) {
		if d.Feed([]byte(strings.TrimRight(line, "\n")), now) {
			lines++
		}
	}
	return fmt.Sprintf("%d query and answer lines, %d pairings, every wanted one found", lines, d.Len()), missing(d, want), nil
}
