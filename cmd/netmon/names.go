package main

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"os"
	"sync"
	"time"

	"github.com/spf13/pflag"

	"github.com/netmon-dev/netmon/pkg/alert"
	"github.com/netmon-dev/netmon/pkg/config"
	"github.com/netmon-dev/netmon/pkg/device"
	"github.com/netmon-dev/netmon/pkg/flows"
	"github.com/netmon-dev/netmon/pkg/history"
	"github.com/netmon-dev/netmon/pkg/names"
	"github.com/netmon-dev/netmon/pkg/neigh"
	"github.com/netmon-dev/netmon/pkg/store"
)

// addNameFlags adds the flags of the name sources.
func addNameFlags(fs *pflag.FlagSet) {
	def := config.Default()
	fs.String("neighbours-file", "", "replay a neighbour table (ip neigh show, or /proc/net/arp) instead of the kernel's (env NETMON_NEIGHBOURS_FILE)")
	fs.StringSlice("leases", nil, "DHCP lease and host files to name devices from, comma separated (env NETMON_LEASES; default the usual paths that exist)")
	fs.String("dns-log", "", "dnsmasq query log (log-queries, log-facility=FILE) that names remote hosts (env NETMON_DNS_LOG)")
	fs.Bool("resolve-remote-names", def.ResolveRemoteNames, "ask reverse DNS for remote hosts the query log does not name")
}

// defaultOUIFile is Debian's ieee-data listing, read for vendors when it
// exists and oui_file is empty.
const defaultOUIFile = "/usr/share/ieee-data/oui.csv"

// namer names devices and remote hosts in the process that ingests: the
// device registry, fed by the neighbour table on its own goroutine and
// named by the configuration, the DHCP leases and reverse DNS of LAN
// addresses; the dnsmasq query log and reverse DNS for remote hosts. The
// ingest cycle only ever reads it (Resolve, Lookup: map lookups).
type namer struct {
	cfg  config.Config
	log  *slog.Logger
	reg  *device.Registry
	dns  *names.DNSLog
	rdns *names.Reverse // nil without reverse DNS

	nb     neigh.Reader
	watch  neigh.Watcher
	leases *names.Leases

	mu     sync.Mutex
	merges []device.Merge // waiting for the next commit
	// onMerge, when set, hears of every merge as it happens (the alert
	// engine: an ip: device that turns out to be a MAC's is not new).
	onMerge func(device.Merge)

	labeled map[netip.Addr]store.AddrLabel // what the live state's labels say
	// dsts are the remote names written since the last prune of the
	// live state's dst_labels, so a pair is written once, not at every
	// connection it opens; prunedAt is when that prune was.
	dsts     map[[2]netip.Addr]string
	prunedAt time.Time
	// base are the devices' lifetime totals as the record holds them, and
	// shown the totals the live state's device_totals show (base plus
	// what is pending): both read and written by the ingest goroutine only.
	base, shown map[string]history.Usage
}

// newNamer builds the name sources from cfg and warms them from the
// record: the devices and names it keeps, so an offline device keeps its
// name across a restart. Sources that cannot be opened are logged and
// left out: names are a help, never a reason not to count.
func newNamer(ctx context.Context, cfg config.Config, rec *store.Record, logger *slog.Logger) *namer {
	f, _ := cfg.Filter() // validated
	n := &namer{cfg: cfg, log: logger, dns: names.NewDNSLog(), labeled: map[netip.Addr]store.AddrLabel{}, dsts: map[[2]netip.Addr]string{},
		base: map[string]history.Usage{}, shown: map[string]history.Usage{}}
	n.dns.TTL = cfg.DNSNameTTL
	opts := device.Options{Local: f.Local}
	if v := vendors(cfg, logger); v != nil {
		opts.Vendor = v.Vendor
	}
	n.reg = device.NewRegistry(opts)
	var err error
	if n.nb, n.watch, err = neigh.Open(ctx, neigh.Config{File: cfg.NeighboursFile, Root: cfg.FSRoot}); err != nil {
		logger.Warn("no neighbour table: devices are known by address only", "err", err)
	}
	n.leases = names.NewLeases(cfg.FSRoot, cfg.Leases)
	n.rdns = names.NewReverse(names.SystemResolver{}, names.ReverseOptions{})
	var cfgNames []device.Name
	for key, name := range cfg.Devices {
		if nm, err := device.ConfigName(key, name); err == nil {
			cfgNames = append(cfgNames, nm)
		}
	}
	n.reg.SetNames(device.SourceConfig, cfgNames)
	if rec != nil {
		if ds, err := rec.Devices(ctx); err != nil {
			logger.Warn("read the devices of the record", "err", err)
		} else {
			n.merge(n.reg.Restore(ds))
		}
		n.reloadTotals(ctx, rec)
		if rn, err := rec.RemoteNames(ctx, time.Now().Add(-24*time.Hour), 10000); err == nil {
			var ps []names.PTR
			for a, nm := range rn {
				if nm.Source == "ptr" {
					ps = append(ps, names.PTR{Addr: a, Name: nm.Name, LearnedAt: nm.LearnedAt, Expires: nm.LearnedAt.Add(24 * time.Hour)})
				}
			}
			n.rdns.Restore(ps)
		}
	}
	return n
}

// vendors loads the OUI listing: oui_file, or Debian's when it exists.
func vendors(cfg config.Config, logger *slog.Logger) *names.Vendors {
	path := cfg.OUIFile
	if path == "" {
		if _, err := os.Stat(defaultOUIFile); err != nil {
			return nil
		}
		path = defaultOUIFile
	}
	v, err := names.LoadVendors(path)
	if err != nil {
		logger.Warn("no vendor names", "oui_file", path, "err", err)
		return nil
	}
	return v
}

// once reads every source a first time, before the first cycle, so that
// cycle already knows the devices by MAC (a device first met by address
// only would be merged later) and the names: the neighbour table, the
// leases, and the query log as it stands.
func (n *namer) once(ctx context.Context) {
	if n.nb != nil {
		if ns, err := n.nb.Read(ctx); err != nil {
			n.log.Warn("read the neighbour table", "err", err)
		} else {
			n.merge(n.reg.Observe(ns, time.Now()))
		}
	}
	n.refreshNames(time.Now())
	if n.cfg.DNSLog != "" {
		if b, err := os.ReadFile(n.cfg.DNSLog); err != nil {
			n.log.Warn("read the dns query log", "path", n.cfg.DNSLog, "err", err)
		} else {
			now := time.Now()
			for line := range bytes.Lines(b) {
				n.dns.Feed(line, now)
			}
		}
	}
}

// run keeps the sources fresh until ctx is done: the neighbour table (its
// own ticker and the kernel's updates), the leases every 30 s, the query
// log as it grows, reverse DNS workers.
func (n *namer) run(ctx context.Context) {
	var wg sync.WaitGroup
	goRun := func(what string, f func() error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f(); err != nil && !errors.Is(err, context.Canceled) {
				n.log.Warn(what+" stopped", "err", err)
			}
		}()
	}
	if n.nb != nil {
		r := &neigh.Refresher{Reader: n.nb, Watcher: n.watch, Logger: n.log,
			Observe: func(ns []device.Neighbour, now time.Time) { n.merge(n.reg.Observe(ns, now)) }}
		goRun("neighbour table", func() error { return r.Run(ctx) })
	}
	if n.cfg.DNSLog != "" {
		goRun("dns query log", func() error {
			return names.FollowDNSLog(ctx, n.cfg.DNSLog, n.dns, names.FollowOptions{Logger: n.log})
		})
	}
	goRun("reverse dns", func() error { return n.rdns.Run(ctx) })
	goRun("leases", func() error {
		t := time.NewTicker(30 * time.Second)
		defer t.Stop()
		for {
			n.refreshNames(time.Now())
			select {
			case <-ctx.Done():
				return nil
			case <-t.C:
			}
		}
	})
	wg.Wait()
}

// refreshNames re-reads the lease files that changed and names LAN
// addresses by reverse DNS (dnsmasq answers for its leases).
func (n *namer) refreshNames(now time.Time) {
	u := n.leases.Refresh(now)
	for _, f := range u.Files {
		if f.Err != nil {
			n.log.Warn("lease file", "path", f.Path, "err", f.Err)
		}
	}
	u.Apply(n.reg.SetNames)
	var addrs []netip.Addr
	for _, d := range n.reg.Snapshot() {
		addrs = append(addrs, d.Addrs...)
	}
	for _, a := range addrs {
		n.rdns.Want(a)
	}
	n.reg.SetNames(device.SourcePTR, n.rdns.DeviceNames(addrs))
}

// merge queues merges for the next commit.
func (n *namer) merge(ms []device.Merge) {
	if len(ms) == 0 {
		return
	}
	n.mu.Lock()
	n.merges = append(n.merges, ms...)
	hook := n.onMerge
	n.mu.Unlock()
	if hook != nil {
		for _, m := range ms {
			hook(m)
		}
	}
}

// hearMerges sets onMerge.
func (n *namer) hearMerges(f func(device.Merge)) {
	n.mu.Lock()
	n.onMerge = f
	n.mu.Unlock()
}

// describe is what the registry knows of device id at LAN address a,
// for the alerts: its MAC, name (shown escaped and shortened, as
// everywhere), vendor and whether its MAC is randomised.
func (n *namer) describe(id string, a netip.Addr) alert.Device {
	d := alert.Device{ID: id, Addr: a}
	dev, ok := n.reg.Device(device.ID(id))
	if !ok {
		return d
	}
	if !dev.MAC.IsZero() {
		d.MAC = dev.MAC.String()
	}
	d.Name, d.Vendor, d.Randomized = device.DisplayName(dev.Name), dev.Vendor, dev.Randomized
	return d
}

// takeMerges returns the queued merges and forgets them; putBack returns
// them after a failed commit.
func (n *namer) takeMerges() []device.Merge {
	n.mu.Lock()
	defer n.mu.Unlock()
	ms := n.merges
	n.merges = nil
	return ms
}

func (n *namer) putBack(ms []device.Merge) {
	n.mu.Lock()
	n.merges = append(ms, n.merges...)
	n.mu.Unlock()
}

// device is the device id of a LAN address, for the history.
func (n *namer) device(a netip.Addr) string { return string(n.reg.Resolve(a, time.Now())) }

// remoteName is what names remote address a for client: the name the
// client looked up, else any client's, else reverse DNS (when on).
func (n *namer) remoteName(client, a netip.Addr, now time.Time) (name, source string) {
	if client.IsValid() {
		if s, ok := n.dns.Lookup(client, a, now); ok {
			return s, "dns"
		}
	}
	if s, ok := n.dns.LookupAddr(a, now); ok {
		return s, "dns"
	}
	if n.cfg.ResolveRemoteNames {
		if s, ok := n.rdns.Lookup(a); ok && s != "" {
			return s, "ptr"
		}
	}
	return "", ""
}

// reloadTotals reads the devices' lifetime totals from the record, after
// a commit moved the pending growth there.
func (n *namer) reloadTotals(ctx context.Context, rec *store.Record) {
	ts, err := rec.DeviceTotalsForever(ctx)
	if err != nil {
		n.log.Warn("read the devices' totals", "err", err)
		return
	}
	clear(n.base)
	for _, t := range ts {
		n.base[t.Device] = t.Usage
	}
}

// labels returns what of the live state's labels a cycle changed: the
// addresses whose device or name changed since the last call, the names
// of the remote hosts of the connections it opened, and the running
// totals of the devices whose totals moved (pending is the history not yet
// committed). New remote hosts are queued for reverse DNS.
func (n *namer) labels(now time.Time, d *flows.Delta, pending *history.Batch) store.Labels {
	var l store.Labels
	devices := map[string]bool{}
	for id := range n.base {
		devices[id] = true
	}
	if pending != nil {
		for id := range pending.Totals {
			devices[id] = true
		}
	}
	for id := range devices {
		t := n.base[id]
		if pending != nil {
			t.Add(pending.Totals[id])
		}
		if old, ok := n.shown[id]; !ok || old != t {
			n.shown[id] = t
			name, _ := n.reg.Name(device.ID(id))
			l.Totals = append(l.Totals, history.Total{Device: id, Name: device.DisplayName(name), Usage: t})
		}
	}
	seen := map[netip.Addr]bool{}
	for _, dev := range n.reg.Snapshot() {
		name := device.DisplayName(dev.Name)
		for _, a := range dev.Addrs {
			seen[a] = true
			lab := store.AddrLabel{Addr: a, Device: string(dev.ID), Name: name}
			if n.labeled[a] != lab {
				n.labeled[a] = lab
				l.Addrs = append(l.Addrs, lab)
			}
		}
	}
	for a := range n.labeled {
		if !seen[a] {
			delete(n.labeled, a)
			l.Gone = append(l.Gone, a)
		}
	}
	for c := range d.Each(flows.Opened) {
		if n.cfg.ResolveRemoteNames {
			n.rdns.Want(c.Key.Dst)
		}
		if name, _ := n.remoteName(c.Key.Src, c.Key.Dst, now); name != "" {
			name = device.DisplayName(name)
			pair := [2]netip.Addr{c.Key.Src, c.Key.Dst}
			if n.dsts[pair] != name {
				n.dsts[pair] = name
				l.Dsts = append(l.Dsts, store.DstLabel{Client: c.Key.Src, Addr: c.Key.Dst, Name: name})
			}
		}
	}
	// Names of pairs no open connection has any more go every few
	// minutes (sooner if many were written); the pairs written are then
	// forgotten, so a pair that opens again is written again.
	if now.Sub(n.prunedAt) >= dstPruneEvery || len(n.dsts) >= dstPruneAt {
		l.PruneDsts = true
		n.prunedAt = now
		clear(n.dsts)
	}
	return l
}

// The live state's remote names are pruned every dstPruneEvery, or once
// dstPruneAt pairs were written since the last prune.
const (
	dstPruneEvery = 5 * time.Minute
	dstPruneAt    = 50_000
)

// commitInfo is what a commit records beside batch b (nil: none): the
// registry's devices, the queued merges, and the names of the remote
// hosts in the batch.
func (n *namer) commitInfo(now time.Time, b *history.Batch) store.CommitInfo {
	info := store.CommitInfo{Devices: n.reg.Snapshot(), Merges: n.takeMerges(), RemoteNames: map[netip.Addr]store.RemoteName{}}
	if b == nil {
		return info
	}
	for k := range b.Remotes {
		if _, done := info.RemoteNames[k.Remote]; done {
			continue
		}
		if name, src := n.remoteName(netip.Addr{}, k.Remote, now); name != "" {
			info.RemoteNames[k.Remote] = store.RemoteName{Name: name, Source: src, LearnedAt: now}
		}
	}
	return info
}

// ptrWait bounds how long a command that prints once (print-outbound)
// waits for reverse DNS of the rows it shows.
const ptrWait = time.Second

// prepare names the ends of the flows a command is about to print:
// reverse DNS of the remote ends the query log does not name and of the
// LAN ends, waited for up to ptrWait (an offline resolver fails at once,
// or at the deadline).
func (n *namer) prepare(ctx context.Context, ends [][2]netip.Addr) {
	if !n.cfg.ResolveRemoteNames {
		return
	}
	now := time.Now()
	for _, e := range ends {
		if _, ok := n.dns.Lookup(e[0], e[1], now); !ok {
			n.rdns.Want(e[1])
		}
	}
	n.refreshNames(now) // asks for the LAN ends' PTR names
	if n.rdns.Pending() == 0 {
		return
	}
	wctx, cancel := context.WithTimeout(ctx, ptrWait)
	defer cancel()
	done := make(chan struct{})
	go func() { n.rdns.Run(wctx); close(done) }()
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for n.rdns.Pending() > 0 && wctx.Err() == nil {
		select {
		case <-wctx.Done():
		case <-t.C:
		}
	}
	cancel()
	<-done
	n.refreshNames(time.Now()) // the LAN ends' answers name devices
}

// flow is the device of LAN address src and the names of it and of
// remote address dst, shown escaped and shortened.
func (n *namer) flow(src, dst netip.Addr) (dev, devName, dstName string) {
	now := time.Now()
	id := n.reg.Resolve(src, now)
	name, _ := n.reg.Name(id)
	remote, _ := n.remoteName(src, dst, now)
	return string(id), device.DisplayName(name), device.DisplayName(remote)
}
